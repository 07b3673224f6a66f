import { describe, expect, it } from 'vitest';
import { ganceNoise } from '../../src/latents/noise.ts';
import { drawNormalsInto, noiseKernel } from '../../src/latents/noise-simd.ts';
import { LegacyRandomState } from '../../src/latents/rng.ts';

const same = (a: Float32Array, b: Float32Array) => a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;

describe('GANce noise: WebAssembly kernel', () => {
  it("draws numpy's legacy normals exactly as the JavaScript RandomState (odd counts, other seeds)", () => {
    expect(noiseKernel(7), 'kernel available on this Node').not.toBeNull();
    for (const [seed, n] of [[1234, 100_001], [0, 7], [4294967295, 1000]] as const) {
      const js = Float32Array.from(new LegacyRandomState(seed).randn(n));
      expect(same(noiseKernel(n)!.gauss(seed), js), `seed ${seed}`).toBe(true);
    }
  });

  it('draws a long run a chunk at a time into shared memory, the same normals as one run (past the kernel chunk)', () => {
    const n = (1 << 20) * 2 + 12_345;
    const out = new Float32Array(new SharedArrayBuffer(n * 4));
    expect(drawNormalsInto(1234, out)).toBe(true);
    const js = new LegacyRandomState(1234);
    let wrong = 0;
    for (let i = 0; i < n; i++) if (out[i] !== Math.fround(js.nextGauss())) wrong++;
    expect(wrong).toBe(0);
    // a whole track's noise comes back on shared memory (the helper thread posts it without a copy)
    expect(ganceNoise({ frames: 70, vectorLength: 512, seed: 1, sigma: 50, range: [-4, 4] }).buffer).toBeInstanceOf(SharedArrayBuffer);
  });

  it('gives the JavaScript path\'s float32 noise bit for bit (FFT and direct filters, no filter, other ranges)', () => {
    for (const o of [
      { frames: 700, sigma: 50, range: [-4, 4] as const },
      { frames: 61, sigma: 50, range: [-4, 4] as const },
      { frames: 333, sigma: 0, range: [-1, 3] as const },
      { frames: 900, sigma: 7.5, range: [0, 1] as const },
    ]) {
      const opts = { ...o, vectorLength: 512, seed: 99 };
      expect(same(ganceNoise(opts), ganceNoise({ ...opts, kernel: false })), JSON.stringify(o)).toBe(true);
    }
  });
});
