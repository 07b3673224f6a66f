/**
 * GANce's spectrogram made a few rows at a time, so that a track never holds its frames x 512 float64
 * vectors (14.7 MB per minute at 60 fps, and as much again for the stage before the smoothing).
 *
 * Only the track-wide steps need the whole track: the loudest bin and the quietest level (the dB
 * scale) and the extremes of the Fourier-resampled rows (the min-max scaling). Once those are known
 * (`spectrogramState`), any row is its dB magnitudes resampled, scaled and smoothed with its three
 * neighbours on each side, the same arithmetic in the same order as ganceSpectrogram: the same bits.
 * Two rows share one complex transform in fourierResampleRows, so every window starts on an even row
 * and ends on an even row or the last one, pairing the rows as the whole-track pass does.
 */
import {
  checkAudible,
  checkSpectrogramInput,
  decibelsInto,
  extremes,
  fourierResampleRows,
  liftSilentBins,
  magnitudesInto,
  rollValues,
  scaleToRange,
  smoothRowsInto,
  SPECTROGRAM_SMOOTHING,
  type SpectrogramOptions,
} from './spectrogram.ts';

/** What a track's spectrogram rows are made from. */
export interface SpectrogramState {
  frames: number;
  vectorLength: number;
  bins: number;
  /** frames x bins: dB re the loudest bin, silent bins lifted to the quietest level */
  decibels: Float64Array;
  /** extremes of the Fourier-resampled rows over the whole track (the min-max scaling's input range) */
  min: number;
  max: number;
  amplitudeRange: [number, number];
  /** with roll: each frame's left rotation (the cumulative quantised loudness, mod vectorLength) */
  rollShifts: Int32Array | null;
}

/** Rows per slice of a track-wide pass (even: two rows share a transform). */
const SLICE = 256;
const ROLL_SMOOTHING: [number, number] = [51, 2];
const HALF = (SPECTROGRAM_SMOOTHING.across[0] - 1) / 2;

/** Extremes of the Fourier-resampled rows [f0, f1) of `decibels` (f0 even), a slice at a time. */
export function resampledExtremes(decibels: Float64Array, bins: number, vl: number, f0: number, f1: number): [number, number] {
  const scratch = new Float64Array(Math.min(SLICE, f1 - f0) * vl);
  let min = Infinity;
  let max = -Infinity;
  for (let a = f0; a < f1; a += SLICE) {
    const b = Math.min(f1, a + SLICE);
    const out = scratch.subarray(0, (b - a) * vl);
    fourierResampleRows(decibels.subarray(a * bins, b * bins), b - a, bins, vl, out);
    const [lo, hi] = extremes(out);
    if (lo < min) min = lo;
    if (hi > max) max = hi;
  }
  return [min, max];
}

/** Each frame's roll as a left rotation, from the signal (GANce's roll option). */
export function rollShifts(samples: Float32Array, frames: number, vl: number, file?: string): Int32Array {
  const roll = rollValues(samples, vl, file);
  const shifts = new Int32Array(frames);
  let cum = 0;
  for (let f = 0; f < frames; f++) {
    cum += roll[f] ?? 0;
    shifts[f] = ((cum % vl) + vl) % vl;
  }
  return shifts;
}

/**
 * Where the dB magnitudes go: `scratch` (memory the caller is done with, every byte of it overwritten
 * before it is read) when it is large enough, else new memory of the kind asked for.
 */
export function decibelsBuffer<T extends ArrayBuffer | SharedArrayBuffer>(frames: number, bins: number, scratch: T | undefined, fresh: (bytes: number) => T): T {
  const bytes = frames * bins * 8;
  return scratch && scratch.byteLength >= bytes ? scratch : fresh(bytes);
}

/**
 * The track-wide steps of ganceSpectrogram on one thread; `scratch` as in decibelsBuffer (the
 * decoded track, say, once it is resampled: the magnitudes then take no memory of their own).
 */
