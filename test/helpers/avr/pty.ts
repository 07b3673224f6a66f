/**
 * A pty pair from socat: one end for the host driver (a symlink, like /dev/serial/by-id/...),
 * one for the simulated device. Killing socat makes the host's path disappear, as unplugging a
 * USB-serial adapter does; starting a new pair with the same names brings it back.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export class PtyPair {
  private constructor(
    readonly hostPath: string,
    readonly devicePath: string,
    private readonly proc: ChildProcess,
    private readonly exited: Promise<void>,
  ) {}

  /** Starts socat with links `<dir>/<name>` (host end) and `<dir>/<name>.device`. */
  static async open(dir: string, name = 'cooler', timeoutMs = 5000): Promise<PtyPair> {
    const hostPath = join(dir, name);
    const devicePath = join(dir, `${name}.device`);
    const proc = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${hostPath}`, `pty,raw,echo=0,link=${devicePath}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    let log = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`socat: no pty pair within ${timeoutMs} ms: ${log}`)), timeoutMs);
      const fail = (e: Error): void => {
        clearTimeout(timer);
        proc.kill('SIGKILL');
        reject(e);
      };
      const onError = (e: Error): void => fail(new Error(`socat: ${e.message} (is socat installed?)`));
      const onEarlyExit = (code: number | null): void => fail(new Error(`socat exited (${code}) before the pty pair was up: ${log}`));
      proc.once('error', onError);
      proc.once('exit', onEarlyExit);
      proc.stderr!.on('data', (d: Buffer) => {
        log += d.toString();
        if (log.includes('starting data transfer loop') && existsSync(hostPath) && existsSync(devicePath)) {
          clearTimeout(timer);
          proc.off('exit', onEarlyExit);
          proc.off('error', onError);
          proc.on('error', () => {});
          resolve();
        }
      });
    });
    proc.stderr!.resume();
    return new PtyPair(hostPath, devicePath, proc, exited);
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Ends the pair: both paths disappear. */
  async close(): Promise<void> {
    if (this.alive) this.proc.kill('SIGTERM');
    await this.exited;
  }
}
