/**
 * Per-frame loudness as GANce derives it: librosa.feature.rms (frame = vector length, librosa's default
 * hop of 512, no centring), a pandas rolling mean of 3 whose leading gaps take the series mean, a
 * Savitzky-Golay pass, and interp1d + numpy.rint to turn it into indices.
 */
import { rintHalfEven } from './detmath.ts';
import { FeatureError } from './errors.ts';
import { meanF32 } from './numpy-sum.ts';
import { savgol } from './savgol.ts';

export const LIBROSA_HOP = 512;

/**
 * librosa.feature.rms(y, frame_length, hop_length=512, center=False)[0], computed in float32 as numpy
 * does: each frame's squares summed pairwise in float32 (numpy-sum.ts), divided by the frame length,
 * square-rooted in float32.
 */
export function frameRms(samples: Float32Array, frameLength: number, hop = LIBROSA_HOP): Float32Array {
  if (samples.length < frameLength) return new Float32Array(0);
  const frames = 1 + Math.floor((samples.length - frameLength) / hop);
  const out = new Float32Array(frames);
  for (let f = 0; f < frames; f++) out[f] = Math.fround(Math.sqrt(meanF32(samples, f * hop, frameLength, true)));
  return out;
}

/**
 * pandas Series.rolling(window).mean().fillna(series.mean()) of a float32 series: the fill is
 * pandas' float32 mean (numpy's pairwise float32 sum over the count); the rolling means are float64.
 */
export function rollingMeanFilled(values: ArrayLike<number>, window: number): Float64Array {
  const n = values.length;
  const out = new Float64Array(n);
  const fill = meanF32(values, 0, n);
  for (let i = 0; i < n; i++) {
    if (i < window - 1) {
      out[i] = fill;
      continue;
    }
    let s = 0;
    for (let j = i - window + 1; j <= i; j++) s += values[j]!;
    out[i] = s / window;
  }
  return out;
}

export interface SmoothingSpec {
  rollingWindow: number;
  savgolWindow: number;
  savgolOrder: number;
}

/** GANce's `_smoothed_rolling_average`. */
export function smoothedRollingAverage(values: ArrayLike<number>, spec: SmoothingSpec, file?: string): Float64Array {
  if (values.length < spec.savgolWindow) {
    throw new FeatureError('FEATURE_TOO_SHORT', `needs at least ${spec.savgolWindow} video frames for its smoothing, got ${values.length}`, file);
  }
  return savgol(rollingMeanFilled(values, spec.rollingWindow), spec.savgolWindow, spec.savgolOrder);
}

/**
 * GANce's `quantize_results_layers`: map [min, max] linearly onto [0, count - 1] and round half to even.
 * A constant series (max == min) has no range to map and gives index 0 everywhere.
 */
export function quantizeToIndices(values: ArrayLike<number>, count: number, range?: { min: number; max: number }): Int32Array {
  const out = new Int32Array(values.length);
  if (values.length === 0 || count <= 1) return out;
  let min = Infinity;
  let max = -Infinity;
  if (range) ({ min, max } = range);
  else {
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  if (!(max > min)) return out;
  const slope = (count - 1 - 0) / (max - min);
  for (let i = 0; i < values.length; i++) {
    const v = Math.min(max, Math.max(min, values[i]!));
    out[i] = rintHalfEven(slope * (v - min) + 0);
  }
  return out;
}
