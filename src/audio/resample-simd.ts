/**
 * The phase-filter resampler's interior through WebAssembly SIMD (kernels/resample.as.ts): two
 * consecutive outputs per f64x2 vector, each with its own unchanged arithmetic, so the samples are the
 * ones resampy's loop gives. Outputs near the signal's ends, whose wings resampy truncates, stay with
 * the scalar path. Where the engine has no WebAssembly SIMD, `simdKernel()` is null and the scalar
 * path does everything.
 */
import { instantiateKernel, type KernelMemory } from '../kernels/load.ts';
import { resampleRangePhased, type PhaseBank } from './resampy-phased.ts';
import type { ResampleTables } from './resampy.ts';

interface Exports extends KernelMemory {
  widen: (src: number, n: number, dLo: number, pairsLo: number, pairsHi: number) => void;
  interior: (y: number, pairs: number, reg: number, inc: number, den: number, xBase: number, pairsLo: number, pairsHi: number, tab: number) => number;
}

/** Output pairs per kernel call: the input window stays a few hundred kB, in cache. */
const CHUNK_PAIRS = 4096;
const TABLE_ENTRY = 32;

export interface SimdKernel {
  /**
   * Outputs [ta, tb) of resampleRangePhased's contract (`y` indexed from t0, `register` the register
   * at t0); every one of them must have its full wings inside x, and tb - ta must be even.
   */
  interior(x: Float32Array, t0: number, ta: number, tb: number, register: number, y: Float32Array): void;
}

/** A kernel for one phase bank (one rate pair), or null without WebAssembly SIMD. */
export function simdKernel(tables: ResampleTables, bank: PhaseBank): SimdKernel | null {
  const inc = tables.timeIncrement;
  const den = bank.denominator;
  const dLo = Math.floor(inc);
  // phase of output t + 1 from the phase p of output t: the register grows by inc exactly
  const delta = (inc - dLo) * den;
  if (!Number.isInteger(delta)) return null;

  // Pair weights, lane 1 the next output's filter, both padded to the longer wing.
  const { leftStart, leftLen, rightStart, rightLen, weights } = bank;
  let pairCount = 0;
  for (let p = 0; p < den; p++) {
    const q = (p + delta) % den;
    pairCount += Math.max(leftLen[p]!, leftLen[q]!) + Math.max(rightLen[p]!, rightLen[q]!);
  }
  const maxWindow = Math.ceil(2 * CHUNK_PAIRS * inc) + bank.maxLeft + bank.maxRight + 8;
  const tabAt = 0;
  const weightsAt = tabAt + den * TABLE_ENTRY;
  const xAt = weightsAt + pairCount * 16;
  const loAt = xAt + maxWindow * 4;
  const hiAt = loAt + maxWindow * 16;
  const yAt = hiAt + maxWindow * 16;
  const end = yAt + 2 * CHUNK_PAIRS * 4;
  const exp = instantiateKernel<Exports>('resample', end);
  if (!exp) return null;
  const buf = exp.memory.buffer;
  const tab = new Int32Array(buf, tabAt, den * (TABLE_ENTRY / 4));
  const w = new Float64Array(buf, weightsAt, pairCount * 2);
  let at = 0;
  const fill = (start0: number, len0: number, start1: number, len1: number) => {
    const n = Math.max(len0, len1);
    for (let i = 0; i < n; i++) {
      w[2 * (at + i)] = i < len0 ? weights[start0 + i]! : 0;
      w[2 * (at + i) + 1] = i < len1 ? weights[start1 + i]! : 0;
    }
    const addr = weightsAt + at * 16;
    at += n;
    return { addr, n };
  };
  for (let p = 0; p < den; p++) {
    const q = (p + delta) % den;
    const left = fill(leftStart[p]!, leftLen[p]!, leftStart[q]!, leftLen[q]!);
    const right = fill(rightStart[p]!, rightLen[p]!, rightStart[q]!, rightLen[q]!);
    const e = p * (TABLE_ENTRY / 4);
    tab[e] = left.addr;
    tab[e + 1] = left.n;
    tab[e + 2] = right.addr;
    tab[e + 3] = right.n;
    tab[e + 4] = p + delta >= den ? 1 : 0; // the next output is dLo + 1 inputs on
  }
  const xWin = new Float32Array(buf, xAt, maxWindow);
  const yOut = new Float32Array(buf, yAt, 2 * CHUNK_PAIRS);

  return {
    interior(x, t0, ta, tb, register, y) {
      for (let t = ta; t < tb; t += 2 * CHUNK_PAIRS) {
        const pairs = Math.min(CHUNK_PAIRS, (tb - t) / 2);
        // exact: the registers are multiples of 2^-bits (registersExact), so no rounding here
        const reg = register + (t - t0) * inc;
        const first = Math.trunc(reg);
        const last = Math.trunc(register + (t + 2 * pairs - 1 - t0) * inc);
        const lo = Math.max(0, first - bank.maxLeft);
        const hi = Math.min(x.length - 1, last + bank.maxRight + 1);
        const n = hi - lo + 1;
        xWin.set(x.subarray(lo, hi + 1));
        exp.widen(xAt, n, dLo, loAt, hiAt);
        exp.interior(yAt, pairs, reg, inc, den, lo, loAt, hiAt, tabAt);
        y.set(yOut.subarray(0, 2 * pairs), t - t0);
      }
    },
  };
}

/**
 * resampleRangePhased's contract: the outputs whose wings lie inside the signal go through the kernel
 * (an even count of them), the few others through the scalar path.
 */
export function resampleRangeSimd(x: Float32Array, tables: ResampleTables, bank: PhaseBank, kernel: SimdKernel, t0: number, t1: number, register: number, y: Float32Array): void {
  const inc = tables.timeIncrement;
  const n = (t: number) => Math.trunc(register + (t - t0) * inc);
  const nLo = bank.maxLeft - 1;
  const nHi = x.length - 1 - bank.maxRight;
  let ta = t0;
  while (ta < t1 && n(ta) < nLo) ta++;
  let tb = t1;
  while (tb > ta && n(tb - 1) > nHi) tb--;
  if ((tb - ta) % 2 === 1) tb--;
  const scalar = (from: number, to: number) => {
    if (to > from) resampleRangePhased(x, tables, bank, from, to, register + (from - t0) * inc, y.subarray(from - t0, to - t0));
  };
  scalar(t0, ta);
  if (tb > ta) kernel.interior(x, t0, ta, tb, register, y);
  scalar(Math.max(ta, tb), t1);
}
