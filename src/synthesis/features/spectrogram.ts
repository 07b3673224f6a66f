/**
 * GANce's spectrogram vectors (apply_spectrogram.py + visualization_inputs._create_spectrogram).
 *
 * For vector length L (512): frames start every L samples and hold L - 2 samples, windowed by the
 * periodic Hann window numpy.hanning(L - 1)[:-1]; the first (L - 2) / 2 FFT bins become dB relative
 * to the loudest bin of the whole track, each frame's bins are Fourier-resampled (scipy.signal.resample)
 * to L values, the whole array is min-max scaled to the amplitude range, then smoothed across frames
 * (Savitzky-Golay 7/3) and within each frame (5/3). With roll enabled, frame f is rotated left by the
 * cumulative sum of the quantised (0..2) smoothed RMS and smoothed again within the frame (51/2).
 *
 * Where GANce would fail, this refuses with a reason: fewer than 7 frames (its Savitzky-Golay window),
 * or a track of pure digital silence (its dB scale divides by zero). Bins of exact zero magnitude inside
 * an otherwise audible track (digital silence at the start, say) make GANce's scaler reject -inf; here
 * they take the lowest finite level of the track instead.
 */
import { cospi, log10 } from './detmath.ts';
import { FeatureError } from './errors.ts';
import { ComplexDft, RealPairDft } from './fft.ts';
import { frameRms, quantizeToIndices, smoothedRollingAverage } from './rms.ts';
import { savgolPlan, savgolStrided } from './savgol.ts';

export interface SpectrogramOptions {
  vectorLength: number;
  amplitudeRange: readonly [number, number];
  rollEnabled: boolean;
  /** Names the input in errors. */
  file?: string;
}

/** numpy.hanning(m + 1)[:-1] */
export function periodicHann(m: number): Float64Array {
  const M = m + 1;
  const w = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    const n = 1 - M + 2 * i; // numpy: arange(1 - M, M, 2)
    w[i] = 0.5 + 0.5 * cospi(n / (M - 1));
  }
  return w;
}

/** Magnitude spectra of every frame: frames x bins, linear (not yet dB). */
export function frameMagnitudes(samples: Float32Array, vectorLength: number): { mags: Float64Array; frames: number; bins: number } {
  const m = vectorLength - 2;
  const bins = Math.floor(m / 2);
  const frames = samples.length >= m ? Math.floor((samples.length - m) / vectorLength) + 1 : 0;
  const win = periodicHann(m);
  const dft = new RealPairDft(m);
  const a = new Float64Array(m);
  const b = new Float64Array(m);
  const outA = new Float64Array(2 * bins);
  const outB = new Float64Array(2 * bins);
  const mags = new Float64Array(frames * bins);
  for (let f = 0; f < frames; f += 2) {
    const hasB = f + 1 < frames;
    const baseA = f * vectorLength;
    const baseB = (f + 1) * vectorLength;
    for (let j = 0; j < m; j++) {
      a[j] = samples[baseA + j]! * win[j]!;
      b[j] = hasB ? samples[baseB + j]! * win[j]! : 0;
    }
    dft.forward(a, hasB ? b : null, bins, outA, hasB ? outB : null);
    for (let k = 0; k < bins; k++) {
      const ra = outA[2 * k]!;
      const ia = outA[2 * k + 1]!;
      mags[f * bins + k] = Math.sqrt(ra * ra + ia * ia);
      if (hasB) {
        const rb = outB[2 * k]!;
        const ib = outB[2 * k + 1]!;
        mags[(f + 1) * bins + k] = Math.sqrt(rb * rb + ib * ib);
      }
    }
  }
  return { mags, frames, bins };
}

