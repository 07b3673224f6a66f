/**
 * Savitzky-Golay smoothing with scipy.signal.savgol_filter's defaults (deriv 0, mode 'interp'):
 * interior points use the convolution coefficients, the first and last window_length/2 points take
 * the value of a polynomial fitted to the first/last window.
 */

/** t^e by repeated multiplication (Math.pow may differ between engines). */
function ipow(t: number, e: number): number {
  let r = 1;
  for (let i = 0; i < e; i++) r *= t;
  return r;
}

/** Solve the normal equations (A^T A) c = A^T e for each unit vector: returns the pseudo-inverse rows. */
function polyFitMatrix(windowLength: number, polyorder: number, positions: number[]): Float64Array[] {
  // A[j][p] = t_j^p with t the positions; pinv(A) = (A^T A)^{-1} A^T, (polyorder+1) x windowLength.
  const P = polyorder + 1;
  const ata: number[][] = Array.from({ length: P }, () => new Array<number>(P).fill(0));
  for (let p = 0; p < P; p++) {
    for (let q = 0; q < P; q++) {
      let s = 0;
      for (const t of positions) s += ipow(t, p + q);
      ata[p]![q] = s;
    }
  }
  // Invert ATA by Gauss-Jordan with partial pivoting (P <= ~6, well conditioned for small windows).
  const inv: number[][] = Array.from({ length: P }, (_, i) => Array.from({ length: P }, (_, j) => (i === j ? 1 : 0)));
  const m = ata.map((r) => r.slice());
  for (let col = 0; col < P; col++) {
    let piv = col;
    for (let r = col + 1; r < P; r++) if (Math.abs(m[r]![col]!) > Math.abs(m[piv]![col]!)) piv = r;
    [m[col], m[piv]] = [m[piv]!, m[col]!];
    [inv[col], inv[piv]] = [inv[piv]!, inv[col]!];
    const d = m[col]![col]!;
    for (let j = 0; j < P; j++) {
      m[col]![j]! /= d;
      inv[col]![j]! /= d;
    }
    for (let r = 0; r < P; r++) {
      if (r === col) continue;
      const f = m[r]![col]!;
      if (f === 0) continue;
      for (let j = 0; j < P; j++) {
        m[r]![j] = m[r]![j]! - f * m[col]![j]!;
        inv[r]![j] = inv[r]![j]! - f * inv[col]![j]!;
      }
    }
  }
  const rows: Float64Array[] = [];
  for (let p = 0; p < P; p++) {
    const row = new Float64Array(windowLength);
    for (let j = 0; j < windowLength; j++) {
      let s = 0;
      for (let q = 0; q < P; q++) s += inv[p]![q]! * ipow(positions[j]!, q);
      row[j] = s;
    }
    rows.push(row);
  }
  return rows;
}

export interface SavgolPlan {
  readonly windowLength: number;
  readonly polyorder: number;
  /** Convolution weights applied to x[i - half .. i + half]. */
  readonly center: Float64Array;
  /** edgeStart[i]: weights on x[0..w-1] giving the smoothed value at i (i < half). */
  readonly edgeStart: Float64Array[];
  /** edgeEnd[i]: weights on the last w samples giving the value at n - half + i. */
  readonly edgeEnd: Float64Array[];
}

const plans = new Map<string, SavgolPlan>();

