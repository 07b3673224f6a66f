import type { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { resampleKaiserBest } from '../../src/audio/resampy.ts';
import { FeatureError } from '../../src/audio/features/errors.ts';
import { richFeaturesOffline } from '../../src/audio/features/rich.ts';
import { ganceSpectrogram } from '../../src/audio/features/spectrogram.ts';
import { SpectrogramRows } from '../../src/audio/features/spectrogram-rows.ts';
import { analysisPool, type AnalysisPool } from '../../src/latents/analysis-pool.ts';

const bytes = (a: Float32Array | Float64Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const same = (a: Float32Array | Float64Array, b: Float32Array | Float64Array) => a.length === b.length && Buffer.compare(bytes(a), bytes(b)) === 0;

/** tones that change every 40 frames, clicks, hiss, and a stretch of digital silence */
function track(frames: number, vl = 512): Float32Array {
  const x = new Float32Array(frames * vl);
  let s = 5;
  for (let i = 0; i < x.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const f = Math.floor(i / vl);
    const tone = 0.3 * Math.sin(i * (0.01 + 0.004 * (Math.floor(f / 40) % 5)));
    const click = i % 7680 < 40 ? 0.8 : 0;
    x[i] = Math.fround(tone + click + (s / 2 ** 32 - 0.5) * 0.05);
  }
  x.fill(0, 20 * vl, 23 * vl + 100);
  return x;
}

describe('analysis pool', () => {
  const pools: AnalysisPool[] = [];
  const pool = (n: number) => {
    const p = analysisPool(n);
    pools.push(p);
    return p;
  };
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.close()));
  });

  it('resamples bit-identically to the single-threaded resampler', async () => {
    const x = track(30).subarray(0, 11025);
    const a = await pool(2).resample(x, 44100, 30720);
    expect(same(a, resampleKaiserBest(x, 44100, 30720))).toBe(true);
  }, 60_000);

  it('gives the serial spectrogram and rich features bit for bit with 1, 2 and 3 threads (odd frame count, roll on and off)', async () => {
    const x = track(301);
    const rich = { sampleRate: 30720, frameLength: 512, fps: 60 };
    for (const rollEnabled of [false, true]) {
      const opts = { vectorLength: 512, amplitudeRange: [-1, 1] as [number, number], rollEnabled };
      const serial = ganceSpectrogram(x, opts);
      const serialRich = richFeaturesOffline(x, rich);
      for (const n of [1, 2, 3]) {
        const r = await pool(n).analyse(x, opts, rich);
        expect(r.spectrogram.frames).toBe(serial.frames);
        expect(same(new SpectrogramRows(r.spectrogram).all(), serial.vectors), `${n} threads, roll ${rollEnabled}`).toBe(true);
        expect(r.rich).toEqual(serialRich);
      }
    }
    const none = await pool(2).analyse(x, { vectorLength: 512, amplitudeRange: [0, 1], rollEnabled: false }, null);
    expect(none.rich).toBeNull();
    // the magnitudes in memory given back by the caller (an odd number of float32s of garbage)
    const scratch = new SharedArrayBuffer((301 * 255 * 2 + 5) * 4);
    new Float32Array(scratch).fill(NaN);
    const opts = { vectorLength: 512, amplitudeRange: [-1, 1] as [number, number], rollEnabled: false };
    const reused = await pool(3).analyse(x, opts, null, scratch);
    expect(reused.spectrogram.decibels.buffer).toBe(scratch);
    expect(same(new SpectrogramRows(reused.spectrogram).all(), ganceSpectrogram(x, opts).vectors)).toBe(true);
  }, 60_000);

  it('a thread that dies fails its call with a reason, and the next call runs on a new thread', async () => {
    const started: Worker[] = [];
    const p = analysisPool(2, { onSpawn: (w) => started.push(w) });
    pools.push(p);
    await p.ready();
    expect(started).toHaveLength(2);
    const x = track(2000);
    const opts = { vectorLength: 512, amplitudeRange: [-1, 1] as [number, number], rollEnabled: false };
    const call = p.analyse(x, opts, { sampleRate: 30720, frameLength: 512, fps: 60 });
    await started[1]!.terminate();
    await expect(call).rejects.toThrow(/exited .* before answering/);
    const again = await p.analyse(x, opts, null);
    expect(started).toHaveLength(3);
    expect(same(new SpectrogramRows(again.spectrogram).all(), ganceSpectrogram(x, opts).vectors)).toBe(true);
  }, 60_000);

  it("refuses what the serial spectrogram refuses, with the same errors", async () => {
    const p = pool(2);
    const opts = { vectorLength: 512, amplitudeRange: [-1, 1] as [number, number], rollEnabled: false, file: 'quiet.wav' };
    await expect(p.analyse(new Float32Array(512 * 40), opts, null)).rejects.toMatchObject({ code: 'FEATURE_SILENT', file: 'quiet.wav' });
    await expect(p.analyse(track(6), opts, null)).rejects.toBeInstanceOf(FeatureError);
    await expect(p.analyse(track(6), opts, null)).rejects.toMatchObject({ code: 'FEATURE_TOO_SHORT' });
  }, 60_000);
});
