/**
 * numpy's float32 pairwise summation. Expected values computed with numpy 2.4.6:
 *   x = np.random.RandomState(7).randn(n).astype(np.float32)
 *   np.add.reduce(np.square(x)), np.add.reduce(np.abs(x)), np.mean(np.square(x))
 * `f64Differs`: whether float32(the float64 running sum of the squares), what the noise normaliser and
 * the frame RMS used before, is another number.
 */
import { describe, expect, it } from 'vitest';
import { meanF32, pairwiseSumF32 } from '../../../src/audio/features/numpy-sum.ts';
import { LegacyRandomState } from '../../../src/latents/rng.ts';

const NUMPY: Array<[n: number, sumSquares: number, sumAbs: number, meanSquares: number, f64Differs: boolean]> = [
  [1, 2.857877016067505, 1.6905256509780884, 2.857877016067505, false],
  [7, 3.86452579498291, 3.388678789138794, 0.5520750880241394, true],
  [8, 6.943583011627197, 5.143403053283691, 0.8679478764533997, false],
  [9, 7.97921085357666, 6.1610612869262695, 0.8865789771080017, false],
  [100, 103.7975845336914, 79.92345428466797, 1.037975788116455, false],
  [128, 121.80126953125, 97.99723815917969, 0.9515724182128906, true],
  [129, 122.73094940185547, 98.96143341064453, 0.9514027237892151, false],
  // eslint-disable-next-line no-loss-of-precision -- the literal is exact (String(v) round-trips); the rule misjudges it
  [136, 128.15847778320312, 103.8653793334961, 0.9423417448997498, true],
  [512, 493.7393798828125, 400.2248840332031, 0.9643347263336182, true],
  [1000, 927.139404296875, 773.0355224609375, 0.927139401435852, true],
  [8192, 8073.876953125, 6474.251953125, 0.9855806827545166, false],
  [8193, 8074.8486328125, 6475.2373046875, 0.9855790138244629, true],
  [15360, 14977.640625, 12112.115234375, 0.9751068353652954, true],
  [100000, 99029.828125, 79403.78125, 0.9902982711791992, false],
  [1234567, 1235399.75, 985047.0, 1.0006744861602783, false],
];

describe("numpy's float32 pairwise sum", () => {
  it('gives numpy 2.4\'s float32 sums and means bit for bit (8-accumulator blocks, split above 128)', () => {
    for (const [n, sumSquares, sumAbs, meanSquares, f64Differs] of NUMPY) {
      const x = Float32Array.from(new LegacyRandomState(7).randn(n));
      expect(pairwiseSumF32(x, 0, n, true), `sum of squares, n=${n}`).toBe(sumSquares);
      expect(meanF32(x, 0, n, true), `mean of squares, n=${n}`).toBe(meanSquares);
      const abs = x.map(Math.abs);
      expect(pairwiseSumF32(abs, 0, n), `sum of |x|, n=${n}`).toBe(sumAbs);
      // a float64 running sum is not numpy's (where the table says so)
      let s = 0;
      for (let i = 0; i < n; i++) s += Math.fround(x[i]! * x[i]!);
      expect(Math.fround(s) !== sumSquares, `float64 sum, n=${n}`).toBe(f64Differs);
    }
  });

  it('sums a run inside a longer array (start offset)', () => {
    const x = Float32Array.from(new LegacyRandomState(7).randn(1000));
    const padded = new Float32Array(1010);
    padded.set(x, 7);
    expect(pairwiseSumF32(padded, 7, 1000, true)).toBe(927.139404296875);
  });
});
