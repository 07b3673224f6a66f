/**
 * scipy.ndimage.gaussian_filter1d: kernel exp(-x^2 / (2 sigma^2)) over radius int(truncate * sigma + 0.5),
 * normalised to sum 1, correlated in double precision with the symmetric pairing scipy's
 * NI_Correlate1D uses (centre first, then pairs from the outermost in).
 */
import { exp } from '../audio/features/detmath.ts';
import { complexMultiply, createPow2Fft } from '../audio/features/fft.ts';

export type BoundaryMode = 'wrap' | 'reflect';

export function gaussianKernel(sigma: number, truncate = 4.0): Float64Array {
  const radius = Math.trunc(truncate * sigma + 0.5);
  const sigma2 = sigma * sigma;
  const k = new Float64Array(2 * radius + 1);
  let sum = 0;
  for (let i = -radius; i <= radius; i++) {
    const v = exp((-0.5 / sigma2) * (i * i));
    k[i + radius] = v;
    sum += v;
  }
  for (let i = 0; i < k.length; i++) k[i] = k[i]! / sum;
  return k;
}

function boundaryIndex(i: number, n: number, mode: BoundaryMode): number {
  if (mode === 'wrap') return ((i % n) + n) % n;
  // reflect: (d c b a | a b c d | d c b a), period 2n
  const period = 2 * n;
  let j = ((i % period) + period) % period;
  if (j >= n) j = period - 1 - j;
  return j;
}

/**
 * Filter along the first axis of a (rows x cols) row-major array, all columns at once (so the inner
 * loop runs over contiguous memory). Output written as float32 when `out` is a Float32Array.
 */
export function gaussianFilterRows(
  data: ArrayLike<number>,
  rows: number,
  cols: number,
  sigma: number,
  mode: BoundaryMode,
  out: Float32Array | Float64Array,
  truncate = 4.0,
): void {
  const kernel = gaussianKernel(sigma, truncate);
  const radius = (kernel.length - 1) / 2;
  const acc = new Float64Array(cols);
  const w0 = kernel[radius]!;
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) acc[c] = data[base + c]! * w0;
    for (let k = radius; k >= 1; k--) {
      const wk = kernel[radius + k]!;
      const lo = boundaryIndex(r - k, rows, mode) * cols;
      const hi = boundaryIndex(r + k, rows, mode) * cols;
      for (let c = 0; c < cols; c++) acc[c] = acc[c]! + (data[lo + c]! + data[hi + c]!) * wk;
    }
    for (let c = 0; c < cols; c++) out[base + c] = acc[c]!;
  }
}

/** 1-D convenience wrapper. */
export function gaussianFilter1d(x: ArrayLike<number>, sigma: number, mode: BoundaryMode = 'reflect', truncate = 4.0): Float64Array {
  const out = new Float64Array(x.length);
  gaussianFilterRows(x, x.length, 1, sigma, mode, out, truncate);
  return out;
}

/** Columns copied out (column-major, float64) at a time: 16 float32 columns are one cache line of a row. */
const COLUMN_GROUP = 16;

/**
 * Same result as gaussianFilterRows(..., 'wrap') for float32 output, through FFT convolution: each pair
 * of columns is convolved in one complex FFT, block by block (overlap-save: every block of P rows of
 * the periodic signal gives its middle P - 2R outputs), so the transform stays small and cache-warm
 * whatever the track length. The double sums differ from direct summation only in rounding far below
 * float32 resolution. `out` may be `data` itself: the columns are copied out a group at a time before
 * their outputs are written, so a whole track's noise is filtered without a second copy of it.
 */
export function gaussianFilterRowsWrapFft(data: ArrayLike<number>, rows: number, cols: number, sigma: number, out: Float32Array | Float64Array, truncate = 4.0): void {
  const kernel = gaussianKernel(sigma, truncate);
  const R = (kernel.length - 1) / 2;
  // one block for a short signal; else blocks of about 20 kernel widths (FFT work per output near its least)
  let whole = 2;
  while (whole < rows + 2 * R) whole <<= 1;
  let block = 2;
  while (block < 20 * R) block <<= 1;
  const P = Math.min(whole, block);
  const V = P - 2 * R;
  const fft = createPow2Fft(P);
  const kk = new Float64Array(2 * P);
  for (let t = -R; t <= R; t++) kk[2 * (((t % P) + P) % P)] = kernel[t + R]!;
  const K = new Float64Array(2 * P);
  fft.transform(K, kk);
  const z = new Float64Array(2 * P);
  const Z = new Float64Array(2 * P);
  const y = new Float64Array(2 * P);
  // Columns are read down the rows: a column-major copy of a group keeps those reads contiguous.
  const columns = new Float64Array(rows * Math.min(COLUMN_GROUP, cols));
  for (let g = 0; g < cols; g += COLUMN_GROUP) {
    const width = Math.min(COLUMN_GROUP, cols - g);
    for (let r = 0; r < rows; r++) for (let j = 0; j < width; j++) columns[j * rows + r] = data[r * cols + g + j]!;
    // pairs within the group (the group is even but for a last odd column, as the pairs were over all columns)
    for (let j = 0; j < width; j += 2) {
      const c = g + j;
      const hasB = j + 1 < width;
      const a = j * rows;
      const b = (j + 1) * rows;
      for (let o = 0; o < rows; o += V) {
        // block position e holds row (o + e - R) of the periodic signal
        let r = (((o - R) % rows) + rows) % rows;
        for (let e = 0; e < P; e++) {
          z[2 * e] = columns[a + r]!;
          z[2 * e + 1] = hasB ? columns[b + r]! : 0;
          if (++r === rows) r = 0;
        }
        fft.transform(Z, z);
        complexMultiply(Z, Z, K, P);
        fft.inverseTransform(y, Z);
        const count = Math.min(V, rows - o);
        for (let q = 0; q < count; q++) {
          out[(o + q) * cols + c] = y[2 * (q + R)]!;
          if (hasB) out[(o + q) * cols + c + 1] = y[2 * (q + R) + 1]!;
        }
      }
    }
  }
}
