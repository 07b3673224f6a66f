/**
 * Network choice per frame from smoothed loudness, as GANce: RMS per frame, rolling mean 3, then
 * Savitzky-Golay (7/3 for noise-blend, 3/2 for projection-file-blend), min-max scaled onto the network
 * indices and rounded half to even. Live, the scaling uses the extremes of a trailing window.
 */
import { rintHalfEven } from '../audio/features/detmath.ts';
import { smoothedRollingAverage, type SmoothingSpec } from '../audio/features/rms.ts';

export const NOISE_BLEND_SMOOTHING: SmoothingSpec = { rollingWindow: 3, savgolWindow: 7, savgolOrder: 3 };
export const PROJECTION_BLEND_SMOOTHING: SmoothingSpec = { rollingWindow: 3, savgolWindow: 3, savgolOrder: 2 };

export class OfflineNetworkSwitch {
  readonly smoothed: Float64Array;
  private readonly min: number;
  private readonly max: number;

  constructor(rms: ArrayLike<number>, spec: SmoothingSpec, file?: string) {
    this.smoothed = smoothedRollingAverage(rms, spec, file);
    let min = Infinity;
    let max = -Infinity;
    for (const v of this.smoothed) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    this.min = min;
    this.max = max;
  }

  /** Index for frame f among `count` networks (count may change between frames). */
  indexAt(f: number, count: number): number {
    if (count <= 1 || !(this.max > this.min)) return 0;
    const v = this.smoothed[Math.min(f, this.smoothed.length - 1)]!;
    return rintHalfEven(((count - 1 - 0) / (this.max - this.min)) * (v - this.min) + 0);
  }
}

/** Sliding-window min/max (monotonic deques) over the last `window` values. */
export class StreamingNetworkSwitch {
  private readonly window: number;
  private readonly minQ: { i: number; v: number }[] = [];
  private readonly maxQ: { i: number; v: number }[] = [];
  private i = 0;

  constructor(window: number) {
    this.window = window;
  }

  push(smoothedRms: number, count: number): number {
    const i = this.i++;
    while (this.minQ.length && this.minQ.at(-1)!.v >= smoothedRms) this.minQ.pop();
    this.minQ.push({ i, v: smoothedRms });
    while (this.maxQ.length && this.maxQ.at(-1)!.v <= smoothedRms) this.maxQ.pop();
    this.maxQ.push({ i, v: smoothedRms });
    while (this.minQ[0]!.i <= i - this.window) this.minQ.shift();
    while (this.maxQ[0]!.i <= i - this.window) this.maxQ.shift();
    const min = this.minQ[0]!.v;
    const max = this.maxQ[0]!.v;
    if (count <= 1 || !(max > min)) return 0;
    return rintHalfEven(((count - 1) / (max - min)) * (smoothedRms - min));
  }
}