/** 20 log10(s / max(s)) in place, with exact zeros lifted to the lowest finite level. */
export function toDecibelsRelativeToMax(mags: Float64Array, file?: string): void {
  let max = 0;
  for (let i = 0; i < mags.length; i++) if (mags[i]! > max) max = mags[i]!;
  if (!(max > 0)) throw new FeatureError('FEATURE_SILENT', 'the track is digital silence from start to end; its spectrogram is undefined', file);
  let minFinite = 0;
  for (let i = 0; i < mags.length; i++) {
    const v = mags[i]!;
    if (v > 0) {
      const db = 20 * log10(v / max);
      mags[i] = db;
      if (db < minFinite) minFinite = db;
    } else mags[i] = -Infinity;
  }
  for (let i = 0; i < mags.length; i++) if (mags[i] === -Infinity) mags[i] = minFinite;
}

/**
 * scipy.signal.resample of each `inLen`-row to `outLen` values (zero-padded spectrum, real part,
 * times outLen / inLen), two rows per complex transform.
 */
export function fourierResampleRows(data: Float64Array, rows: number, inLen: number, outLen: number): Float64Array {
  const out = new Float64Array(rows * outLen);
  const fwd = new RealPairDft(inLen);
  const inv = new ComplexDft(outLen); // used through conj symmetry: ifft(Y) = conj(fft(conj(Y))) / n
  const N = Math.min(inLen, outLen);
  const half = Math.floor((N + 1) / 2); // bins 0..half-1 and the mirrored negatives
  const specA = new Float64Array(2 * inLen);
  const specB = new Float64Array(2 * inLen);
  const Y = new Float64Array(2 * outLen);
  const y = new Float64Array(2 * outLen);
  const rowA = new Float64Array(inLen);
  const rowB = new Float64Array(inLen);
  const gain = outLen / inLen;
  if (N % 2 === 0) throw new RangeError('fourierResampleRows supports an odd shorter length only (GANce uses 255)');
  for (let r = 0; r < rows; r += 2) {
    const hasB = r + 1 < rows;
    for (let j = 0; j < inLen; j++) {
      rowA[j] = data[r * inLen + j]!;
      rowB[j] = hasB ? data[(r + 1) * inLen + j]! : 0;
    }
    fwd.forward(rowA, hasB ? rowB : null, inLen, specA, hasB ? specB : null);
    // Z = YA + i YB (both Hermitian), so ifft(Z) = ya + i yb with ya, yb real.
    Y.fill(0);
    const put = (k: number, src: number) => {
      const ar = specA[2 * src]!;
      const ai = specA[2 * src + 1]!;
      const br = hasB ? specB[2 * src]! : 0;
      const bi = hasB ? specB[2 * src + 1]! : 0;
      Y[2 * k] = ar - bi;
      Y[2 * k + 1] = ai + br;
    };
    for (let k = 0; k < half; k++) put(k, k);
    for (let k = 1; k < half; k++) put(outLen - k, inLen - k);
    // inverse via forward transform of the conjugate
    for (let k = 0; k < outLen; k++) Y[2 * k + 1] = -Y[2 * k + 1]!;
    inv.forward(y, Y);
    for (let j = 0; j < outLen; j++) {
      out[r * outLen + j] = (y[2 * j]! / outLen) * gain;
      if (hasB) out[(r + 1) * outLen + j] = (-y[2 * j + 1]! / outLen) * gain;
    }
  }
  return out;
}

/** sklearn.preprocessing.minmax_scale over the whole array (one feature), float64, in place. */
export function minmaxScaleInPlace(x: Float64Array, range: readonly [number, number]): void {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  let dataRange = max - min;
  if (dataRange === 0) dataRange = 1;
  const scale = (range[1] - range[0]) / dataRange;
  const offset = range[0] - min * scale;
  for (let i = 0; i < x.length; i++) x[i] = x[i]! * scale + offset;
}

