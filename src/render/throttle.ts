/**
 * Per-GPU pause and rate limit for renders, in two layers: the operator's (`pause(gpu)`,
 * `resume(gpu)`, `setRate(gpu, fps)`, `setOperator`; PATCH /v1/renders/gpus/{gpu}) and thermal
 * yielding's over it (`setYield`). A GPU is paused while either layer pauses it and runs at the
 * lower of the two rates; yielding lifted leaves the operator's settings as they are now, changes
 * made meanwhile included. A render's runner awaits its hook before each batch; the hook holds
 * while any of the render's GPUs is paused and spaces batches so the render stays under the lowest
 * rate on them. Live sessions are not held by it.
 */
import { EventEmitter } from 'node:events';
import { RenderFailure } from './types.ts';

/**
 * What renders run on: a GPU index, or `cpu` for the synthesis workers without a `gpu` (CPU
 * inference, the embedded default's only worker). Pausing renders frees the machine for something
 * else (a live show) whether they run on a GPU or the CPU; thermal yielding is per GPU alone.
 */
export type RenderDevice = number | 'cpu';
export const CPU: RenderDevice = 'cpu';

export function checkDevice(d: RenderDevice): void {
  if (d !== CPU && (typeof d !== 'number' || !Number.isInteger(d) || d < 0)) throw new RangeError(`gpu must be a GPU index (integer >= 0) or "cpu", got ${d}`);
}

/** GPUs in order, the CPU last */
export const byDevice = (a: RenderDevice, b: RenderDevice): number => (a === b ? 0 : a === CPU ? 1 : b === CPU ? -1 : a - b);

/** one layer's say over a GPU */
export interface ThrottleLayer {
  paused: boolean;
  /** frames per second; null: no limit from this layer */
  fps: number | null;
}

export interface GpuThrottleState {
  gpu: RenderDevice;
  /** paused by the operator or by yielding */
  paused: boolean;
  /** frames per second the renders on this GPU are held to, the lower of the two layers'; null: no limit */
  fps: number | null;
  /** whose rate `fps` is (the operator's when both are equal); null: no limit */
  fpsFrom: 'operator' | 'yield' | null;
  /** why the GPU is paused, else why it is held to `fps` */
  reason: string | null;
  operator: ThrottleLayer;
  /** thermal yielding's layer; null while it does not yield on this GPU */
  yield: ThrottleLayer | null;
}

interface Layer extends ThrottleLayer {
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

/** the highest rate limit taken (fps); past it a limit would not hold anything back */
export const MAX_FPS = 10_000;

interface GpuEntry {
  operator: Layer;
  yield: Layer | null;
}

function checkFps(fps: number | null): void {
  if (fps !== null && (!Number.isFinite(fps) || fps <= 0 || fps > MAX_FPS)) throw new RangeError(`fps must be in (0, ${MAX_FPS}] or null, got ${fps}`);
}

export class GpuThrottle {
  private readonly gpus = new Map<RenderDevice, GpuEntry>();
  private readonly changed = new EventEmitter<{ change: []; hold: [hold: { gpus: RenderDevice[]; reason: string }] }>();
  private readonly clock: ThrottleClock;

  constructor(clock: ThrottleClock = realClock) {
    this.clock = clock;
    this.changed.setMaxListeners(0);
  }

  private entry(gpu: RenderDevice): GpuEntry {
    checkDevice(gpu);
    let e = this.gpus.get(gpu);
    if (!e) this.gpus.set(gpu, (e = { operator: { paused: false, fps: null, reason: null }, yield: null }));
    return e;
  }

  /** The operator's pause (yielding's is `setYield`). */
  pause(gpu: RenderDevice, reason = 'paused'): void {
    const o = this.entry(gpu).operator;
    o.paused = true;
    o.reason = reason;
    this.changed.emit('change');
  }

  /** Lifts the operator's pause; one yielding holds stays until yielding lifts it. */
  resume(gpu: RenderDevice): void {
    const o = this.entry(gpu).operator;
    o.paused = false;
    if (o.fps === null) o.reason = null;
    this.changed.emit('change');
  }

  /** The operator's rate; null lifts it. While yielding holds the GPU lower, it applies once yielding lets go. */
  setRate(gpu: RenderDevice, fps: number | null, reason = 'rate limit'): void {
    checkFps(fps);
    const o = this.entry(gpu).operator;
    o.fps = fps;
    if (fps !== null) o.reason = reason;
    else if (!o.paused) o.reason = null;
    this.changed.emit('change');
  }

