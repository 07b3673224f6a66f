import { describe, expect, it } from 'vitest';
import { resampleRangeSimd, simdKernel } from '../../src/audio/resample-simd.ts';
import { phaseBank, resampleRangePhased } from '../../src/audio/resampy-phased.ts';
import { resampledLength, resampleRangeReference, resampleTables, timeRegisterAt } from '../../src/audio/resampy.ts';

const signal = (n: number) => {
  const x = new Float32Array(n);
  let s = 99;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    x[i] = Math.fround(0.5 * Math.sin(i * 0.0131) + 0.2 * Math.sin(i * 1.7) + (s / 2 ** 32 - 0.5) * 0.4);
  }
  return x;
};
const same = (a: Float32Array, b: Float32Array) => Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;

describe('SIMD resampler kernel', () => {
  it('is available on this Node (WebAssembly SIMD)', () => {
    const tables = resampleTables(44100, 30720);
    expect(simdKernel(tables, phaseBank(tables)!)).not.toBeNull();
  });

  it("gives resampy's samples bit for bit: rates with input steps 0/1, 1/2 and 3/4, several chunks, edges, odd split points", () => {
    for (const [from, to, seconds] of [[44100, 30720, 0.6], [48000, 30720, 0.4], [22050, 30720, 0.5], [96000, 30720, 0.5], [44100, 30720, 0.01]] as const) {
      const tables = resampleTables(from, to);
      const bank = phaseBank(tables)!;
      const kernel = simdKernel(tables, bank)!;
      const x = signal(Math.round(from * seconds) + 37);
      const n = resampledLength(x.length, from, to);
      const ref = new Float32Array(n);
      resampleRangeReference(x, tables, 0, n, 0, ref);
      const scalar = new Float32Array(n);
      resampleRangePhased(x, tables, bank, 0, n, 0, scalar);
      const simd = new Float32Array(n);
      resampleRangeSimd(x, tables, bank, kernel, 0, n, 0, simd);
      expect(same(scalar, ref), `${from} -> ${to} scalar`).toBe(true);
      expect(same(simd, ref), `${from} -> ${to} simd`).toBe(true);
      const cut = Math.floor(n / 3) + 1;
      const joined = new Float32Array(n);
      resampleRangeSimd(x, tables, bank, kernel, 0, cut, 0, joined.subarray(0, cut));
      resampleRangeSimd(x, tables, bank, kernel, cut, n, timeRegisterAt(cut, tables.timeIncrement), joined.subarray(cut));
      expect(same(joined, ref), `${from} -> ${to} split at ${cut}`).toBe(true);
    }
  });

  it('a kernel built for one chunk size gives the same samples across chunk boundaries (more than 8192 outputs)', () => {
    const tables = resampleTables(44100, 30720);
    const bank = phaseBank(tables)!;
    const x = signal(44100 * 2);
    const n = resampledLength(x.length, 44100, 30720);
    expect(n).toBeGreaterThan(3 * 8192);
    const ref = new Float32Array(n);
    resampleRangePhased(x, tables, bank, 0, n, 0, ref);
    const simd = new Float32Array(n);
    resampleRangeSimd(x, tables, bank, simdKernel(tables, bank)!, 0, n, 0, simd);
    expect(same(simd, ref)).toBe(true);
  });

});
