import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { probeAudio } from '../../src/audio/decode.ts';
import { LatentsConfig } from '../../src/latents/config.ts';
import { LatentError } from '../../src/latents/errors.ts';
import { latentFrameAt, offlineLatents, prepareOffline, type OfflinePlan } from '../../src/latents/offline.ts';
import { createLiveParams, updateLiveParams } from '../../src/latents/params.ts';
import { LegacyRandomState } from '../../src/latents/rng.ts';
import { ProjectionFileReader } from '../../src/latents/projection/reader.ts';
import { addInto, clicks, noise, tempDir, tone, writeWav } from '../audio/wav.ts';
import { writeSmallProjection } from './projection/small-file.ts';

const defaults = () => Value.Default(LatentsConfig, {}) as LatentsConfig;

describe('latent config section', () => {
  it("defaults are GANce's defaults and unknown keys are refused", () => {
    const c = defaults();
    expect(c).toMatchObject({ mode: 'noise-blend', fps: 60, vectorLength: 512, numWs: 18, alpha: 0.25, fftRollEnabled: false, fftAmplitudeRange: [-1, 1], blendDepth: 10, noise: { seed: 1234, sigma: 50, range: [-4, 4] } });
    expect(Value.Check(LatentsConfig, c)).toBe(true);
    expect(Value.Check(LatentsConfig, { ...c, alpah: 0.3 })).toBe(false);
    expect(Value.Check(LatentsConfig, { ...c, streaming: { ...c.streaming, lookaheadFrames: 2 } })).toBe(false);
  });
});

describe('numpy RandomState', () => {
  it('reproduces numpy.random.RandomState(1234).randn', () => {
    const r = new LegacyRandomState(1234).randn(100001);
    expect(Array.from(r.subarray(0, 5))).toEqual([0.47143516373249306, -1.1909756947064645, 1.4327069684260973, -0.3126518960917129, -0.7205887333650116]);
    expect(Array.from(r.subarray(-3))).toEqual([-1.2205307837549175, 0.3841123689377928, -0.3763009945025038]);
    expect(new LegacyRandomState(5489).nextUint32()).toBe(3499211612); // MT19937 reference output
  });
});

