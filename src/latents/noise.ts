/**
 * GANce's smoothed noise (primatives.gaussian_data + minmax_scale): RandomState(seed).randn(frames, 1, L)
 * as float32, a Gaussian filter across frames (sigma 50, 'wrap', so the noise loops seamlessly),
 * divided by its RMS (numpy's float32 mean: pairwise float32 sum, audio/features/numpy-sum.ts), then min-max scaled to [-4, 4] in float32 as sklearn does for float32 input.
 */
import { pairwiseSumF32 } from '../audio/features/numpy-sum.ts';
import { gaussianFilterRows, gaussianFilterRowsWrapFft } from './gaussian.ts';
import { drawNormalsInto } from './noise-simd.ts';
import { LegacyRandomState } from './rng.ts';

export interface NoiseOptions {
  frames: number;
  vectorLength: number;
  seed: number;
  sigma: number;
  range: readonly [number, number];
}

export const GANCE_NOISE_DEFAULTS = { seed: 1234, sigma: 50, range: [-4, 4] as const };

/**
 * The noise of a whole track, held once: drawn (through the kernel a chunk at a time when there is
 * one) into shared memory, filtered in place, then divided and scaled in place in float32 (the same
 * values as the kernel's SIMD steps, tested). Shared memory: the helper thread hands it over
 * without a copy.
 */
export function ganceNoise(opts: NoiseOptions & { kernel?: boolean }): Float32Array {
  const { frames, vectorLength: vl } = opts;
  const count = frames * vl;
  const raw = new Float32Array(new SharedArrayBuffer(count * 4));
  if (opts.kernel === false || !drawNormalsInto(opts.seed, raw)) {
    const rng = new LegacyRandomState(opts.seed);
    for (let i = 0; i < count; i++) raw[i] = rng.nextGauss();
  }
  // Direct sums for short runs; FFT convolution beyond (same float32 values, ~8x faster at 1 min), in place.
  let filtered = raw;
  if (opts.sigma > 1e-15 && frames <= 64) {
    filtered = new Float32Array(new SharedArrayBuffer(count * 4));
    gaussianFilterRows(raw, frames, vl, opts.sigma, 'wrap', filtered);
  } else if (opts.sigma > 1e-15) gaussianFilterRowsWrapFft(raw, frames, vl, opts.sigma, filtered);
  const f32 = Math.fround;
  // np.sqrt(np.mean(np.square(lat))): numpy's pairwise float32 sum over all frames x L values
  const sq = pairwiseSumF32(filtered, 0, count, true);
  const rms = f32(Math.sqrt(f32(sq / count)));
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < count; i++) {
    const v = f32(filtered[i]! / rms);
    filtered[i] = v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  let dataRange = f32(max - min);
  if (dataRange === 0) dataRange = 1;
  const scale = f32((opts.range[1] - opts.range[0]) / dataRange);
  const offset = f32(opts.range[0] - f32(min * scale));
  for (let i = 0; i < count; i++) filtered[i] = f32(f32(filtered[i]! * scale) + offset);
  return filtered;
}
