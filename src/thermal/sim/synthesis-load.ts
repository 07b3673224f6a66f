/**
 * Simulated GPUs that heat as the real synthesis works (simulation.profile "synthesis"): each
 * frame a synthesis worker makes (gance_synthesis_frames_total, per synthesis.workers[].gpu) is
 * work its GPU draws power for. A GPU at full power makes frames at the highest rate the workers
 * have shown (their smoothed rate), so a frame is worth 1 / that rate seconds at full power; the
 * GPU works the frames counted at a poll off over the time to the next one, at up to full power,
 * as a real GPU works off its queue (at most one poll's worth is carried on). The power so follows
 * the work actually done, on the plant's clock: a render slowed by a shared CPU draws less power
 * rather than full power for longer, and one that pauses stops heating within a poll or two, not
 * after a low-pass. A render on the CPU that runs, slows or pauses then heats, cools or idles the
 * simulated GPU the way it would a real one, which is what yielding is tried against.
 */
import type { Counter, Registry } from 'prom-client';

const FRAMES_METRIC = 'gance_synthesis_frames_total';

export interface SynthesisLoadOptions {
  registry: Registry;
  /** worker id -> GPU index */
  workerGpu: ReadonlyMap<string, number>;
  pollMs?: number;
  /** time constant of the low-pass on the rate whose highest value is the full-power rate, s (default 2: a CPU render's rate jumps) */
  smoothSeconds?: number;
}

interface GpuWork {
  /** smoothed frames/s, and its highest value: the rate at full power */
  fps: number;
  fullFps: number;
  /** frames counted and not yet worked off */
  queued: number;
  /** frames/s the queue is worked off at until the next poll */
  drainFps: number;
}

export class SynthesisLoad {
  private timer: NodeJS.Timeout | undefined;
  /** frames counted per worker at the last poll (a worker's first count is its baseline) */
  private last = new Map<string, number>();
  private lastPollAt: number | null = null;
  private readonly work = new Map<number, GpuWork>();
  private readonly pollMs: number;
  private readonly smoothS: number;

  constructor(private readonly o: SynthesisLoadOptions) {
    this.pollMs = o.pollMs ?? 250;
    this.smoothS = o.smoothSeconds ?? 2;
    for (const gpu of new Set(o.workerGpu.values())) this.work.set(gpu, { fps: 0, fullFps: 0, queued: 0, drainFps: 0 });
  }

  start(): void {
    this.timer = setInterval(() => void this.poll(), this.pollMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /**
   * 0..1 of full power a GPU a synthesis worker drives draws over the next `seconds` (the frames
   * it works off in them are taken from its queue; 0 s: the rate it works at until the next poll,
   * nothing taken); null for others (they keep the profile)
   */
  activity = (gpu: number, seconds = 0): number | null => {
    const w = this.work.get(gpu);
    if (!w) return null;
    if (w.fullFps <= 0) return 0;
    const rate = Math.min(w.drainFps, w.fullFps);
    if (!(seconds > 0)) return rate / w.fullFps;
    const frames = Math.min(w.queued, rate * seconds);
    w.queued -= frames;
    return frames / seconds / w.fullFps;
  };

  /** @internal the poll, for tests on a manual clock */
  async poll(now = performance.now()): Promise<void> {
    const m = this.o.registry.getSingleMetric(FRAMES_METRIC) as Counter | undefined;
    if (!m) return;
    const made = new Map<number, number>();
    for (const v of (await m.get()).values) {
      const gpu = this.o.workerGpu.get(String(v.labels.worker));
      if (gpu === undefined) continue;
      const worker = String(v.labels.worker);
      const prev = this.last.get(worker);
      this.last.set(worker, v.value);
      if (prev !== undefined) made.set(gpu, (made.get(gpu) ?? 0) + Math.max(0, v.value - prev));
    }
    const since = this.lastPollAt;
    this.lastPollAt = now;
    if (since === null || !(now > since)) return;
    // the frames of this poll are worked off over the time to the next, taken to be as long as this one was
    const dtS = (now - since) / 1000;
    const a = 1 - Math.exp(-dtS / this.smoothS);
    for (const [gpu, w] of this.work) {
      const frames = made.get(gpu) ?? 0;
      const raw = frames / dtS;
      // from 0: one poll's count (batches land unevenly on polls) is not the full-power rate
      w.fps += a * (raw - w.fps);
      if (w.fps > w.fullFps) w.fullFps = w.fps;
      // what is left over from the last poll (frames made faster than full power works them off)
      // is kept up to one poll's worth: it evens out batches landing on either side of a poll,
      // and a render that stops heats its GPU at most one poll longer
      w.queued = Math.min(w.queued, w.fullFps * dtS) + frames;
      w.drainFps = w.queued / dtS;
    }
  }
}