describe('offline latents', () => {
  let dir: string;
  let song: string;
  let plan: OfflinePlan;
  beforeAll(async () => {
    dir = tempDir('gance-latents-');
    song = join(dir, 'song.wav');
    // 2 s: a chord, then clicks over it, then a quiet tail: loudness varies so networks switch
    const n = 44100 * 2;
    const chord = tone(44100, 2, [261.63, 329.63, 392.0], 0.15);
    const perc = clicks(44100, 2, 0.25);
    for (let i = 0; i < n / 2; i++) perc[i] = 0;
    const mix = addInto(addInto(chord, perc), noise(n, 0.01, 7));
    for (let i = Math.floor(n * 0.8); i < n; i++) mix[i] = Math.round(mix[i]! * 0.1);
    writeWav(song, 44100, 1, mix);
    plan = await prepareOffline({ files: [song], config: defaults() });
  });

  it('gives one z per frame at the video rate, network indices across all networks, features', async () => {
    expect(plan.frames).toBe(120);
    const params = createLiveParams(defaults(), 4);
    const frames = [];
    for await (const f of offlineLatents(plan, params)) frames.push(f);
    expect(frames.map((f) => f.index)).toEqual(Array.from({ length: 120 }, (_, i) => i));
    expect(frames.every((f) => f.z!.length === 512 && f.z!.every(Number.isFinite))).toBe(true);
    const nets = new Set(frames.map((f) => f.network));
    expect(Math.max(...nets)).toBe(3);
    expect(Math.min(...nets)).toBe(0);
    expect(frames[110]!.network).toBeLessThan(frames[80]!.network); // the quiet tail picks lower networks
    expect(frames[90]!.features!.pulse).toBeGreaterThan(0);
    expect(frames[40]!.features!.chroma.length).toBe(12);
  });

  it('takes live parameter changes on the next frame without restarting', async () => {
    const params = createLiveParams(defaults(), 2);
    const gen = offlineLatents(plan, params);
    const a = (await gen.next()).value!;
    updateLiveParams(params, { alpha: 1, amplitudeRange: [-5, 5], networkOverride: 1 });
    const b = (await gen.next()).value!;
    expect(b.network).toBe(1);
    // alpha 1: z is the spectrogram alone, re-mapped from -1..1 to -5..5
    const plain = latentFrameAt(plan, 1, { ...createLiveParams(defaults(), 2), alpha: 1 });
    for (const i of [0, 100, 511]) expect(b.z![i]).toBeCloseTo(plain.z![i]! * 5, 5);
    expect(a.index).toBe(0);
    expect(() => updateLiveParams(params, { alpha: -1 })).toThrow(LatentError);
    expect(() => updateLiveParams(params, { networkOverride: 5 })).toThrow(/not below the network count 2/);
    expect(() => updateLiveParams(params, { colour: 'red' })).toThrow(LatentError);
    expect(() => updateLiveParams(params, { alpha: 0.5, amplitudeRange: [5, -5] })).toThrow(/amplitudeRange must be \[min, max\] with min <= max, got \[5, -5\]/);
    expect(params.amplitudeRange).toEqual([-5, 5]);
    expect(params.alpha).toBe(1); // a refused patch changes nothing
    await gen.return(undefined);
  });

  it('is bit-reproducible: the hash of the z stream is committed', async () => {
    const h = createHash('sha256');
    const params = createLiveParams(defaults(), 3);
    for await (const f of offlineLatents(plan, params)) {
      h.update(Buffer.from(f.z!.buffer, f.z!.byteOffset, f.z!.byteLength));
      h.update(Uint8Array.of(f.network));
    }
    const digest = h.digest('hex');
    if (digest !== EXPECTED_Z_HASH) console.log('z stream sha256', digest);
    expect(digest).toBe(EXPECTED_Z_HASH);
  });

  it('computes noise on the helper thread and the analysis on worker threads with identical results', async () => {
    const { helperThread } = await import('../../src/latents/offline-helpers.ts');
    try {
      const other = await prepareOffline({ files: [song], config: defaults(), helperThread: true });
      expect(other.timings.noiseWait).toBeDefined();
      expect(Buffer.compare(Buffer.from(other.noise!.buffer), Buffer.from(plan.noise!.buffer))).toBe(0);
      expect(other.rich).toEqual(plan.rich);
      // and the spectrogram and rich features on analysis threads (config.analysisThreads, 2 by default)
      expect(other.timings.spectrogramAndRich).toBeDefined();
      expect(plan.timings.spectrogramAndRich).toBeUndefined();
      expect(Buffer.compare(Buffer.from(other.spectrogram.all().buffer), Buffer.from(plan.spectrogram.all().buffer))).toBe(0);
      // the noise runs on the length decoded, not the one the header states: for a WAV cut short (its
      // header still claims 2 s), the samples that are there
      const short = join(dir, 'short.wav');
      const bytes = readFileSync(song);
      writeFileSync(short, bytes.subarray(0, bytes.length - 2 * 44100 * 0.5));
      const probe = await probeAudio(short);
      expect(probe.exactSamples).toBe(1.5 * 44100);
      const cut = await prepareOffline({ files: [short], config: defaults(), helperThread: true });
      const inThread = await prepareOffline({ files: [short], config: defaults(), helperThread: false });
      expect(cut.frames).toBe(90);
      expect(Buffer.compare(Buffer.from(cut.noise!.buffer), Buffer.from(inThread.noise!.buffer))).toBe(0);
    } finally {
      await helperThread.close();
    }
  }, 60_000);

  it('refuses an fps ratio that is not whole and a blend depth over num_ws', async () => {
    const proj = await writeSmallProjection(join(dir, 'p.h5'), { projectionFps: 7, originalFrameCount: 4, latents: [0, 1].map((i) => new Float32Array(18 * 512).fill(i)) });
    const cfg = { ...defaults(), mode: 'projection-file-blend' as const, projectionFile: proj };
    await expect(prepareOffline({ files: [song], config: cfg })).rejects.toMatchObject({ code: 'LATENT_FPS_RATIO', file: proj });
    await expect(prepareOffline({ files: [song], config: { ...defaults(), blendDepth: 19 } })).rejects.toMatchObject({ code: 'LATENT_BAD_PARAMETER' });
    await expect(prepareOffline({ files: [song], config: { ...defaults(), mode: 'projection-file-blend' } })).rejects.toThrow(/needs synthesis\.latents\.projectionFile/);
  });

  it('refuses a projection file that cannot drive a blend naming it, not the audio: no latents, projection_fps <= 0, too few latents', async () => {
    const latents = (n: number) => Array.from({ length: n }, (_, i) => new Float32Array(18 * 512).fill(i / 10));
    const cases: Array<[string, number, number, RegExp]> = [
      ['empty.h5', 30, 0, /empty\.h5: projection file holds no final latents$/],
      ['negative.h5', -30, 4, /negative\.h5: projection_fps is -30; expected a positive frame rate$/],
      ['zero.h5', 0, 4, /zero\.h5: projection_fps is 0; expected a positive frame rate$/],
      ['few.h5', 60, 3, /few\.h5: 3 projection latents at 60 fps give 3 video frames; GANce's smoothing needs at least 7$/],
    ];
    for (const [name, projectionFps, count, message] of cases) {
      const proj = await writeSmallProjection(join(dir, name), { projectionFps, originalFrameCount: 2 * count, latents: latents(count) });
      const cfg = { ...defaults(), mode: 'projection-file-blend' as const, projectionFile: proj };
      const err = await prepareOffline({ files: [song], config: cfg }).then(() => null, (e: unknown) => e as LatentError);
      expect(err, name).toBeInstanceOf(LatentError);
      expect(err!.file, name).toBe(proj);
      expect(err!.message, name).toMatch(message);
    }
  });

  it('closes a projection file it opened when the preparation fails', async () => {
    const make = (path: string, projectionFps: number) => writeSmallProjection(path, { projectionFps, originalFrameCount: 8, latents: [0, 1, 2, 3].map((i) => new Float32Array(18 * 512).fill(i)) });
    const close = vi.spyOn(ProjectionFileReader.prototype, 'close');
    try {
      // refused on the fps ratio, right after opening
      const odd = await make(join(dir, 'odd.h5'), 7);
      await expect(prepareOffline({ files: [song], config: { ...defaults(), mode: 'projection-file-blend', projectionFile: odd } })).rejects.toMatchObject({ code: 'LATENT_FPS_RATIO' });
      expect(close).toHaveBeenCalledTimes(1);
      // a good file, but the audio cannot be read
      const good = await make(join(dir, 'good.h5'), 30);
      await expect(prepareOffline({ files: [join(dir, 'missing.wav')], config: { ...defaults(), mode: 'projection-file-blend', projectionFile: good } })).rejects.toMatchObject({ code: 'AUDIO_UNREADABLE' });
      expect(close).toHaveBeenCalledTimes(2);
      // one the caller passed in stays the caller's
      const mine = await ProjectionFileReader.open(good);
      await expect(prepareOffline({ files: [join(dir, 'missing.wav')], config: { ...defaults(), mode: 'projection-file-blend' }, projection: mine })).rejects.toMatchObject({ code: 'AUDIO_UNREADABLE' });
      expect(close).toHaveBeenCalledTimes(2);
      mine.close();
    } finally {
      close.mockRestore();
    }
  });
});

// sha256 of 120 frames of z + network bytes for the generated song; any engine or platform must agree.
const EXPECTED_Z_HASH = '752a4231eb3a71ae1f361b974300e1595532d3e7bd11eba31f926640f0a57524';
