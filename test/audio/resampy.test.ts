import { describe, expect, it } from 'vitest';
import { AudioError } from '../../src/audio/errors.ts';
import { ganceScaledRate, scaleForVideo } from '../../src/audio/gance-audio.ts';
import { besselI0, kaiserBestWindow, resampleKaiserBest, resampledLength } from '../../src/audio/resampy.ts';

describe('resampy kaiser_best emulation', () => {
  it('builds the 64-zero, 512-per-zero Kaiser sinc (rolloff at 0, zero at crossings)', () => {
    const w = kaiserBestWindow();
    expect(w.length).toBe(64 * 512 + 1);
    expect(w[0]).toBeCloseTo(0.9475937167399596, 15);
    // sinc(rolloff * x) crosses zero at x = k / rolloff, between table entries; sign flips there
    const k = Math.round(512 / 0.9475937167399596);
    expect(Math.sign(w[k - 1]!)).not.toBe(Math.sign(w[k + 1]!));
    expect(Math.abs(w.at(-1)!)).toBeLessThan(1e-5);
    expect(besselI0(0)).toBe(1);
    expect(besselI0(1)).toBeCloseTo(1.2660658777520082, 15);
  });

  it('keeps a low tone and its length like resampy (int(n * ratio))', () => {
    const n = 44100;
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = Math.fround(0.5 * Math.sin((2 * Math.PI * 100 * i) / 44100));
    const y = resampleKaiserBest(x, 44100, 30720);
    expect(y.length).toBe(resampledLength(n, 44100, 30720));
    expect(y.length).toBe(30719); // resampy truncates 30719.999999999996; GANce pads the frame
    for (const t of [5000, 10000, 20000]) expect(y[t]!).toBeCloseTo(0.5 * Math.sin((2 * Math.PI * 100 * t) / 30720), 3);
  });

  it('removes content above the new Nyquist when downsampling', () => {
    const n = 11025;
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = Math.fround(0.5 * Math.sin((2 * Math.PI * 18000 * i) / 44100));
    const y = resampleKaiserBest(x, 44100, 30720);
    let peak = 0;
    for (let t = 1000; t < y.length - 1000; t++) peak = Math.max(peak, Math.abs(y[t]!));
    expect(peak).toBeLessThan(1e-3);
  });

  it("computes GANce's scaled rate with its float arithmetic", () => {
    expect(ganceScaledRate(44100, 441000, 512, { fps: 60 })).toBe(30720);
    expect(ganceScaledRate(48000, 480000, 512, { fps: 24 })).toBe(12288);
    // target-vector mode: sr * target / (n / L)
    expect(ganceScaledRate(44100, 44100, 512, { targetVectors: 16 })).toBeCloseTo((44100 * 16) / (44100 / 512), 9);
  });

  it('pads to whole frames and refuses a track too short for one frame', async () => {
    const x = new Float32Array(44100).fill(0.1);
    const v = await scaleForVideo(x, 44100, 512, { fps: 25 });
    expect(v.samples.length % 512).toBe(0);
    expect(v.frames).toBe(25);
    await expect(scaleForVideo(new Float32Array(1), 44100, 512, { fps: 60 }, 'tiny.wav')).rejects.toBeInstanceOf(AudioError);
    await expect(scaleForVideo(x, 44100, 512, { fps: -1 }, 'x.wav')).rejects.toMatchObject({ code: 'AUDIO_BAD_PARAMETER', file: 'x.wav' });
  });
});

describe('phase-filter resampler', () => {
  const signal = (n: number) => {
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = Math.fround(0.6 * Math.sin(i * 0.0131) + 0.3 * Math.sin(i * 1.7) + (((i * 7919) % 17) - 8) / 40);
    return x;
  };
  const same = (a: Float32Array, b: Float32Array) => Buffer.compare(Buffer.from(a.buffer), Buffer.from(b.buffer)) === 0;

  it('gives the per-tap loop\'s samples bit for bit at the usual rates, edges and split points included', async () => {
    const { phaseBank } = await import('../../src/audio/resampy-phased.ts');
    const { resampleRange, resampleRangeReference, resampleTables, timeRegisterAt } = await import('../../src/audio/resampy.ts');
    for (const [from, to] of [[44100, 30720], [48000, 30720], [22050, 30720], [44100, 12288]] as const) {
      const tables = resampleTables(from, to);
      expect(phaseBank(tables), `${from} -> ${to} is dyadic`).not.toBeNull();
      const x = signal(from / 4 + 37);
      const n = resampledLength(x.length, from, to);
      const ref = new Float32Array(n);
      resampleRangeReference(x, tables, 0, n, 0, ref);
      const whole = new Float32Array(n);
      resampleRange(x, tables, 0, n, 0, whole);
      expect(same(whole, ref), `${from} -> ${to}`).toBe(true);
      // a split at an odd point, as the parallel pool makes them
      const cut = Math.floor(n / 3) + 1;
      const a = new Float32Array(cut);
      const b = new Float32Array(n - cut);
      resampleRange(x, tables, 0, cut, 0, a);
      resampleRange(x, tables, cut, n, timeRegisterAt(cut, tables.timeIncrement), b);
      const joined = new Float32Array(n);
      joined.set(a);
      joined.set(b, cut);
      expect(same(joined, ref), `${from} -> ${to} split at ${cut}`).toBe(true);
    }
  });

  it('falls back to the loop for a ratio that is not dyadic', async () => {
    const { phaseBank } = await import('../../src/audio/resampy-phased.ts');
    const { resampleRange, resampleRangeReference, resampleTables } = await import('../../src/audio/resampy.ts');
    const tables = resampleTables(44100, 30000);
    expect(phaseBank(tables)).toBeNull();
    const x = signal(4000);
    const n = resampledLength(x.length, 44100, 30000);
    const a = new Float32Array(n);
    const b = new Float32Array(n);
    resampleRange(x, tables, 0, n, 0, a);
    resampleRangeReference(x, tables, 0, n, 0, b);
    expect(same(a, b)).toBe(true);
  });
});
