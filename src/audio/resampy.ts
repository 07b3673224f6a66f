/**
 * Band-limited resampling as resampy 0.2.2 does it (the version GANce pins) with its default
 * 'kaiser_best' filter: a Kaiser-windowed sinc (beta 14.769656459379492, roll-off 0.9475937167399596,
 * 64 zero crossings, 512 table entries per crossing), linear interpolation in the table, a time
 * register advanced by repeated addition, and float32 accumulation of every tap exactly as numba
 * compiles `y[t] += weight * x[n - i]` for a float32 output array.
 */
import { sin } from './features/detmath.ts';
import { phaseBank, registersExact, resampleRangePhased } from './resampy-phased.ts';
import { resampleRangeSimd, simdKernel } from './resample-simd.ts';

const NUM_ZEROS = 64;
const PRECISION_BITS = 9;
const ROLLOFF = 0.9475937167399596;
const BETA = 14.769656459379492;
export const NUM_TABLE = 2 ** PRECISION_BITS;

/** Modified Bessel function I0 by its power series (all terms positive, converges fast for x < 20). */
export function besselI0(x: number): number {
  const q = (x * x) / 4;
  let term = 1;
  let sum = 1;
  for (let k = 1; k < 200; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-18) break;
  }
  return sum;
}

function npSinc(x: number): number {
  const y = Math.PI * (x === 0 ? 1.0e-20 : x);
  return sin(y) / y;
}

let baseWindow: Float64Array | null = null;

/** Right wing of the kaiser_best interpolation filter (num_zeros * 512 + 1 entries). */
export function kaiserBestWindow(): Float64Array {
  if (baseWindow) return baseWindow;
  const n = NUM_TABLE * NUM_ZEROS;
  const win = new Float64Array(n + 1);
  const i0beta = besselI0(BETA);
  const step = NUM_ZEROS / n; // numpy.linspace(0, num_zeros, n + 1): exact multiples of 2^-9
  for (let j = 0; j <= n; j++) {
    const r = j / n; // (k - alpha) / alpha for the right half of a length 2n+1 window
    const taper = besselI0(BETA * Math.sqrt(1 - r * r)) / i0beta;
    const sinc = ROLLOFF * npSinc(ROLLOFF * (j * step));
    win[j] = taper * sinc;
  }
  baseWindow = win;
  return win;
}

export interface ResampleTables {
  sampleRatio: number;
  /** Table entries per zero crossing (NUM_TABLE). */
  perZero: number;
  /** Interleaved [win[k], win[k+1] - win[k]] pairs, scaled by the ratio when downsampling. */
  table: Float64Array;
  nwin: number;
  scale: number;
  timeIncrement: number;
  indexStep: number;
}

export function resampleTables(srOrig: number, srNew: number): ResampleTables {
  if (!(srOrig > 0) || !(srNew > 0)) throw new RangeError(`invalid sample rates ${srOrig} -> ${srNew}`);
  const sampleRatio = srNew / srOrig;
  const base = kaiserBestWindow();
  const nwin = base.length;
  const win = new Float64Array(nwin);
  for (let i = 0; i < nwin; i++) win[i] = sampleRatio < 1 ? base[i]! * sampleRatio : base[i]!;
  const table = new Float64Array(2 * nwin);
  for (let i = 0; i < nwin; i++) {
    table[2 * i] = win[i]!;
    table[2 * i + 1] = i < nwin - 1 ? win[i + 1]! - win[i]! : 0;
  }
  const scale = Math.min(1.0, sampleRatio);
  return { sampleRatio, perZero: NUM_TABLE, table, nwin, scale, timeIncrement: 1 / sampleRatio, indexStep: Math.trunc(scale * NUM_TABLE) };
}

/** resampy's output length: int(len(x) * sr_new / sr_orig). */
export function resampledLength(inputLength: number, srOrig: number, srNew: number): number {
  return Math.trunc(inputLength * (srNew / srOrig));
}

/** The time register resampy holds when it starts output sample t (t additions of the increment). */
export function timeRegisterAt(t: number, timeIncrement: number): number {
  let r = 0.0;
  for (let i = 0; i < t; i++) r += timeIncrement;
  return r;
}

/**
 * Compute y[t0..t1) into `y` (indexed from t0 at y[0]); `register` is the time register at t0.
 * Split across workers by computing the register at each split point with timeRegisterAt.
 * Dyadic increments (the usual rates) go through precomputed phase filters, which give the same
 * samples (resampy-phased.ts), their interior two outputs at a time in WebAssembly SIMD where the
 * engine has it (resample-simd.ts); any other ratio runs resampy's loop as it is.
 */
export function resampleRange(x: Float32Array, tables: ResampleTables, t0: number, t1: number, register: number, y: Float32Array): void {
  const bank = phaseBank(tables);
  if (bank && registersExact(bank, tables.timeIncrement, register, t1 - t0)) {
    const kernel = simdKernel(tables, bank);
    if (kernel) resampleRangeSimd(x, tables, bank, kernel, t0, t1, register, y);
    else resampleRangePhased(x, tables, bank, t0, t1, register, y);
  } else resampleRangeReference(x, tables, t0, t1, register, y);
}

/** resampy's loop itself: the filter table interpolated at every tap. */
export function resampleRangeReference(x: Float32Array, tables: ResampleTables, t0: number, t1: number, register: number, y: Float32Array): void {
  const { table, nwin, scale, timeIncrement, indexStep } = tables;
  const nOrig = x.length;
  const f32 = Math.fround;
  let timeRegister = register;
  for (let t = t0; t < t1; t++) {
    const n = Math.trunc(timeRegister);
    let frac = scale * (timeRegister - n);
    let indexFrac = frac * NUM_TABLE;
    let offset = Math.trunc(indexFrac);
    let eta = indexFrac - offset;
    let acc = 0;
    const iMax = Math.min(n + 1, Math.floor((nwin - offset) / indexStep));
    const stride = 2 * indexStep;
    for (let i = 0, k = 2 * offset; i < iMax; i++, k += stride) {
      acc = f32(acc + (table[k]! + eta * table[k + 1]!) * x[n - i]!);
    }
    frac = scale - frac;
    indexFrac = frac * NUM_TABLE;
    offset = Math.trunc(indexFrac);
    eta = indexFrac - offset;
    const kMax = Math.min(nOrig - n - 1, Math.floor((nwin - offset) / indexStep));
    for (let k2 = 0, k = 2 * offset, j = n + 1; k2 < kMax; k2++, k += stride, j++) {
      acc = f32(acc + (table[k]! + eta * table[k + 1]!) * x[j]!);
    }
    y[t - t0] = acc;
    timeRegister += timeIncrement;
  }
}

/**
 * Resample the whole signal (single thread). With `padTo`, the result's buffer is zero-padded to a
 * multiple of that many samples, so that a caller can take the padded signal without a copy.
 */
export function resampleKaiserBest(x: Float32Array, srOrig: number, srNew: number, padTo = 1): Float32Array {
  const nOut = resampledLength(x.length, srOrig, srNew);
  if (nOut < 1) throw new RangeError(`input of ${x.length} samples is too short to resample from ${srOrig} to ${srNew}`);
  const tables = resampleTables(srOrig, srNew);
  const y = new Float32Array(new ArrayBuffer(Math.ceil(nOut / padTo) * padTo * 4), 0, nOut);
  resampleRange(x, tables, 0, nOut, 0, y);
  return y;
}
