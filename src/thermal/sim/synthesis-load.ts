/**
 * Simulated GPUs that heat as the real synthesis works (simulation.profile "synthesis"): each
 * GPU's activity is the frame rate of the synthesis workers driving it (synthesis.workers[].gpu)
 * over the highest rate they have shown, read from gance_synthesis_frames_total. A render that
 * runs, slows or pauses on the CPU then heats, cools or idles the simulated GPU the way it would
 * a real one, which is what yielding is tried against.
 */
import type { Counter, Registry } from 'prom-client';

const FRAMES_METRIC = 'gance_synthesis_frames_total';

export interface SynthesisLoadOptions {
  registry: Registry;
  /** worker id -> GPU index */
  workerGpu: ReadonlyMap<string, number>;
  pollMs?: number;
  /** time constant of the rate's low-pass, s (default 2: a CPU render's rate jumps, and the highest smoothed rate is the scale) */
  smoothSeconds?: number;
}

export class SynthesisLoad {
  private timer: NodeJS.Timeout | undefined;
  private last = new Map<string, { frames: number; at: number }>();
  private readonly fps = new Map<number, number>();
  private readonly peak = new Map<number, number>();
  private readonly pollMs: number;
  private readonly smoothS: number;

  constructor(private readonly o: SynthesisLoadOptions) {
    this.pollMs = o.pollMs ?? 250;
    this.smoothS = o.smoothSeconds ?? 2;
  }

  start(): void {
    this.timer = setInterval(() => void this.poll(), this.pollMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** 0..1 for a GPU a synthesis worker drives; null for others (they keep the profile) */
  activity = (gpu: number): number | null => {
    if (![...this.o.workerGpu.values()].includes(gpu)) return null;
    const p = this.peak.get(gpu) ?? 0;
    return p > 0 ? Math.min(1, (this.fps.get(gpu) ?? 0) / p) : 0;
  };

  private async poll(): Promise<void> {
    const m = this.o.registry.getSingleMetric(FRAMES_METRIC) as Counter | undefined;
    if (!m) return;
    const now = performance.now();
    const perGpu = new Map<number, number>();
    for (const v of (await m.get()).values) {
      const worker = String(v.labels.worker);
      const gpu = this.o.workerGpu.get(worker);
      if (gpu === undefined) continue;
      const prev = this.last.get(worker);
      this.last.set(worker, { frames: v.value, at: now });
      if (!prev || now <= prev.at) continue;
      perGpu.set(gpu, (perGpu.get(gpu) ?? 0) + (Math.max(0, v.value - prev.frames) * 1000) / (now - prev.at));
    }
    const a = 1 - Math.exp(-this.pollMs / 1000 / this.smoothS);
    for (const gpu of new Set(this.o.workerGpu.values())) {
      const raw = perGpu.get(gpu) ?? 0;
      const f = (this.fps.get(gpu) ?? raw) + a * (raw - (this.fps.get(gpu) ?? raw));
      this.fps.set(gpu, f);
      if (f > (this.peak.get(gpu) ?? 0)) this.peak.set(gpu, f);
    }
  }
}
