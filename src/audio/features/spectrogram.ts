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

/** Frames of the offline spectrogram for `samples` at vector length `vl` (frames start every vl samples, hold vl - 2). */
export function spectrogramFrames(sampleCount: number, vl: number): number {
  const m = vl - 2;
  return sampleCount >= m ? Math.floor((sampleCount - m) / vl) + 1 : 0;
}

/**
 * Magnitude spectra of frames [f0, f1) into `mags` (frames x bins, linear, not yet dB), frame f at row f.
 * Returns their largest magnitude.
 */
export function magnitudesInto(samples: Float32Array, vectorLength: number, f0: number, f1: number, mags: Float64Array): number {
  const m = vectorLength - 2;
  const bins = Math.floor(m / 2);
  const win = periodicHann(m);
  const dft = new RealPairDft(m);
  const a = new Float64Array(m);
  const b = new Float64Array(m);
  const outA = new Float64Array(2 * bins);
  const outB = new Float64Array(2 * bins);
  let max = 0;
  for (let f = f0; f < f1; f += 2) {
    const hasB = f + 1 < f1;
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
      const va = Math.sqrt(ra * ra + ia * ia);
      mags[f * bins + k] = va;
      if (va > max) max = va;
      if (hasB) {
        const rb = outB[2 * k]!;
        const ib = outB[2 * k + 1]!;
        const vb = Math.sqrt(rb * rb + ib * ib);
        mags[(f + 1) * bins + k] = vb;
        if (vb > max) max = vb;
      }
    }
  }
  return max;
}

/** Magnitude spectra of every frame: frames x bins, linear (not yet dB). */
export function frameMagnitudes(samples: Float32Array, vectorLength: number): { mags: Float64Array; frames: number; bins: number } {
  const bins = Math.floor((vectorLength - 2) / 2);
  const frames = spectrogramFrames(samples.length, vectorLength);
  const mags = new Float64Array(frames * bins);
  magnitudesInto(samples, vectorLength, 0, frames, mags);
  return { mags, frames, bins };
}

/** Refuses a track whose loudest bin is zero (its dB scale divides by zero). */
export function checkAudible(max: number, file?: string): void {
  if (!(max > 0)) throw new FeatureError('FEATURE_SILENT', 'the track is digital silence from start to end; its spectrogram is undefined', file);
}

/** 20 log10(s / max) over mags[i0, i1) in place, exact zeros to -Infinity; returns the lowest finite level (0 if none). */
export function decibelsInto(mags: Float64Array, max: number, i0: number, i1: number): number {
  let minFinite = 0;
  for (let i = i0; i < i1; i++) {
    const v = mags[i]!;
    if (v > 0) {
      const db = 20 * log10(v / max);
      mags[i] = db;
      if (db < minFinite) minFinite = db;
    } else mags[i] = -Infinity;
  }
  return minFinite;
}

/** The exact zeros of decibelsInto lifted to the track's lowest finite level. */
export function liftSilentBins(mags: Float64Array, minFinite: number, i0: number, i1: number): void {
  for (let i = i0; i < i1; i++) if (mags[i] === -Infinity) mags[i] = minFinite;
}

/** 20 log10(s / max(s)) in place, with exact zeros lifted to the lowest finite level. */
export function toDecibelsRelativeToMax(mags: Float64Array, file?: string): void {
  let max = 0;
  for (let i = 0; i < mags.length; i++) if (mags[i]! > max) max = mags[i]!;
  checkAudible(max, file);
  liftSilentBins(mags, decibelsInto(mags, max, 0, mags.length), 0, mags.length);
}

/**
 * scipy.signal.resample of each `inLen`-row to `outLen` values (zero-padded spectrum, real part,
 * times outLen / inLen), two rows per complex transform.
 */
