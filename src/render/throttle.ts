/**
 * Per-GPU pause and rate limit for renders, for whoever knows a GPU should do less (thermal, an
 * operator): `pause(gpu)`, `resume(gpu)`, `setRate(gpu, fps)`. A render's runner awaits its hook
 * before each batch; the hook holds while any of the render's GPUs is paused and spaces batches so
 * the render stays under the lowest rate set on them. Live sessions are not held by it.
 */
import { EventEmitter } from 'node:events';
import { RenderFailure } from './types.ts';

export interface GpuThrottleState {
  gpu: number;
  paused: boolean;
  /** frames per second the renders on this GPU are held to; null: no limit */
  fps: number | null;
  reason: string | null;
}

export interface ThrottleClock {
  now(): number;
  /** resolves after ms, or rejects when the signal aborts */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

const realClock: ThrottleClock = {
  now: () => performance.now(),
  sleep: (ms, signal) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(timer);
        reject(new RenderFailure('cancelled', 'render stopped while throttled'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};

const MAX_FPS = 10_000;

export class GpuThrottle {
  private readonly gpus = new Map<number, GpuThrottleState>();
  private readonly changed = new EventEmitter<{ change: []; hold: [hold: { gpus: number[]; reason: string }] }>();
  private readonly clock: ThrottleClock;

  constructor(clock: ThrottleClock = realClock) {
    this.clock = clock;
    this.changed.setMaxListeners(0);
  }

  private entry(gpu: number): GpuThrottleState {
    if (!Number.isInteger(gpu) || gpu < 0) throw new RangeError(`gpu must be a GPU index (integer >= 0), got ${gpu}`);
    let e = this.gpus.get(gpu);
    if (!e) this.gpus.set(gpu, (e = { gpu, paused: false, fps: null, reason: null }));
    return e;
  }

  pause(gpu: number, reason = 'paused'): void {
    const e = this.entry(gpu);
    e.paused = true;
    e.reason = reason;
    this.changed.emit('change');
  }

  resume(gpu: number): void {
    const e = this.entry(gpu);
    e.paused = false;
    e.reason = e.fps === null ? null : e.reason;
    this.changed.emit('change');
  }

  /** null lifts the limit */
  setRate(gpu: number, fps: number | null, reason = 'rate limit'): void {
    if (fps !== null && (!Number.isFinite(fps) || fps <= 0 || fps > MAX_FPS)) throw new RangeError(`fps must be in (0, ${MAX_FPS}] or null, got ${fps}`);
    const e = this.entry(gpu);
    e.fps = fps;
    if (fps !== null) e.reason = reason;
    this.changed.emit('change');
  }

  state(): GpuThrottleState[] {
    return [...this.gpus.values()].map((e) => ({ ...e })).sort((a, b) => a.gpu - b.gpu);
  }

  private paused(gpus: readonly number[]): boolean {
    return gpus.some((g) => this.gpus.get(g)?.paused);
  }

  private reasons(gpus: readonly number[]): string {
    return gpus.flatMap((g) => (this.gpus.get(g)?.paused ? [`gpu ${g}: ${this.gpus.get(g)!.reason}`] : [])).join(', ');
  }

  /** A render is held by a pause (its log line; tests wait for it). */
  onHold(listener: (hold: { gpus: number[]; reason: string }) => void): () => void {
    this.changed.on('hold', listener);
    return () => this.changed.off('hold', listener);
  }

  private rate(gpus: readonly number[]): number | null {
    let r: number | null = null;
    for (const g of gpus) {
      const fps = this.gpus.get(g)?.fps ?? null;
      if (fps !== null) r = r === null ? fps : Math.min(r, fps);
    }
    return r;
  }

  /**
   * The `throttle` hook of one render on `gpus`: resolves when the next batch may go. `framesDone`
   * reads the render's progress, so the spacing follows the frames actually made.
   */
  hook(gpus: readonly number[], framesDone: () => number, signal?: AbortSignal): () => Promise<void> {
    // the rate window restarts whenever the limit changes, so a new limit is not paid for by old frames
    let window: { rate: number; t0: number; f0: number } | null = null;
    return async () => {
      for (;;) {
        if (signal?.aborted) throw new RenderFailure('cancelled', 'render stopped');
        if (this.paused(gpus)) {
          this.changed.emit('hold', { gpus: [...gpus], reason: this.reasons(gpus) });
          await this.wake(null, signal);
          // the rate counts from the resume: the paused time is not made up in a burst
          window = null;
          continue;
        }
        const rate = this.rate(gpus);
        if (rate === null) {
          window = null;
          return;
        }
        const now = this.clock.now();
        if (!window || window.rate !== rate) window = { rate, t0: now, f0: framesDone() };
        const due = window.t0 + ((framesDone() - window.f0) / rate) * 1000;
        if (due <= now) return;
        await this.wake(due - now, signal);
      }
    };
  }

  /** Until the pause/rate settings change, or `ms` pass (null: no time limit); rejects on abort. */
  private wake(ms: number | null, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const local = new AbortController();
      const finish = (err?: unknown) => {
        this.changed.off('change', onChange);
        signal?.removeEventListener('abort', onAbort);
        local.abort();
        if (err) reject(err);
        else resolve();
      };
      const onChange = () => finish();
      const onAbort = () => finish(new RenderFailure('cancelled', 'render stopped while throttled'));
      this.changed.on('change', onChange);
      signal?.addEventListener('abort', onAbort, { once: true });
      // the local signal ends the timer when the change comes first; its rejection is then ours to drop
      if (ms !== null) this.clock.sleep(ms, local.signal).then(() => finish(), () => {});
    });
  }

  /** listeners waiting for a change (a finished render leaves none) */
  waiting(): number {
    return this.changed.listenerCount('change');
  }
}
