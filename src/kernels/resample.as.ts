/**
 * AssemblyScript source of resample.wasm: the interior of resampy-phased's dot products, two
 * consecutive outputs per f64x2 vector (lane 0 output t, lane 1 output t + 1).
 *
 * Each lane keeps its own output's arithmetic: product in float64, sum in float64, rounded to float32
 * after every tap, taps in resampy's order. Only independent outputs share an instruction, so the
 * samples stay bit-identical to the scalar path. Wing lengths of a pair are padded to the longer one
 * with zero weights; adding 0 * x (x finite) to a float32 sum leaves it unchanged.
 *
 * Memory layout, all set up by audio/resample-simd.ts:
 *  - phase table (`tab`), 8 i32 per phase p of output t: byte address of the left-wing pair weights,
 *    their count, the same two for the right wing, and the input-pair array to read (0 or 1);
 *  - pair weights: (w_p[i], w_p'[i]) as two f64, p' the phase of output t + 1;
 *  - two input-pair arrays: (x[j], x[j + d]) as two f64 for j over the chunk's window, d the input
 *    step from output t to t + 1 (the integer part of the increment, or one more).
 *
 * Rebuild with `npm run build:wasm` (build.ts); a test checks the committed binary.
 */

@inline
function tap(acc: v128, w: usize, x: usize): v128 {
  return f64x2.promote_low_f32x4(f32x4.demote_f64x2_zero(f64x2.add(acc, f64x2.mul(v128.load(w), v128.load(x)))));
}

/** Fills the input-pair arrays for `n` samples of float32 input at `src`. */
export function widen(src: usize, n: i32, dLo: i32, pairsLo: usize, pairsHi: usize): void {
  const dHi = dLo + 1;
  for (let j = 0; j < n; j++) {
    const a = <f64>load<f32>(src + (<usize>j << 2));
    const lo = j + dLo < n ? <f64>load<f32>(src + (<usize>(j + dLo) << 2)) : 0.0;
    const hi = j + dHi < n ? <f64>load<f32>(src + (<usize>(j + dHi) << 2)) : 0.0;
    store<f64>(pairsLo + (<usize>j << 4), a);
    store<f64>(pairsLo + (<usize>j << 4), lo, 8);
    store<f64>(pairsHi + (<usize>j << 4), a);
    store<f64>(pairsHi + (<usize>j << 4), hi, 8);
  }
}

/**
 * `pairs` pairs of outputs from register `reg` (t, t + 1, ... t + 2 * pairs - 1), written as float32
 * at `y`. `xBase` is the input index of element 0 of the pair arrays. Returns the register after them.
 */
export function interior(y: usize, pairs: i32, reg: f64, inc: f64, den: f64, xBase: i32, pairsLo: usize, pairsHi: usize, tab: usize): f64 {
  let q = 0;
  for (; q + 4 <= pairs; q += 4) {
    const r0 = reg;
    const r1 = r0 + inc + inc;
    const r2 = r1 + inc + inc;
    const r3 = r2 + inc + inc;
    reg = r3 + inc + inc;
    const n0 = <i32>r0;
    const n1 = <i32>r1;
    const n2 = <i32>r2;
    const n3 = <i32>r3;
    const e0 = tab + (<usize>(<i32>((r0 - <f64>n0) * den)) << 5);
    const e1 = tab + (<usize>(<i32>((r1 - <f64>n1) * den)) << 5);
    const e2 = tab + (<usize>(<i32>((r2 - <f64>n2) * den)) << 5);
    const e3 = tab + (<usize>(<i32>((r3 - <f64>n3) * den)) << 5);
    const b0 = (load<i32>(e0, 16) ? pairsHi : pairsLo) + (<usize>(n0 - xBase) << 4);
    const b1 = (load<i32>(e1, 16) ? pairsHi : pairsLo) + (<usize>(n1 - xBase) << 4);
    const b2 = (load<i32>(e2, 16) ? pairsHi : pairsLo) + (<usize>(n2 - xBase) << 4);
    const b3 = (load<i32>(e3, 16) ? pairsHi : pairsLo) + (<usize>(n3 - xBase) << 4);
    let a0 = f64x2.splat(0);
    let a1 = f64x2.splat(0);
    let a2 = f64x2.splat(0);
    let a3 = f64x2.splat(0);
    // left wings x[n], x[n - 1], ... (table fields 0 and 4), then right wings x[n + 1], ... (8 and 12)
    for (let side = 0; side < 2; side++) {
      const field = <usize>(side << 3);
      const step: usize = side ? 16 : <usize>-16;
      let w0 = <usize>load<i32>(e0 + field);
      let w1 = <usize>load<i32>(e1 + field);
      let w2 = <usize>load<i32>(e2 + field);
      let w3 = <usize>load<i32>(e3 + field);
      const l0 = load<i32>(e0 + field, 4);
      const l1 = load<i32>(e1 + field, 4);
      const l2 = load<i32>(e2 + field, 4);
      const l3 = load<i32>(e3 + field, 4);
      let x0 = b0 + (field << 1);
      let x1 = b1 + (field << 1);
      let x2 = b2 + (field << 1);
      let x3 = b3 + (field << 1);
      const m = min(min(l0, l1), min(l2, l3));
      for (let i = 0; i < m; i++) {
        a0 = tap(a0, w0, x0);
        a1 = tap(a1, w1, x1);
        a2 = tap(a2, w2, x2);
        a3 = tap(a3, w3, x3);
        w0 += 16; w1 += 16; w2 += 16; w3 += 16;
        x0 += step; x1 += step; x2 += step; x3 += step;
      }
      for (let i = m; i < l0; i++) { a0 = tap(a0, w0, x0); w0 += 16; x0 += step; }
      for (let i = m; i < l1; i++) { a1 = tap(a1, w1, x1); w1 += 16; x1 += step; }
      for (let i = m; i < l2; i++) { a2 = tap(a2, w2, x2); w2 += 16; x2 += step; }
      for (let i = m; i < l3; i++) { a3 = tap(a3, w3, x3); w3 += 16; x3 += step; }
    }
    const o = y + (<usize>q << 3);
    v128.store64_lane(o, f32x4.demote_f64x2_zero(a0), 0);
    v128.store64_lane(o, f32x4.demote_f64x2_zero(a1), 0, 8);
    v128.store64_lane(o, f32x4.demote_f64x2_zero(a2), 0, 16);
    v128.store64_lane(o, f32x4.demote_f64x2_zero(a3), 0, 24);
  }
  for (; q < pairs; q++) {
    const r0 = reg;
    reg = r0 + inc + inc;
    const n0 = <i32>r0;
    const e0 = tab + (<usize>(<i32>((r0 - <f64>n0) * den)) << 5);
    const b0 = (load<i32>(e0, 16) ? pairsHi : pairsLo) + (<usize>(n0 - xBase) << 4);
    let a0 = f64x2.splat(0);
    for (let side = 0; side < 2; side++) {
      const field = <usize>(side << 3);
      const step: usize = side ? 16 : <usize>-16;
      let w0 = <usize>load<i32>(e0 + field);
      const l0 = load<i32>(e0 + field, 4);
      let x0 = b0 + (field << 1);
      for (let i = 0; i < l0; i++) { a0 = tap(a0, w0, x0); w0 += 16; x0 += step; }
    }
    v128.store64_lane(y + (<usize>q << 3), f32x4.demote_f64x2_zero(a0), 0);
  }
  return reg;
}
