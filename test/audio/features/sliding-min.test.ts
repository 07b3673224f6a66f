import { describe, expect, it } from 'vitest';
import { SlidingMinimum } from '../../../src/audio/features/sliding-min.ts';
import { LegacyRandomState } from '../../../src/latents/rng.ts';

describe('sliding minimum', () => {
  it.each([1, 2, 3, 5, 8, 16])('equals the minimum over the last %i rows, compared one by one', (k) => {
    const width = 33;
    const rng = new LegacyRandomState(k);
    const rows: Float64Array[] = [];
    const min = new SlidingMinimum(k, width);
    for (let t = 0; t < 5 * k + 7; t++) {
      const row = rng.randn(width);
      // ties and repeated values too
      if (t % 4 === 1) row.set(rows[t - 1]!.subarray(0, 10));
      rows.push(row);
      const got = min.push(row);
      if (t < k - 1) {
        expect(got).toBeNull();
        continue;
      }
      const want = new Float64Array(width).fill(Infinity);
      for (let j = t - k + 1; j <= t; j++) for (let i = 0; i < width; i++) want[i] = Math.min(want[i]!, rows[j]![i]!);
      expect(Array.from(got!)).toEqual(Array.from(want));
    }
  });

  it('refuses a window that is not a positive integer', () => {
    expect(() => new SlidingMinimum(0, 4)).toThrow(/positive integer/);
    expect(() => new SlidingMinimum(2.5, 4)).toThrow(/positive integer/);
  });
});
