/**
 * GANce's two blends, per frame, in its float32/float64 mix (noise and projected w are float32 arrays
 * times a Python float, the spectrogram is float64; the sum goes to the network as float32).
 */
import { LATENT_WIDTH } from './projection/format.ts';

/** Re-map a spectrogram value made for range [a, b] onto [a2, b2] (identity when unchanged). */
export function remapRange(v: number, from: readonly [number, number], to: readonly [number, number]): number {
  if (from[0] === to[0] && from[1] === to[1]) return v;
  const span = from[1] - from[0];
  if (span === 0) return to[0];
  return to[0] + ((v - from[0]) * (to[1] - to[0])) / span;
}

/** z = (1 - alpha) * noise + alpha * spectrogram. */
export function noiseBlend(noise: ArrayLike<number>, noiseOffset: number, spec: ArrayLike<number>, specOffset: number, n: number, alpha: number, from: readonly [number, number], to: readonly [number, number], out: Float32Array): void {
  const f32 = Math.fround;
  const keep = 1.0 - alpha;
  for (let i = 0; i < n; i++) out[i] = f32(f32(noise[noiseOffset + i]! * keep) + remapRange(spec[specOffset + i]!, from, to) * alpha);
}

/**
 * w rows 0..depth-1 = (1 - alpha) * w0 + alpha * spectrogram, rows depth.. = w0, where w0 is row 0 of
 * the projected latent (GANce ties all rows to row 0: its projector optimises one w).
 */
export function projectionBlend(w0: Float32Array, spec: ArrayLike<number>, specOffset: number, numWs: number, depth: number, alpha: number, from: readonly [number, number], to: readonly [number, number], out: Float32Array): void {
  const f32 = Math.fround;
  const keep = 1.0 - alpha;
  const rows = Math.min(depth, numWs);
  const width = LATENT_WIDTH;
  const blended = out.subarray(0, width);
  for (let i = 0; i < width; i++) blended[i] = f32(f32(w0[i]! * keep) + remapRange(spec[specOffset + i]!, from, to) * alpha);
  for (let r = 1; r < rows; r++) out.set(blended, r * width);
  for (let r = rows; r < numWs; r++) out.set(w0.subarray(0, width), r * width);
}
