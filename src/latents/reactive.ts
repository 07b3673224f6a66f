/**
 * Motion GANce lacks, after Lucid Sonic Dreams: the rich features (features/rich.ts) move the latent
 * on top of GANce's blend.
 *   pulse:  percussive hits push the latent along one fixed direction, as far as the pulse envelope;
 *   motion: sustained harmonic sound walks the latent round a circle spanned by two fixed directions,
 *           at a speed that follows the harmonic energy (silence and drums alone leave it still);
 *   chroma: the pitch classes heard pull the latent towards one fixed direction per class.
 * Directions are seeded Gaussian vectors (numpy's RandomState, like GANce's noise), so a latent step
 * of gain 1 is about as long as a standard-normal latent. With every gain 0 nothing is added and the
 * latents are GANce's, bit for bit.
 *
 * Motion is the only state: its phase is the running sum of harmonic energy, which offline is a
 * prefix sum (any frame can be asked for) and live the same sum kept as frames arrive.
 */
import { cospi, sinpi } from '../audio/features/detmath.ts';
import type { RichFeatures } from '../audio/features/rich.ts';
import { LegacyRandomState } from './rng.ts';

export interface ReactiveGains {
  pulse: number;
  motion: number;
  chroma: number;
}

export interface ReactiveDirections {
  width: number;
  pulse: Float32Array;
  motionA: Float32Array;
  motionB: Float32Array;
  /** 12 x width, C first */
  chroma: Float32Array;
}

/** The fixed directions for a seed: pulse, motion (2) and chroma (12), each `width` long. */
export function reactiveDirections(width: number, seed: number): ReactiveDirections {
  const all = Float32Array.from(new LegacyRandomState(seed).randn(15 * width));
  return {
    width,
    pulse: all.subarray(0, width),
    motionA: all.subarray(width, 2 * width),
    motionB: all.subarray(2 * width, 3 * width),
    chroma: all.subarray(3 * width, 15 * width),
  };
}

export function reactiveActive(g: ReactiveGains): boolean {
  return g.pulse !== 0 || g.motion !== 0 || g.chroma !== 0;
}

/**
 * Motion phase per frame, in turns: `turnsPerSecond` at full harmonic energy. Offline: the whole
 * track at once; `cumulativeHarmonic[f]` is the sum of harmonic energy of frames 0..f over fps.
 */
export function cumulativeHarmonic(rich: ReadonlyArray<Pick<RichFeatures, 'harmonic'>>, fps: number): Float64Array {
  const out = new Float64Array(rich.length);
  let sum = 0;
  for (let f = 0; f < rich.length; f++) {
    sum += rich[f]!.harmonic / fps;
    out[f] = sum;
  }
  return out;
}

/**
 * Adds the reactive offset for one frame to `rows` rows of `out` (each `dirs.width` long): z is one
 * row, a projection-blend w gets it on its blended rows. `turns` is the motion phase.
 */
export function addReactive(out: Float32Array, rows: number, dirs: ReactiveDirections, features: RichFeatures, turns: number, gains: ReactiveGains): void {
  const n = dirs.width;
  const f32 = Math.fround;
  const p = gains.pulse * features.pulse;
  // cos/sin of 2 pi * turns, through IEEE-only maths (the same numbers on every machine)
  const phase = 2 * (turns - Math.floor(turns));
  const ca = gains.motion * cospi(phase);
  const sb = gains.motion * sinpi(phase);
  let chromaSum = 0;
  for (let k = 0; k < 12; k++) chromaSum += features.chroma[k]!;
  const cw = chromaSum > 0 ? gains.chroma / chromaSum : 0;
  const offset = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let v = p * dirs.pulse[i]! + ca * dirs.motionA[i]! + sb * dirs.motionB[i]!;
    if (cw !== 0) for (let k = 0; k < 12; k++) v += cw * features.chroma[k]! * dirs.chroma[k * n + i]!;
    offset[i] = v;
  }
  for (let r = 0; r < rows; r++) {
    const base = r * n;
    for (let i = 0; i < n; i++) out[base + i] = f32(out[base + i]! + offset[i]!);
  }
}
