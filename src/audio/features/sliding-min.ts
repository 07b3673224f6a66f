/**
 * Element-wise minimum of the last k rows pushed (the sustained spectrum of the rich features).
 * For k a power of two the minimum is built by doubling: level j holds the minimum of the last 2^j
 * rows, from level j-1 now and 2^(j-1) rows ago, so each row costs log2(k) comparisons per element
 * instead of k - 1. Minimum is exact, so the result is the same as comparing all k rows.
 */
export class SlidingMinimum {
  private readonly levels: Float64Array[][];
  private readonly ring: Float64Array[];
  private readonly out: Float64Array;
  private readonly doubling: boolean;
  private pushed = 0;

  constructor(
    readonly k: number,
    readonly width: number,
  ) {
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`window must be a positive integer, got ${k}`);
    this.doubling = (k & (k - 1)) === 0;
    const depth = Math.log2(k);
    // level j (0 = the rows themselves) keeps the last 2^(j+1) of its values, enough to look back 2^j
    this.levels = this.doubling ? Array.from({ length: depth }, (_, j) => Array.from({ length: 2 ** (j + 1) }, () => new Float64Array(width).fill(Infinity))) : [];
    this.ring = this.doubling ? [] : Array.from({ length: k }, () => new Float64Array(width));
    this.out = new Float64Array(width);
  }

  /** Adds a row; returns the minimum of the last k rows, or null until k rows have come. */
  push(row: ArrayLike<number>): Float64Array | null {
    const t = this.pushed++;
    const n = this.width;
    const out = this.out;
    if (this.doubling) {
      const levels = this.levels;
      if (levels.length === 0) for (let i = 0; i < n; i++) out[i] = row[i]!;
      else {
        const first = levels[0]!;
        const slot = first[t & (first.length - 1)]!;
        for (let i = 0; i < n; i++) slot[i] = row[i]!;
      }
      for (let j = 0; j < levels.length; j++) {
        const level = levels[j]!;
        const mask = level.length - 1;
        const a = level[t & mask]!;
        // slots before the first row hold +Infinity (t - 2^j < 0 wraps to one of them)
        const b = level[(t - 2 ** j) & mask]!;
        const above = levels[j + 1];
        const dst = above ? above[t & (above.length - 1)]! : out;
        for (let i = 0; i < n; i++) dst[i] = a[i]! < b[i]! ? a[i]! : b[i]!;
      }
    } else {
      const slot = this.ring[t % this.k]!;
      for (let i = 0; i < n; i++) slot[i] = row[i]!;
      out.set(this.ring[0]!);
      for (let j = 1; j < this.k; j++) {
        const r = this.ring[j]!;
        for (let i = 0; i < n; i++) if (r[i]! < out[i]!) out[i] = r[i]!;
      }
    }
    return this.pushed >= this.k ? out : null;
  }
}