export function fourierResampleRows(data: Float64Array, rows: number, inLen: number, outLen: number, out: Float64Array = new Float64Array(rows * outLen)): Float64Array {
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

/** [min, max] of x[i0, i1). */
export function extremes(x: Float64Array, i0 = 0, i1 = x.length): [number, number] {
  let min = Infinity;
  let max = -Infinity;
  for (let i = i0; i < i1; i++) {
    const v = x[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return [min, max];
}

/** minmax_scale's map from the data's [min, max] to `range`, applied to x[i0, i1) in place. */
export function scaleToRange(x: Float64Array, min: number, max: number, range: readonly [number, number], i0 = 0, i1 = x.length): void {
  let dataRange = max - min;
  if (dataRange === 0) dataRange = 1;
  const scale = (range[1] - range[0]) / dataRange;
  const offset = range[0] - min * scale;
  for (let i = i0; i < i1; i++) x[i] = x[i]! * scale + offset;
}

/** sklearn.preprocessing.minmax_scale over the whole array (one feature), float64, in place. */
export function minmaxScaleInPlace(x: Float64Array, range: readonly [number, number]): void {
  const [min, max] = extremes(x);
  scaleToRange(x, min, max, range);
}

/**
 * Savitzky-Golay across frames (per position) then within each frame, like GANce, for output rows
 * [f0, f1) into `out` (row f at row f - outBase). Reads any row of `data` (row r at r - dataBase) the
 * across-frame window needs: the bases let a caller hold a window of the track instead of all of it.
 */
export function smoothRowsInto(
  data: Float64Array,
  frames: number,
  vl: number,
  across: [number, number] | null,
  within: [number, number] | null,
  f0: number,
  f1: number,
  out: Float64Array,
  dataBase = 0,
  outBase = 0,
): void {
  let cur = data;
  let curBase = dataBase; // row f of cur is at (f - curBase) * vl
  if (across) {
    const plan = savgolPlan(across[0], across[1]);
    const w = plan.windowLength;
    if (frames < w) throw new RangeError(`savgol: signal of ${frames} samples is shorter than the window of ${w}`);
    const half = (w - 1) / 2;
    const next = within ? new Float64Array((f1 - f0) * vl) : out;
    const nextBase = within ? f0 : outBase;
    // Row-wise (contiguous) form of the per-position filter: out[f] = sum_j c_j in[first + j].
    for (let f = f0; f < f1; f++) {
      let weights: Float64Array;
      let firstRow: number;
      if (f < half) [weights, firstRow] = [plan.edgeStart[f]!, 0];
      else if (f >= frames - half) [weights, firstRow] = [plan.edgeEnd[f - (frames - half)]!, frames - w];
      else [weights, firstRow] = [plan.center, f - half];
      const o = (f - nextBase) * vl;
      for (let j = 0; j < w; j++) {
        const c = weights[j]!;
        const src = (firstRow + j - dataBase) * vl;
        if (j === 0) for (let p = 0; p < vl; p++) next[o + p] = c * data[src + p]!;
        else for (let p = 0; p < vl; p++) next[o + p] = next[o + p]! + c * data[src + p]!;
      }
    }
    cur = next;
    curBase = nextBase;
  }
  if (within) {
    const plan = savgolPlan(within[0], within[1]);
    for (let f = f0; f < f1; f++) savgolStrided(plan, cur, (f - curBase) * vl, 1, vl, out, (f - outBase) * vl, 1);
  } else if (!across) out.set(data.subarray((f0 - dataBase) * vl, (f1 - dataBase) * vl), (f0 - outBase) * vl);
}

/** Savitzky-Golay across frames (per position) then within each frame, like GANce. */
export function smoothVectors(data: Float64Array, frames: number, vl: number, across: [number, number] | null, within: [number, number] | null): Float64Array {
  const out = new Float64Array(data.length);
  smoothRowsInto(data, frames, vl, across, within, 0, frames, out);
  return out;
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

/** Fewest video frames a track can give: GANce's cross-frame smoothing window (SPECTROGRAM_SMOOTHING.across). */
export const MIN_SPECTROGRAM_FRAMES = 7;

/** Refuses parameters GANce's pipeline cannot take; returns the frame count. */
export function checkSpectrogramInput(sampleCount: number, opts: SpectrogramOptions): number {
  const vl = opts.vectorLength;
  if (!Number.isInteger(vl) || vl < 8 || vl % 2 !== 0) throw new FeatureError('FEATURE_BAD_PARAMETER', `vector length must be an even integer >= 8, got ${vl}`, opts.file);
  const [lo, hi] = opts.amplitudeRange;
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) throw new FeatureError('FEATURE_BAD_PARAMETER', `amplitude range must be two finite numbers, got [${lo}, ${hi}]`, opts.file);
  const frames = spectrogramFrames(sampleCount, vl);
  if (frames < MIN_SPECTROGRAM_FRAMES) throw new FeatureError('FEATURE_TOO_SHORT', `the track gives ${frames} video frames; GANce's smoothing needs at least ${MIN_SPECTROGRAM_FRAMES}`, opts.file);
  return frames;
}

/** The cross-frame smoothing GANce applies after the min-max scaling. */
export const SPECTROGRAM_SMOOTHING = { across: [7, 3] as [number, number], within: [5, 3] as [number, number] };

/** GANce's optional roll on smoothed vectors (per frame, after the smoothing). */
export function applyRoll(vectors: Float64Array, samples: Float32Array, frames: number, vl: number, file?: string): Float64Array {
  const roll = rollValues(samples, vl, file);
  return smoothVectors(rotateFrames(vectors, frames, vl, roll), frames, vl, null, [51, 2]);
}

/** The whole offline pipeline on a signal already scaled for video (a whole number of frames). */
export function ganceSpectrogram(samples: Float32Array, opts: SpectrogramOptions): GanceSpectrogram {
  const vl = opts.vectorLength;
  const frames = checkSpectrogramInput(samples.length, opts);
  const { mags, bins } = frameMagnitudes(samples, vl);
  toDecibelsRelativeToMax(mags, opts.file);
  const resampled = fourierResampleRows(mags, frames, bins, vl);
  minmaxScaleInPlace(resampled, opts.amplitudeRange);
  let vectors = smoothVectors(resampled, frames, vl, SPECTROGRAM_SMOOTHING.across, SPECTROGRAM_SMOOTHING.within);
  if (opts.rollEnabled) vectors = applyRoll(vectors, samples, frames, vl, opts.file);
  return { vectors, frames, vectorLength: vl };
}
