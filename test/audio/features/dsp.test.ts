import { describe, expect, it } from 'vitest';
import { ComplexDft, RealPairDft } from '../../../src/audio/features/fft.ts';
import { savgol, savgolPlan } from '../../../src/audio/features/savgol.ts';
import { rintHalfEven } from '../../../src/audio/features/detmath.ts';
import { gaussianFilter1d, gaussianFilterRows, gaussianFilterRowsWrapFft, gaussianKernel } from '../../../src/latents/gaussian.ts';
import { LegacyRandomState } from '../../../src/latents/rng.ts';

function naiveDft(re: number[], im: number[]): [number[], number[]] {
  const n = re.length;
  const or: number[] = [];
  const oi: number[] = [];
  for (let k = 0; k < n; k++) {
    let sr = 0;
    let si = 0;
    for (let j = 0; j < n; j++) {
      const a = (-2 * Math.PI * j * k) / n;
      sr += re[j]! * Math.cos(a) - im[j]! * Math.sin(a);
      si += re[j]! * Math.sin(a) + im[j]! * Math.cos(a);
    }
    or.push(sr);
    oi.push(si);
  }
  return [or, oi];
}

// scipy 1.17 values for x below
const X = [0.3, -1.2, 2.5, 0.7, 0.1, 4.0, -2.2, 1.1, 0.9, -0.4, 3.3];
const SAVGOL_7_3 = [0.23333333333332112, -0.31904761904762186, 0.416666666666668, 1.5571428571428583, 1.4285714285714297, 0.6666666666666673, 0.8380952380952386, 0.18571428571428572, -0.22857142857142654, 0.5000000000000077, 3.121428571428586];
const SAVGOL_5_3 = [0.05142857142856895, -0.2057142857142893, 1.0085714285714285, 0.9914285714285713, 1.6342857142857141, 1.0685714285714283, 0.5942857142857141, -0.22000000000000008, 0.5828571428571429, -0.1885714285714153, 3.2471428571428893];
const GAUSS_REFLECT_15 = [0.1558980683832014, 0.394847248107191, 0.7349521392501976, 0.9881718511157369, 1.065948154792246, 0.9276869770763876, 0.6673677326638325, 0.5642339643317764, 0.7711662245296501, 1.2139210568989882, 1.6158065828507922];
const GAUSS_WRAP_2 = [0.8399974311046514, 0.840372460584152, 0.8829362991564677, 0.9391114619636196, 0.9418906374231397, 0.8620495511660566, 0.7485988303910593, 0.6882485438806716, 0.7195552389116355, 0.7956257234501325, 0.8416138219684145];