  /**
   * The operator's pause and rate in one change (the API's PATCH): a held render wakes once and
   * never sees half of it, and a bad fps changes nothing. Absent keys keep their value. Like
   * `pause` and `setRate`, it sets the operator's layer only: while yielding holds the GPU, the
   * change applies once yielding lets go. The reason is the change's; without one it says what the
   * operator's layer now does.
   */
  setOperator(gpu: RenderDevice, change: { paused?: boolean; fps?: number | null }, reason?: string): GpuThrottleState {
    if (change.fps !== undefined) checkFps(change.fps);
    const o = this.entry(gpu).operator;
    if (change.paused !== undefined) o.paused = change.paused;
    if (change.fps !== undefined) o.fps = change.fps;
    o.reason = !o.paused && o.fps === null ? null : (reason ?? (o.paused ? 'paused by the operator' : `held to ${o.fps} fps by the operator`));
    this.changed.emit('change');
    return this.effective(gpu);
  }

  /** The operator's layer on a GPU, with its reason (what is saved across restarts). */
  operator(gpu: RenderDevice): { paused: boolean; fps: number | null; reason: string | null } {
    const o = this.gpus.get(gpu)?.operator;
    return o ? { paused: o.paused, fps: o.fps, reason: o.reason } : { paused: false, fps: null, reason: null };
  }

  /** What applies on one GPU now (a GPU nobody has set: no pause, no limit). */
  gpu(gpu: RenderDevice): GpuThrottleState {
    checkDevice(gpu);
    return this.effective(gpu);
  }

  /**
   * Thermal yielding's layer on a GPU, over the operator's: it pauses, or holds the rate to the
   * lower of its `fps` and the operator's. null lifts it, and the operator's settings are what is left.
   */
  setYield(gpu: number, layer: ThrottleLayer | null, reason = 'thermal yield'): void {
    if (layer) checkFps(layer.fps);
    this.entry(gpu).yield = layer ? { paused: layer.paused, fps: layer.fps, reason } : null;
    this.changed.emit('change');
  }

  state(): GpuThrottleState[] {
    return [...this.gpus.keys()].sort(byDevice).map((gpu) => this.effective(gpu));
  }

  /** what applies on a GPU: either layer's pause, the lower rate, and whose it is */
  private effective(gpu: RenderDevice): GpuThrottleState {
    const { operator: o, yield: y } = this.gpus.get(gpu) ?? { operator: { paused: false, fps: null, reason: null }, yield: null };
    const paused = o.paused || (y?.paused ?? false);
    const fpsFrom = y?.fps != null && (o.fps === null || y.fps < o.fps) ? 'yield' : o.fps !== null ? 'operator' : null;
    const fps = fpsFrom === 'yield' ? y!.fps : o.fps;
    const pausedBy = [o.paused ? o.reason : null, y?.paused ? y.reason : null].filter((r) => r !== null);
    const reason = paused ? pausedBy.join('; ') : fpsFrom === 'yield' ? y!.reason : fpsFrom === 'operator' ? o.reason : null;
    return { gpu, paused, fps, fpsFrom, reason, operator: { paused: o.paused, fps: o.fps }, yield: y ? { paused: y.paused, fps: y.fps } : null };
  }

  private paused(gpus: readonly RenderDevice[]): boolean {
    return gpus.some((g) => this.effective(g).paused);
  }

  private reasons(gpus: readonly RenderDevice[]): string {
    return gpus.flatMap((g) => {
      const e = this.effective(g);
      return e.paused ? [`${g === CPU ? 'cpu' : `gpu ${g}`}: ${e.reason}`] : [];
    }).join(', ');
  }

  /** A render is held by a pause (its log line; tests wait for it). */
  onHold(listener: (hold: { gpus: RenderDevice[]; reason: string }) => void): () => void {
    this.changed.on('hold', listener);
    return () => this.changed.off('hold', listener);
  }

  private rate(gpus: readonly RenderDevice[]): number | null {
    let r: number | null = null;
    for (const g of gpus) {
      const fps = this.effective(g).fps;
      if (fps !== null) r = r === null ? fps : Math.min(r, fps);
    }
    return r;
  }

  /**
   * The `throttle` hook of one render on `gpus` (its GPUs, and `cpu` when CPU workers make its frames too): resolves when the next batch may go. `framesDone`
   * reads the render's progress, so the spacing follows the frames actually made.
   */
  hook(gpus: readonly RenderDevice[], framesDone: () => number, signal?: AbortSignal): () => Promise<void> {
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
