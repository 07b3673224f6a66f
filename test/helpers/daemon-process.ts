import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = join(REPO, 'bin/gance.js');

export interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

/** A spawned daemon whose JSON log lines are parsed as they come. */
export class DaemonProcess {
  readonly lines: LogLine[] = [];
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private waiters: Array<() => void> = [];

  constructor(readonly child: ChildProcessWithoutNullStreams) {
    let buf = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          this.lines.push(JSON.parse(line) as LogLine);
        } catch {
          this.lines.push({ level: 0, msg: line });
        }
      }
      for (const w of this.waiters) w();
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => (this.stderr += c));
    this.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  }

  /** resolves with the first log line matching, or rejects after timeoutMs (generous: a loaded machine starts slowly) */
  waitFor(pred: (l: LogLine) => boolean, timeoutMs = 90_000): Promise<LogLine> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const hit = this.lines.find(pred);
        if (hit) {
          clearTimeout(timer);
          this.waiters = this.waiters.filter((w) => w !== check);
          resolve(hit);
        }
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`log line not seen within ${timeoutMs} ms; got:\n${this.lines.map((l) => l.msg).join('\n')}\nstderr: ${this.stderr}`));
      }, timeoutMs);
      this.waiters.push(check);
      check();
    });
  }

  async address(): Promise<string> {
    const l = await this.waitFor((l) => typeof l.address === 'string');
    return l.address as string;
  }
}

export function writeTempConfig(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'gance-test-'));
  const path = join(dir, 'config.yaml');
  writeFileSync(path, yaml);
  return path;
}

/** the embedded default with port 0 and a temporary state dir */
export function testConfigYaml(extra = ''): string {
  const dir = mkdtempSync(join(tmpdir(), 'gance-state-'));
  return `server: { host: 127.0.0.1, port: 0 }\nstateDir: ${dir}\ncooler:\n  driver: simulated\n  fans: [{ id: f0, channel: 0 }, { id: f1, channel: 1 }]\nthermal:\n  sensors: { source: simulated }\n  zones: [{ id: z0, gpus: [0], fans: [f0, f1], mode: pid, pid: { setpoint: 75 } }]\n${extra}`;
}

/** detached: the daemon leads its own process group, as a shell's foreground job does, so a test can signal the whole group */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}, opts: { detached?: boolean } = {}): DaemonProcess {
  return new DaemonProcess(spawn(process.execPath, [CLI, ...args], { cwd: REPO, env: { ...process.env, ...env }, detached: opts.detached ?? false }));
}

export function spawnScript(script: string, args: string[], env: NodeJS.ProcessEnv = {}, opts: { detached?: boolean } = {}): DaemonProcess {
  return new DaemonProcess(spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: REPO, env: { ...process.env, ...env }, detached: opts.detached ?? false }));
}