/** Savitzky-Golay across frames (per position) then within each frame, like GANce. */
export function smoothVectors(data: Float64Array, frames: number, vl: number, across: [number, number] | null, within: [number, number] | null): Float64Array {
  let cur = data;
  if (across) {
    const next = new Float64Array(cur.length);
    const plan = savgolPlan(across[0], across[1]);
    const w = plan.windowLength;
    if (frames < w) throw new RangeError(`savgol: signal of ${frames} samples is shorter than the window of ${w}`);
    const half = (w - 1) / 2;
    // Row-wise (contiguous) form of the per-position filter: out[f] = sum_j c_j in[f - half + j].
    const rowCombo = (weights: Float64Array, firstRow: number, outRow: number) => {
      const o = outRow * vl;
      for (let j = 0; j < w; j++) {
        const c = weights[j]!;
        const src = (firstRow + j) * vl;
        if (j === 0) for (let p = 0; p < vl; p++) next[o + p] = c * cur[src + p]!;
        else for (let p = 0; p < vl; p++) next[o + p] = next[o + p]! + c * cur[src + p]!;
      }
    };
    for (let f = half; f < frames - half; f++) rowCombo(plan.center, f - half, f);
    for (let i = 0; i < half; i++) {
      rowCombo(plan.edgeStart[i]!, 0, i);
      rowCombo(plan.edgeEnd[i]!, frames - w, frames - half + i);
    }
    cur = next;
  }
  if (within) {
    const next = new Float64Array(cur.length);
    const plan = savgolPlan(within[0], within[1]);
    for (let f = 0; f < frames; f++) savgolStrided(plan, cur, f * vl, 1, vl, next, f * vl, 1);
    cur = next;
  }
  return cur;
}

/** GANce's roll values: smoothed RMS quantised to {0, 1, 2} per frame. */
export function rollValues(samples: Float32Array, vectorLength: number, file?: string): Int32Array {
  const rms = frameRms(samples, vectorLength);
  const smoothed = smoothedRollingAverage(rms, { rollingWindow: 3, savgolWindow: 7, savgolOrder: 3 }, file);
  return quantizeToIndices(smoothed, 3);
}

/** np.roll(v, -cumsum(roll)[f]) per frame. */
export function rotateFrames(data: Float64Array, frames: number, vl: number, roll: Int32Array): Float64Array {
  const out = new Float64Array(data.length);
  let cum = 0;
  for (let f = 0; f < frames; f++) {
    cum += roll[f] ?? 0;
    const shift = ((cum % vl) + vl) % vl;
    const base = f * vl;
    for (let i = 0; i < vl; i++) out[base + i] = data[base + ((i + shift) % vl)]!;
  }
  return out;
}

export interface GanceSpectrogram {
  /** frames x vectorLength, row-major. */
  vectors: Float64Array;
  frames: number;
  vectorLength: number;
}

/** The whole offline pipeline on a signal already scaled for video (a whole number of frames). */
export function ganceSpectrogram(samples: Float32Array, opts: SpectrogramOptions): GanceSpectrogram {
  const vl = opts.vectorLength;
  if (!Number.isInteger(vl) || vl < 8 || vl % 2 !== 0) throw new FeatureError('FEATURE_BAD_PARAMETER', `vector length must be an even integer >= 8, got ${vl}`, opts.file);
  const [lo, hi] = opts.amplitudeRange;
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) throw new FeatureError('FEATURE_BAD_PARAMETER', `amplitude range must be two finite numbers, got [${lo}, ${hi}]`, opts.file);
  const { mags, frames, bins } = frameMagnitudes(samples, vl);
  if (frames < 7) throw new FeatureError('FEATURE_TOO_SHORT', `the track gives ${frames} video frames; GANce's smoothing needs at least 7`, opts.file);
  toDecibelsRelativeToMax(mags, opts.file);
  const resampled = fourierResampleRows(mags, frames, bins, vl);
  minmaxScaleInPlace(resampled, opts.amplitudeRange);
  let vectors = smoothVectors(resampled, frames, vl, [7, 3], [5, 3]);
  if (opts.rollEnabled) {
    const roll = rollValues(samples, vl, opts.file);
    vectors = smoothVectors(rotateFrames(vectors, frames, vl, roll), frames, vl, null, [51, 2]);
  }
  return { vectors, frames, vectorLength: vl };
}