export function spectrogramState(samples: Float32Array, opts: SpectrogramOptions, scratch?: ArrayBuffer | SharedArrayBuffer): SpectrogramState {
  const vl = opts.vectorLength;
  const frames = checkSpectrogramInput(samples.length, opts);
  const bins = Math.floor((vl - 2) / 2);
  const decibels = new Float64Array(decibelsBuffer<ArrayBuffer | SharedArrayBuffer>(frames, bins, scratch, (n) => new ArrayBuffer(n)), 0, frames * bins);
  const loudest = magnitudesInto(samples, vl, 0, frames, decibels);
  checkAudible(loudest, opts.file);
  liftSilentBins(decibels, decibelsInto(decibels, loudest, 0, decibels.length), 0, decibels.length);
  const [min, max] = resampledExtremes(decibels, bins, vl, 0, frames);
  return {
    frames,
    vectorLength: vl,
    bins,
    decibels,
    min,
    max,
    amplitudeRange: [opts.amplitudeRange[0], opts.amplitudeRange[1]],
    rollShifts: opts.rollEnabled ? rollShifts(samples, frames, vl, opts.file) : null,
  };
}

/** Rows [f0, f1) of the spectrogram into `out` (row f at (f - f0) * vectorLength). */
export function spectrogramRowsInto(s: SpectrogramState, f0: number, f1: number, out: Float64Array): void {
  const { frames, vectorLength: vl, bins } = s;
  const w = SPECTROGRAM_SMOOTHING.across[0];
  // the rows the across-frame smoothing reads (the edge rows read the first or last w)
  let r0 = Math.max(0, Math.min(f0 - HALF, frames - w));
  r0 -= r0 % 2;
  let r1 = Math.min(frames, Math.max(f1 + HALF, w));
  if (r1 % 2 === 1 && r1 < frames) r1++;
  const scaled = fourierResampleRows(s.decibels.subarray(r0 * bins, r1 * bins), r1 - r0, bins, vl);
  scaleToRange(scaled, s.min, s.max, s.amplitudeRange);
  const { across, within } = SPECTROGRAM_SMOOTHING;
  if (!s.rollShifts) {
    smoothRowsInto(scaled, frames, vl, across, within, f0, f1, out, r0, f0);
    return;
  }
  const smoothed = new Float64Array((f1 - f0) * vl);
  smoothRowsInto(scaled, frames, vl, across, within, f0, f1, smoothed, r0, f0);
  const rotated = scaled.subarray(0, (f1 - f0) * vl);
  for (let f = f0; f < f1; f++) {
    const shift = s.rollShifts[f]!;
    const base = (f - f0) * vl;
    for (let i = 0; i < vl; i++) rotated[base + i] = smoothed[base + ((i + shift) % vl)]!;
  }
  smoothRowsInto(rotated, frames, vl, null, ROLL_SMOOTHING, f0, f1, out, f0, f0);
}

/**
 * The rows of a state on demand, made a batch at a time around the row asked for: reading the
 * frames in order makes each row once.
 */
export class SpectrogramRows {
  readonly frames: number;
  readonly vectorLength: number;
  private readonly batch: number;
  private buf: Float64Array;
  private start = -1;
  private end = -1;

  constructor(
    readonly state: SpectrogramState,
    batch = 128,
  ) {
    this.frames = state.frames;
    this.vectorLength = state.vectorLength;
    this.batch = Math.max(1, Math.min(batch, state.frames));
    this.buf = new Float64Array(this.batch * state.vectorLength);
  }

  /** Row f's values: `data[offset .. offset + vectorLength)`, valid until the next call. */
  row(f: number): { data: Float64Array; offset: number } {
    if (!Number.isInteger(f) || f < 0 || f >= this.frames) throw new RangeError(`spectrogram row ${f} out of range 0..${this.frames - 1}`);
    if (f < this.start || f >= this.end) {
      this.start = f;
      this.end = Math.min(this.frames, f + this.batch);
      spectrogramRowsInto(this.state, this.start, this.end, this.buf);
    }
    return { data: this.buf, offset: (f - this.start) * this.vectorLength };
  }

  /** Every row at once (frames x vectorLength): for tests and short tracks. */
  all(): Float64Array {
    const out = new Float64Array(this.frames * this.vectorLength);
    spectrogramRowsInto(this.state, 0, this.frames, out);
    return out;
  }
}
