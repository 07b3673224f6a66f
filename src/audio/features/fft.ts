/**
 * FFTs for the sizes GANce uses. fft.js does the power-of-two work; GANce's spectrogram needs a 510-point
 * FFT and scipy's Fourier resampling a 255-point one, which Bluestein's chirp-z turns into power-of-two
 * convolutions. Twiddle and chirp tables come from detmath so the output is the same on every engine.
 */
import FFT from 'fft.js';
import { cospi, sinpi } from './detmath.ts';

/** fft.js instance whose twiddle table is rebuilt with deterministic sin/cos. */
export function createPow2Fft(size: number): FFT {
  const f = new FFT(size);
  const table = f.table;
  for (let i = 0; i < table.length; i += 2) {
    // fft.js uses angle = PI * i / size; i / size is exact for a power-of-two size.
    table[i] = cospi(i / size);
    table[i + 1] = -sinpi(i / size);
  }
  return f;
}

function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p <<= 1;
  return p;
}

/**
 * Forward complex DFT of any length n >= 1 (X[k] = sum x[j] e^{-2 pi i jk/n}).
 * Interleaved re/im Float64Arrays of length 2n. Power-of-two sizes go straight to fft.js.
 */
export class ComplexDft {
  readonly n: number;
  private readonly pow2: FFT | null;
  private readonly m: number;
  private readonly conv: FFT | null;
  private readonly chirp: Float64Array; // w[j] = e^{-i pi j^2 / n}, interleaved
  private readonly chirpSpectrum: Float64Array; // FFT of conj(w) arranged circularly
  private readonly a: Float64Array;
  private readonly aSpec: Float64Array;
  private readonly c: Float64Array;

  constructor(n: number) {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`DFT length must be a positive integer, got ${n}`);
    this.n = n;
    const isPow2 = n >= 2 && (n & (n - 1)) === 0;
    if (isPow2 || n === 1) {
      this.pow2 = n === 1 ? null : createPow2Fft(n);
      this.m = n;
      this.conv = null;
      this.chirp = new Float64Array(0);
      this.chirpSpectrum = new Float64Array(0);
      this.a = this.aSpec = this.c = new Float64Array(0);
      return;
    }
    this.pow2 = null;
    const m = nextPow2(2 * n - 1);
    this.m = m;
    this.conv = createPow2Fft(m);
    this.chirp = new Float64Array(2 * n);
    const twoN = 2 * n;
    for (let j = 0; j < n; j++) {
      // j^2 mod 2n keeps the angle small and exact (j^2 < 2^53 for any sane n).
      const r = (j * j) % twoN;
      this.chirp[2 * j] = cospi(r / n);
      this.chirp[2 * j + 1] = -sinpi(r / n);
    }
    const b = new Float64Array(2 * m);
    for (let j = 0; j < n; j++) {
      const re = this.chirp[2 * j]!;
      const im = -this.chirp[2 * j + 1]!; // conj
      b[2 * j] = re;
      b[2 * j + 1] = im;
      if (j > 0) {
        b[2 * (m - j)] = re;
        b[2 * (m - j) + 1] = im;
      }
    }
    this.chirpSpectrum = new Float64Array(2 * m);
    this.conv.transform(this.chirpSpectrum, b);
    this.a = new Float64Array(2 * m);
    this.aSpec = new Float64Array(2 * m);
    this.c = new Float64Array(2 * m);
  }

  /** out = DFT(input); both interleaved complex of length 2n. */
  forward(out: Float64Array, input: Float64Array): void {
    const n = this.n;
    if (this.pow2) {
      this.pow2.transform(out, input);
      return;
    }
    if (n === 1) {
      out[0] = input[0]!;
      out[1] = input[1]!;
      return;
    }
    const { a, aSpec, c, chirp, chirpSpectrum, m } = this;
    a.fill(0);
    complexMultiply(a, input, chirp, n);
    const conv = this.conv!;
    conv.transform(aSpec, a);
    complexMultiply(a, aSpec, chirpSpectrum, m);
    conv.inverseTransform(c, a);
    complexMultiply(out, c, chirp, n);
  }
}

/** out[k] = x[k] * y[k] for the first `count` interleaved complex values (out may be x). */
export function complexMultiply(out: Float64Array, x: Float64Array, y: Float64Array, count: number): void {
  for (let k = 0; k < count; k++) {
    const xr = x[2 * k]!;
    const xi = x[2 * k + 1]!;
    const yr = y[2 * k]!;
    const yi = y[2 * k + 1]!;
    out[2 * k] = xr * yr - xi * yi;
    out[2 * k + 1] = xr * yi + xi * yr;
  }
}

/**
 * DFT of two real sequences of length n at once through one complex DFT (x as real part, y as
 * imaginary). Writes bins 0..bins-1 of each spectrum as interleaved complex.
 */
export class RealPairDft {
  readonly n: number;
  private readonly dft: ComplexDft;
  private readonly z: Float64Array;
  private readonly zSpec: Float64Array;

  constructor(n: number) {
    this.n = n;
    this.dft = new ComplexDft(n);
    this.z = new Float64Array(2 * n);
    this.zSpec = new Float64Array(2 * n);
  }

  /** x, y: real inputs (y may be null); outX/outY: interleaved complex, `bins` entries each. */
  forward(x: ArrayLike<number>, y: ArrayLike<number> | null, bins: number, outX: Float64Array, outY: Float64Array | null): void {
    const { n, z, zSpec } = this;
    for (let j = 0; j < n; j++) {
      z[2 * j] = x[j]!;
      z[2 * j + 1] = y ? y[j]! : 0;
    }
    this.dft.forward(zSpec, z);
    for (let k = 0; k < bins; k++) {
      const nk = k === 0 ? 0 : n - k;
      const zr = zSpec[2 * k]!;
      const zi = zSpec[2 * k + 1]!;
      const cr = zSpec[2 * nk]!;
      const ci = -zSpec[2 * nk + 1]!; // conj(Z[n-k])
      outX[2 * k] = 0.5 * (zr + cr);
      outX[2 * k + 1] = 0.5 * (zi + ci);
      if (outY) {
        // (Z[k] - conj(Z[n-k])) / (2i)
        outY[2 * k] = 0.5 * (zi - ci);
        outY[2 * k + 1] = -0.5 * (zr - cr);
      }
    }
  }
}
