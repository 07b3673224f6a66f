/**
 * systeminformation as the second source: GPU discovery (names, driver, PCI bus) at start, and
 * readings while the nvidia-smi stream is down. Its graphics() runs nvidia-smi synchronously and
 * lspci besides, so it runs in a child process with a timeout, never in the daemon's thread, and
 * only at start or every few seconds while nvidia-smi is down. Fallback readings are shown in the
 * API and metrics (and still trip the critical alarm); the fans stay at full until nvidia-smi is
 * back, because a poll every few seconds is no basis for closed-loop control.
 */
import { execFile } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { saneReading } from './parse.ts';
import type { GpuInfo, GpuSample } from './types.ts';
import type { NvidiaSmiSource } from './nvidia-smi.ts';

const SCRIPT = fileURLToPath(new URL('./si-query.mjs', import.meta.url));

export interface SiGpu {
  name: string;
  model: string;
  driverVersion: string;
  pciBus: string;
  temperatureC: number | null;
  powerW: number | null;
  utilization: number | null;
  memoryTotalMiB: number | null;
}

/** NVIDIA GPUs as systeminformation sees them, in PCI bus order (nvidia-smi's index order). */
export function querySystemInformation(opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<SiGpu[]> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [SCRIPT], { env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 15_000, killSignal: 'SIGKILL', maxBuffer: 1 << 20 }, (err, stdout) => {
      if (err) {
        reject(new Error(err.killed ? `systeminformation query did not finish within ${opts.timeoutMs ?? 15_000} ms` : `systeminformation query failed: ${err.message.split('\n')[0]}`));
        return;
      }
      try {
        const raw = JSON.parse(stdout) as unknown;
        if (!Array.isArray(raw)) throw new Error(`expected a list of GPUs, got ${typeof raw}`);
        resolve(raw.map(saneSiGpu).sort((a, b) => a.pciBus.toLowerCase().localeCompare(b.pciBus.toLowerCase())));
      } catch (e) {
        reject(new Error(`systeminformation query printed no JSON: ${(e as Error).message}`));
      }
    });
  });
}

const text = (v: unknown, max = 200) => (typeof v === 'string' ? v.slice(0, max) : '');

/**
 * One GPU from the query process, held to what nvidia-smi lines are held to: strings bounded,
 * numbers finite and in their column's range, anything else no reading.
 */
export function saneSiGpu(g: unknown): SiGpu {
  const o = (g && typeof g === 'object' ? g : {}) as Record<string, unknown>;
  const util = saneReading('utilization.gpu', typeof o.utilization === 'number' ? o.utilization * 100 : null);
  const mem = o.memoryTotalMiB;
  return {
    name: text(o.name),
    model: text(o.model),
    driverVersion: text(o.driverVersion, 64),
    pciBus: text(o.pciBus, 64),
    temperatureC: saneReading('temperature.gpu', o.temperatureC),
    powerW: saneReading('power.draw', o.powerW),
    utilization: util === null ? null : util / 100,
    memoryTotalMiB: typeof mem === 'number' && Number.isFinite(mem) && mem >= 0 ? mem : null,
  };
}

/** Index = position in PCI bus order, the order nvidia-smi numbers GPUs in. */
export function toGpuInfo(gpus: SiGpu[], uuidOf: (index: number) => string = () => ''): GpuInfo[] {
  return gpus.map((g, index) => ({ index, uuid: uuidOf(index), name: g.name || g.model, driverVersion: g.driverVersion, pciBus: g.pciBus }));
}

export interface FallbackOptions {
  source: NvidiaSmiSource;
  log: Logger;
  /** poll interval while nvidia-smi is down */
  intervalMs: number;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** Polls systeminformation while the nvidia-smi source is down and hands its readings to the source. */
export class SystemInformationFallback {
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private active = false;
  private closed = false;
  /** queries started (tests, diagnostics) */
  polls = 0;
  lastError: string | null = null;

  constructor(private readonly opts: FallbackOptions) {
    const up = (running: boolean) => (running ? this.pause() : this.resume());
    opts.source.on('running', up);
    opts.source.on('restart', () => this.resume());
    opts.source.on('stopped', () => this.pause());
  }

  private resume(): void {
    if (this.active || this.closed) return;
    this.active = true;
    this.opts.log.info({ intervalMs: this.opts.intervalMs }, 'nvidia-smi is down: reading GPUs through systeminformation meanwhile (fans stay at full)');
    this.poll();
    this.timer = setInterval(() => this.poll(), this.opts.intervalMs);
    this.timer.unref();
  }

  private pause(): void {
    if (!this.active) return;
    this.active = false;
    clearInterval(this.timer);
  }

  close(): void {
    this.closed = true;
    this.pause();
  }

  private poll(): void {
    if (this.busy) return;
    this.busy = true;
    this.polls += 1;
    querySystemInformation({ env: this.opts.env, timeoutMs: this.opts.timeoutMs }).then(
      (gpus) => {
        this.busy = false;
        this.lastError = null;
        if (!this.active) return;
        const now = performance.now();
        gpus.forEach((g, index) => {
          const sample: GpuSample = {
            index,
            uuid: this.opts.source.latest().get(index)?.uuid ?? '',
            temperatureC: g.temperatureC,
            powerW: g.powerW,
            utilization: g.utilization,
            throttleMask: null,
            throttleReasons: [],
            receivedAt: now,
            source: 'systeminformation',
          };
          this.opts.source.acceptFallback(sample);
        });
      },
      (err: Error) => {
        this.busy = false;
        if (this.lastError !== err.message) this.opts.log.warn({ err: err.message }, 'systeminformation fallback failed');
        this.lastError = err.message;
      },
    );
  }
}
