/**
 * numpy's float32 sum, as `np.add.reduce` / `np.mean` / `np.sum` compute it on a contiguous float32
 * array: `FLOAT_pairwise_sum` (numpy/_core/src/umath/loops_utils.h.src, numpy/core/... before 2.0) over the whole run, every
 * addition rounded to float32. Fewer than 8 values: added in order. Up to 128 (PW_BLOCKSIZE): 8
 * accumulators over strides of 8, combined as ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7)),
 * then the remainder added in order. Longer: split at n2 = n / 2 rounded down to a multiple of 8,
 * each half summed the same way, the two sums added.
 *
 * GANce's float32 means go through it: the noise normaliser `np.sqrt(np.mean(np.square(lat)))`
 * (one run over all frames x 512 values), librosa's frame RMS (`np.mean(abs2(frames), axis=-2)`, one
 * run of 512 per frame) and pandas' `Series.mean()` of the float32 RMS series (nanmean sums in the
 * series' dtype through numpy). Checked against numpy 2.4 (test/audio/features/numpy-sum.test.ts).
 */

const BLOCK = 128;

/** float32 pairwise sum of x[start .. start + n) (of x[i]^2 rounded to float32 with `squares`). */
export function pairwiseSumF32(x: ArrayLike<number>, start: number, n: number, squares = false): number {
  const f32 = Math.fround;
  const at = squares
    ? (i: number) => {
        const v = x[i]!;
        return f32(v * v);
      }
    : (i: number) => x[i]!;
  const sum = (s: number, m: number): number => {
    if (m < 8) {
      let res = 0;
      for (let i = 0; i < m; i++) res = f32(res + at(s + i));
      return res;
    }
    if (m <= BLOCK) {
      let r0 = at(s);
      let r1 = at(s + 1);
      let r2 = at(s + 2);
      let r3 = at(s + 3);
      let r4 = at(s + 4);
      let r5 = at(s + 5);
      let r6 = at(s + 6);
      let r7 = at(s + 7);
      let i = 8;
      for (const end = m - (m % 8); i < end; i += 8) {
        const b = s + i;
        r0 = f32(r0 + at(b));
        r1 = f32(r1 + at(b + 1));
        r2 = f32(r2 + at(b + 2));
        r3 = f32(r3 + at(b + 3));
        r4 = f32(r4 + at(b + 4));
        r5 = f32(r5 + at(b + 5));
        r6 = f32(r6 + at(b + 6));
        r7 = f32(r7 + at(b + 7));
      }
      let res = f32(f32(f32(r0 + r1) + f32(r2 + r3)) + f32(f32(r4 + r5) + f32(r6 + r7)));
      for (; i < m; i++) res = f32(res + at(s + i));
      return res;
    }
    let n2 = Math.floor(m / 2);
    n2 -= n2 % 8;
    return f32(sum(s, n2) + sum(s + n2, m - n2));
  };
  return sum(start, n);
}

/**
 * `np.mean` of float32 values: the pairwise float32 sum divided by the count (numpy divides by the
 * intp count in double and casts the quotient to float32; pandas divides by a float32 count, the
 * same number below 2^24 values).
 */
export function meanF32(x: ArrayLike<number>, start: number, n: number, squares = false): number {
  return Math.fround(pairwiseSumF32(x, start, n, squares) / n);
}