describe('DSP building blocks', () => {
  it.each([1, 2, 7, 255, 510, 512])('complex DFT of length %i matches the definition', (n) => {
    const re = Array.from({ length: n }, (_, i) => Math.sin(i * 1.3) + (i % 5) * 0.1);
    const im = Array.from({ length: n }, (_, i) => Math.cos(i * 0.7) * 0.5);
    const input = new Float64Array(2 * n);
    for (let i = 0; i < n; i++) {
      input[2 * i] = re[i]!;
      input[2 * i + 1] = im[i]!;
    }
    const out = new Float64Array(2 * n);
    new ComplexDft(n).forward(out, input);
    const [er, ei] = naiveDft(re, im);
    for (let k = 0; k < n; k++) {
      expect(out[2 * k]).toBeCloseTo(er[k]!, 9);
      expect(out[2 * k + 1]).toBeCloseTo(ei[k]!, 9);
    }
  });

  it('transforms two real signals through one complex DFT', () => {
    const n = 510;
    const a = Array.from({ length: n }, (_, i) => Math.sin(i * 0.31));
    const b = Array.from({ length: n }, (_, i) => (i % 17) / 17);
    const oa = new Float64Array(2 * 255);
    const ob = new Float64Array(2 * 255);
    new RealPairDft(n).forward(a, b, 255, oa, ob);
    const [ar, ai] = naiveDft(a, new Array(n).fill(0));
    const [br, bi] = naiveDft(b, new Array(n).fill(0));
    for (const k of [0, 1, 100, 254]) {
      expect(oa[2 * k]).toBeCloseTo(ar[k]!, 9);
      expect(oa[2 * k + 1]).toBeCloseTo(ai[k]!, 9);
      expect(ob[2 * k]).toBeCloseTo(br[k]!, 9);
      expect(ob[2 * k + 1]).toBeCloseTo(bi[k]!, 9);
    }
  });

  it("Savitzky-Golay equals scipy's savgol_filter (mode interp), edges included", () => {
    const c = savgolPlan(7, 3).center;
    [-2, 3, 6, 7, 6, 3, -2].forEach((v, i) => expect(c[i]).toBeCloseTo(v / 21, 15));
    savgol(X, 7, 3).forEach((v, i) => expect(v).toBeCloseTo(SAVGOL_7_3[i]!, 12));
    savgol(X, 5, 3).forEach((v, i) => expect(v).toBeCloseTo(SAVGOL_5_3[i]!, 12));
    savgol(X, 3, 2).forEach((v, i) => expect(v).toBeCloseTo(X[i]!, 12));
    expect(() => savgol([1, 2, 3], 7, 3)).toThrow(/shorter than the window/);
    expect(() => savgolPlan(6, 3)).toThrow(/odd/);
  });

  it("Gaussian filter equals scipy.ndimage.gaussian_filter1d (reflect and wrap, truncate 4)", () => {
    const k = gaussianKernel(50);
    expect(k.length).toBe(401);
    expect(k.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 14);
    gaussianFilter1d(X, 1.5, 'reflect').forEach((v, i) => expect(v).toBeCloseTo(GAUSS_REFLECT_15[i]!, 13));
    gaussianFilter1d(X, 2.0, 'wrap').forEach((v, i) => expect(v).toBeCloseTo(GAUSS_WRAP_2[i]!, 13));
  });

  it('rounds half to even like numpy.rint', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, 1.4999, 1.6].map(rintHalfEven)).toEqual([0, 2, 2, -0, -2, 1, 2]);
  });
});

describe('GANce noise smoothing: FFT path', () => {
  it('gives the direct wrap-mode sums exactly, at the lengths where the noise switches to it and beyond', () => {
    // 600: one transform; 4000 and 18000 (5 min at 60 fps): overlap-save blocks
    for (const [frames, cols] of [[65, 64], [200, 64], [600, 32], [4000, 8], [18000, 4]] as const) {
      const rng = new LegacyRandomState(1234);
      const raw = new Float32Array(frames * cols);
      for (let i = 0; i < raw.length; i++) raw[i] = rng.nextGauss();
      const direct = new Float32Array(raw.length);
      const fft = new Float32Array(raw.length);
      gaussianFilterRows(raw, frames, cols, 50, 'wrap', direct);
      gaussianFilterRowsWrapFft(raw, frames, cols, 50, fft);
      expect(Buffer.compare(Buffer.from(direct.buffer), Buffer.from(fft.buffer)), `${frames} frames`).toBe(0);
    }
  });

  it('filters in place (out the input itself) to the same values, column groups of any width', () => {
    // 37 columns: two groups of 16 and one of 5 (an odd last column without a partner)
    for (const [frames, cols] of [[65, 37], [700, 37], [300, 512]] as const) {
      const rng = new LegacyRandomState(99);
      const raw = new Float32Array(frames * cols);
      for (let i = 0; i < raw.length; i++) raw[i] = rng.nextGauss();
      const direct = new Float32Array(raw.length);
      gaussianFilterRows(raw, frames, cols, 50, 'wrap', direct);
      gaussianFilterRowsWrapFft(raw, frames, cols, 50, raw);
      expect(Buffer.compare(Buffer.from(direct.buffer), Buffer.from(raw.buffer)), `${frames} x ${cols}`).toBe(0);
    }
  });
});
