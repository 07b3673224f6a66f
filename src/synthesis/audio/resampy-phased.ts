/**
 * A faster route to the same samples as resampy's loop (resampy.ts), for the usual rates.
 *
 * resampy interpolates its filter table for every tap of every output sample. When the time increment
 * is a dyadic fraction m / 2^k (44.1 kHz -> 30.72 kHz is 735/512, 48 kHz -> 30.72 kHz 25/16, 22.05 kHz
 * -> 30.72 kHz 735/1024), the time register built by repeated addition is exact, so its fractional part
 * takes at most 2^k values and every output uses one of 2^k fixed filters. Those filters are built once
 * with the very float64 expressions resampy evaluates per tap (same operands, same rounding), which
 * leaves each output a plain dot product, accumulated in float32 tap by tap in resampy's order.
 *
 * The accumulation is a serial chain (add, round to float32) whose latency dominates; eight outputs are
 * computed side by side so their independent chains overlap (measured against four in the latents
 * benchmark). Each output's own order is untouched.
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

/** One output sample at register position n + p / 2^bits, truncated at the signal's ends as resampy does. */
function edgeSample(x: Float32Array, bank: PhaseBank, n: number, p: number): number {
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

/** resampleRange's contract (same samples), through a phase bank; check registersExact first. */
export function resampleRangePhased(x: Float32Array, tables: ResampleTables, bank: PhaseBank, t0: number, t1: number, register: number, y: Float32Array): void {
  const f32 = Math.fround;
  const inc = tables.timeIncrement;
  const den = bank.denominator;
  const { leftStart, leftLen, rightStart, rightLen, weights: w } = bank;
  // Outputs whose wings fit inside the signal need no truncation.
  const nLo = bank.maxLeft - 1;
  const nHi = x.length - 1 - bank.maxRight;
  let reg = register;
  let t = t0;
  for (; t + 8 <= t1; t += 8) {
    const r0 = reg;
    const r1 = r0 + inc;
    const r2 = r1 + inc;
    const r3 = r2 + inc;
    const r4 = r3 + inc;
    const r5 = r4 + inc;
    const r6 = r5 + inc;
    const r7 = r6 + inc;
    reg = r7 + inc;
    const n0 = Math.trunc(r0) | 0;
    const n1 = Math.trunc(r1) | 0;
    const n2 = Math.trunc(r2) | 0;
    const n3 = Math.trunc(r3) | 0;
    const n4 = Math.trunc(r4) | 0;
    const n5 = Math.trunc(r5) | 0;
    const n6 = Math.trunc(r6) | 0;
    const n7 = Math.trunc(r7) | 0;
    const p0 = ((r0 - n0) * den) | 0;
    const p1 = ((r1 - n1) * den) | 0;
    const p2 = ((r2 - n2) * den) | 0;
    const p3 = ((r3 - n3) * den) | 0;
    const p4 = ((r4 - n4) * den) | 0;
    const p5 = ((r5 - n5) * den) | 0;
    const p6 = ((r6 - n6) * den) | 0;
    const p7 = ((r7 - n7) * den) | 0;
    const o = t - t0;
    if (n0 < nLo || n7 > nHi) {
      y[o + 0] = edgeSample(x, bank, n0, p0);
      y[o + 1] = edgeSample(x, bank, n1, p1);
      y[o + 2] = edgeSample(x, bank, n2, p2);
      y[o + 3] = edgeSample(x, bank, n3, p3);
      y[o + 4] = edgeSample(x, bank, n4, p4);
      y[o + 5] = edgeSample(x, bank, n5, p5);
      y[o + 6] = edgeSample(x, bank, n6, p6);
      y[o + 7] = edgeSample(x, bank, n7, p7);
      continue;
    }
    let a0 = 0;
    let a1 = 0;
    let a2 = 0;
    let a3 = 0;
    let a4 = 0;
    let a5 = 0;
    let a6 = 0;
    let a7 = 0;
    // Left wings: x[n], x[n-1], ... (taps beyond the shortest of the 8 finish per output).
    let s0 = leftStart[p0]!;
    let s1 = leftStart[p1]!;
    let s2 = leftStart[p2]!;
    let s3 = leftStart[p3]!;
    let s4 = leftStart[p4]!;
    let s5 = leftStart[p5]!;
    let s6 = leftStart[p6]!;
    let s7 = leftStart[p7]!;
    let l0 = leftLen[p0]!;
    let l1 = leftLen[p1]!;
    let l2 = leftLen[p2]!;
    let l3 = leftLen[p3]!;
    let l4 = leftLen[p4]!;
    let l5 = leftLen[p5]!;
    let l6 = leftLen[p6]!;
    let l7 = leftLen[p7]!;
    let m = Math.min(Math.min(Math.min(Math.min(Math.min(Math.min(Math.min(l0, l1), l2), l3), l4), l5), l6), l7);
    for (let i = 0; i < m; i++) {
      a0 = f32(a0 + w[s0 + i]! * x[n0 - i]!);
      a1 = f32(a1 + w[s1 + i]! * x[n1 - i]!);
      a2 = f32(a2 + w[s2 + i]! * x[n2 - i]!);
      a3 = f32(a3 + w[s3 + i]! * x[n3 - i]!);
      a4 = f32(a4 + w[s4 + i]! * x[n4 - i]!);
      a5 = f32(a5 + w[s5 + i]! * x[n5 - i]!);
      a6 = f32(a6 + w[s6 + i]! * x[n6 - i]!);
      a7 = f32(a7 + w[s7 + i]! * x[n7 - i]!);
    }
    for (let i = m; i < l0; i++) a0 = f32(a0 + w[s0 + i]! * x[n0 - i]!);
    for (let i = m; i < l1; i++) a1 = f32(a1 + w[s1 + i]! * x[n1 - i]!);
    for (let i = m; i < l2; i++) a2 = f32(a2 + w[s2 + i]! * x[n2 - i]!);
    for (let i = m; i < l3; i++) a3 = f32(a3 + w[s3 + i]! * x[n3 - i]!);
    for (let i = m; i < l4; i++) a4 = f32(a4 + w[s4 + i]! * x[n4 - i]!);
    for (let i = m; i < l5; i++) a5 = f32(a5 + w[s5 + i]! * x[n5 - i]!);
    for (let i = m; i < l6; i++) a6 = f32(a6 + w[s6 + i]! * x[n6 - i]!);
    for (let i = m; i < l7; i++) a7 = f32(a7 + w[s7 + i]! * x[n7 - i]!);
    // Right wings: x[n+1], x[n+2], ...
    s0 = rightStart[p0]!;
    s1 = rightStart[p1]!;
    s2 = rightStart[p2]!;
    s3 = rightStart[p3]!;
    s4 = rightStart[p4]!;
    s5 = rightStart[p5]!;
    s6 = rightStart[p6]!;
    s7 = rightStart[p7]!;
    l0 = rightLen[p0]!;
    l1 = rightLen[p1]!;
    l2 = rightLen[p2]!;
    l3 = rightLen[p3]!;
    l4 = rightLen[p4]!;
    l5 = rightLen[p5]!;
    l6 = rightLen[p6]!;
    l7 = rightLen[p7]!;
    m = Math.min(Math.min(Math.min(Math.min(Math.min(Math.min(Math.min(l0, l1), l2), l3), l4), l5), l6), l7);
    const b0 = n0 + 1;
    const b1 = n1 + 1;
    const b2 = n2 + 1;
    const b3 = n3 + 1;
    const b4 = n4 + 1;
    const b5 = n5 + 1;
    const b6 = n6 + 1;
    const b7 = n7 + 1;
    for (let k = 0; k < m; k++) {
      a0 = f32(a0 + w[s0 + k]! * x[b0 + k]!);
      a1 = f32(a1 + w[s1 + k]! * x[b1 + k]!);
      a2 = f32(a2 + w[s2 + k]! * x[b2 + k]!);
      a3 = f32(a3 + w[s3 + k]! * x[b3 + k]!);
      a4 = f32(a4 + w[s4 + k]! * x[b4 + k]!);
      a5 = f32(a5 + w[s5 + k]! * x[b5 + k]!);
      a6 = f32(a6 + w[s6 + k]! * x[b6 + k]!);
      a7 = f32(a7 + w[s7 + k]! * x[b7 + k]!);
    }
    for (let k = m; k < l0; k++) a0 = f32(a0 + w[s0 + k]! * x[b0 + k]!);
    for (let k = m; k < l1; k++) a1 = f32(a1 + w[s1 + k]! * x[b1 + k]!);
    for (let k = m; k < l2; k++) a2 = f32(a2 + w[s2 + k]! * x[b2 + k]!);
    for (let k = m; k < l3; k++) a3 = f32(a3 + w[s3 + k]! * x[b3 + k]!);
    for (let k = m; k < l4; k++) a4 = f32(a4 + w[s4 + k]! * x[b4 + k]!);
    for (let k = m; k < l5; k++) a5 = f32(a5 + w[s5 + k]! * x[b5 + k]!);
    for (let k = m; k < l6; k++) a6 = f32(a6 + w[s6 + k]! * x[b6 + k]!);
    for (let k = m; k < l7; k++) a7 = f32(a7 + w[s7 + k]! * x[b7 + k]!);
    y[o + 0] = a0;
    y[o + 1] = a1;
    y[o + 2] = a2;
    y[o + 3] = a3;
    y[o + 4] = a4;
    y[o + 5] = a5;
    y[o + 6] = a6;
    y[o + 7] = a7;
  }
  for (; t < t1; t++) {
    const n = Math.trunc(reg) | 0;
    y[t - t0] = edgeSample(x, bank, n, ((reg - n) * den) | 0);
    reg += inc;
  }
}