export function savgolPlan(windowLength: number, polyorder: number): SavgolPlan {
  const key = `${windowLength}/${polyorder}`;
  const cached = plans.get(key);
  if (cached) return cached;
  if (!Number.isInteger(windowLength) || windowLength < 1 || windowLength % 2 === 0) {
    throw new RangeError(`savgol window_length must be a positive odd integer, got ${windowLength}`);
  }
  if (!Number.isInteger(polyorder) || polyorder < 0 || polyorder >= windowLength) {
    throw new RangeError(`savgol polyorder must be less than window_length, got ${polyorder}`);
  }
  const half = (windowLength - 1) / 2;
  const centered = Array.from({ length: windowLength }, (_, j) => j - half);
  const rowsC = polyFitMatrix(windowLength, polyorder, centered);
  const center = rowsC[0]!; // value of the fitted polynomial at t = 0
  // Edges: fit on positions 0..w-1 and evaluate at 0..half-1 (start) and w-half..w-1 (end).
  const positions = Array.from({ length: windowLength }, (_, j) => j);
  const rows = polyFitMatrix(windowLength, polyorder, positions);
  const evalAt = (t: number): Float64Array => {
    const out = new Float64Array(windowLength);
    for (let j = 0; j < windowLength; j++) {
      let s = 0;
      for (let p = 0; p <= polyorder; p++) s += rows[p]![j]! * ipow(t, p);
      out[j] = s;
    }
    return out;
  };
  const edgeStart = Array.from({ length: half }, (_, i) => evalAt(i));
  const edgeEnd = Array.from({ length: half }, (_, i) => evalAt(windowLength - half + i));
  const plan = { windowLength, polyorder, center, edgeStart, edgeEnd };
  plans.set(key, plan);
  return plan;
}

/**
 * Smooth `n` samples read as x[offset + i*stride], writing out[outOffset + i*outStride].
 * Throws like scipy when the signal is shorter than the window.
 */
export function savgolStrided(
  plan: SavgolPlan,
  x: ArrayLike<number>,
  offset: number,
  stride: number,
  n: number,
  out: { [i: number]: number },
  outOffset: number,
  outStride: number,
): void {
  const w = plan.windowLength;
  if (n < w) throw new RangeError(`savgol: signal of ${n} samples is shorter than the window of ${w}`);
  const half = (w - 1) / 2;
  const c = plan.center;
  if (stride === 1 && outStride === 1 && x instanceof Float64Array && out instanceof Float64Array) savgolInteriorContiguous(c, x, offset, n, out, outOffset);
  else for (let i = half; i < n - half; i++) {
    let s = 0;
    const base = offset + (i - half) * stride;
    for (let j = 0; j < w; j++) s += c[j]! * x[base + j * stride]!;
    out[outOffset + i * outStride] = s;
  }
  for (let i = 0; i < half; i++) {
    const e = plan.edgeStart[i]!;
    let s = 0;
    for (let j = 0; j < w; j++) s += e[j]! * x[offset + j * stride]!;
    out[outOffset + i * outStride] = s;
    const e2 = plan.edgeEnd[i]!;
    let s2 = 0;
    const base = offset + (n - w) * stride;
    for (let j = 0; j < w; j++) s2 += e2[j]! * x[base + j * stride]!;
    out[outOffset + (n - half + i) * outStride] = s2;
  }
}

/**
 * The interior of savgolStrided for contiguous float64 rows (the spectrogram's within-frame passes,
 * 512 x 51 taps per frame): monomorphic, and four outputs at a time so their sums run side by side.
 * Each sum still starts at 0 and adds the taps in window order, so the values are the same.
 */
function savgolInteriorContiguous(c: Float64Array, x: Float64Array, offset: number, n: number, out: Float64Array, outOffset: number): void {
  const w = c.length;
  const half = (w - 1) / 2;
  const end = n - half;
  let i = half;
  for (; i + 4 <= end; i += 4) {
    const b = offset + i - half;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let j = 0; j < w; j++) {
      const cj = c[j]!;
      s0 += cj * x[b + j]!;
      s1 += cj * x[b + j + 1]!;
      s2 += cj * x[b + j + 2]!;
      s3 += cj * x[b + j + 3]!;
    }
    const o = outOffset + i;
    out[o] = s0;
    out[o + 1] = s1;
    out[o + 2] = s2;
    out[o + 3] = s3;
  }
  for (; i < end; i++) {
    let s = 0;
    const b = offset + i - half;
    for (let j = 0; j < w; j++) s += c[j]! * x[b + j]!;
    out[outOffset + i] = s;
  }
}

export function savgol(x: ArrayLike<number>, windowLength: number, polyorder: number): Float64Array {
  const out = new Float64Array(x.length);
  savgolStrided(savgolPlan(windowLength, polyorder), x, 0, 1, x.length, out, 0, 1);
  return out;
}
