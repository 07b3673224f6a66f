/**
 * A faster route to the same samples as resampy's loop (resampy.ts), for the usual rates.
 *
 * resampy interpolates its filter table for every tap of every output sample. When the time increment
 * is a dyadic fraction m / 2^k (44.1 kHz -> 30.72 kHz is 735/512, 48 kHz -> 30.72 kHz 25/16, 22.05 kHz
 * -> 30.72 kHz 735/1024), the time register built by repeated addition is exact, so its fractional part
 * takes at most 2^k values and every output uses one of 2^k fixed filters. Those filters are built once
 * with the very float64 expressions resampy evaluates per tap (same operands, same rounding), which
 * leaves each output a plain dot product, accumulated in float32 tap by tap in resampy's order.
 */
import type { ResampleTables } from './resampy.ts';

/** Most phases worth tabulating (2^12 phases of ~190 float64 taps is ~6 MB). */
const MAX_PHASE_BITS = 12;

export interface PhaseBank {
  /** 2^bits: the register's fractional part times this is the phase index. */
  denominator: number;
  /** Per phase: start in `weights` and tap count of the left wing (x[n], x[n-1], ...). */
  leftStart: Int32Array;
  leftLen: Int32Array;
  /** Per phase: start and tap count of the right wing (x[n+1], x[n+2], ...). */
  rightStart: Int32Array;
  rightLen: Int32Array;
  weights: Float64Array;
  maxLeft: number;
  maxRight: number;
}

/** Smallest k with increment * 2^k an integer, or null when there is none up to MAX_PHASE_BITS. */
export function dyadicBits(timeIncrement: number): number | null {
  for (let k = 0; k <= MAX_PHASE_BITS; k++) if (Number.isInteger(timeIncrement * 2 ** k)) return k;
  return null;
}

/** The filters for every register fraction p / 2^bits, or null when the increment is not dyadic. */
export function phaseBank(tables: ResampleTables): PhaseBank | null {
  const bits = dyadicBits(tables.timeIncrement);
  if (bits === null) return null;
  const { table, nwin, scale, indexStep, perZero } = tables;
  const den = 2 ** bits;
  const stride = 2 * indexStep;
  const leftStart = new Int32Array(den);
  const leftLen = new Int32Array(den);
  const rightStart = new Int32Array(den);
  const rightLen = new Int32Array(den);
  const wing = (frac: number) => {
    const indexFrac = frac * perZero;
    const offset = Math.trunc(indexFrac);
    return { offset, eta: indexFrac - offset, len: Math.floor((nwin - offset) / indexStep) };
  };
  let total = 0;
  const wings: { l: ReturnType<typeof wing>; r: ReturnType<typeof wing> }[] = [];
  for (let p = 0; p < den; p++) {
    const frac = scale * (p / den); // resampy: scale * (time_register - n), here exactly p / 2^bits
    const l = wing(frac);
    const r = wing(scale - frac);
    wings.push({ l, r });
    total += l.len + r.len;
  }
  const weights = new Float64Array(total);
  let at = 0;
  let maxLeft = 0;
  let maxRight = 0;
  const fill = (w: ReturnType<typeof wing>) => {
    for (let i = 0, k = 2 * w.offset; i < w.len; i++, k += stride) weights[at++] = table[k]! + w.eta * table[k + 1]!;
  };
  for (let p = 0; p < den; p++) {
    const { l, r } = wings[p]!;
    leftStart[p] = at;
    leftLen[p] = l.len;
    fill(l);
    rightStart[p] = at;
    rightLen[p] = r.len;
    fill(r);
    maxLeft = Math.max(maxLeft, l.len);
    maxRight = Math.max(maxRight, r.len);
  }
  return { denominator: den, leftStart, leftLen, rightStart, rightLen, weights, maxLeft, maxRight };
}

/**
 * Whether every register from `register` through t1 - t0 more additions stays exact, so that the
 * phase index is exact: all are multiples of 2^-bits below 2^53 / 2^bits.
 */
export function registersExact(bank: PhaseBank, timeIncrement: number, register: number, outputs: number): boolean {
  const den = bank.denominator;
  if (!Number.isInteger(register * den)) return false;
  return (register + (outputs + 1) * timeIncrement) * den < 2 ** 52;
}

/**
 * One output sample at register position n + p / 2^bits: the phase's dot product, accumulated in
 * float32 tap by tap in resampy's order, its wings truncated at the signal's ends as resampy does.
 */
function sampleAt(x: Float32Array, bank: PhaseBank, n: number, p: number): number {
  const f32 = Math.fround;
  const w = bank.weights;
  let acc = 0;
  const ls = bank.leftStart[p]!;
  const iMax = Math.min(n + 1, bank.leftLen[p]!);
  for (let i = 0; i < iMax; i++) acc = f32(acc + w[ls + i]! * x[n - i]!);
  const rs = bank.rightStart[p]!;
  const kMax = Math.min(x.length - n - 1, bank.rightLen[p]!);
  for (let k = 0; k < kMax; k++) acc = f32(acc + w[rs + k]! * x[n + 1 + k]!);
  return acc;
}

/**
 * resampleRange's contract (same samples), through a phase bank; check registersExact first. The
 * outputs whose wings lie inside the signal go through the SIMD kernel where the engine has one
 * (resample-simd.ts); this path does the few at the ends, and everything where it has none.
 */
export function resampleRangePhased(x: Float32Array, tables: ResampleTables, bank: PhaseBank, t0: number, t1: number, register: number, y: Float32Array): void {
  const inc = tables.timeIncrement;
  const den = bank.denominator;
  let reg = register;
  for (let t = t0; t < t1; t++) {
    const n = Math.trunc(reg) | 0;
    y[t - t0] = sampleAt(x, bank, n, ((reg - n) * den) | 0);
    reg += inc;
  }
}
