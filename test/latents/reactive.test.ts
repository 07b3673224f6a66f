import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Value } from '@sinclair/typebox/value';
import { beforeAll, describe, expect, it } from 'vitest';
import { liveFrames, type AudioBlock } from '../../src/audio/live.ts';
import { LatentsConfig } from '../../src/latents/config.ts';
import type { LatentFrame } from '../../src/latents/frame.ts';
import { latentFrameAt, prepareOffline, type OfflinePlan } from '../../src/latents/offline.ts';
import { createLiveParams, updateLiveParams, type LiveParams } from '../../src/latents/params.ts';
import { reactiveDirections } from '../../src/latents/reactive.ts';
import { noiseLoop, streamingLatents } from '../../src/latents/streaming.ts';
import { addInto, clicks, tempDir, tone, writeWav } from '../audio/wav.ts';

const defaults = () => Value.Default(LatentsConfig, {}) as LatentsConfig;
const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};
const diff = (a: Float32Array, b: Float32Array) => Float64Array.from(a, (v, i) => v - b[i]!);
const norm = (a: ArrayLike<number>) => Math.sqrt(dot(a, a));
const same = (a: Float32Array, b: Float32Array) => Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;

describe('reactive motion from the rich features', () => {
  let plan: OfflinePlan;
  const dirs = reactiveDirections(512, 4321);
  const params = (over: Partial<LiveParams> = {}) => ({ ...createLiveParams(defaults(), 1), ...over });
  const offset = (f: number, p: Partial<LiveParams>) => diff(latentFrameAt(plan, f, params(p)).z!, latentFrameAt(plan, f, params()).z!);

  beforeAll(async () => {
    const dir = tempDir('gance-reactive-');
    const song = join(dir, 'song.wav');
    // 1 s of clicks alone, then 1 s of a sustained C major chord, then 1 s of an A minor chord
    const sr = 44100;
    const part1 = clicks(sr, 1, 0.25);
    const c = tone(sr, 1, [261.63, 329.63, 392.0], 0.2);
    const a = tone(sr, 1, [220.0, 261.63, 329.63], 0.2);
    const all = new Int16Array(3 * sr);
    all.set(part1, 0);
    all.set(c, sr);
    all.set(addInto(a, new Int16Array(sr)), 2 * sr);
    writeWav(song, sr, 1, all);
    plan = await prepareOffline({ files: [song], config: defaults() });
  });

  it('off by default: the latents are GANce\'s, bit for bit', () => {
    const p = params();
    expect([p.pulse, p.motion, p.chroma]).toEqual([0, 0, 0]);
    const explicit = params({ pulse: 0, motion: 0, chroma: 0 });
    for (const f of [0, 50, 150]) expect(same(latentFrameAt(plan, f, p).z!, latentFrameAt(plan, f, explicit).z!)).toBe(true);
  });

  it('pulse: the step along its direction is the gain times the pulse envelope, largest at the hits', () => {
    const along = (f: number) => dot(offset(f, { pulse: 2 }), dirs.pulse) / dot(dirs.pulse, dirs.pulse);
    for (const f of [3, 15, 16, 40]) expect(along(f)).toBeCloseTo(2 * plan.rich![f]!.pulse, 4);
    // within the clicks part, the frames at a hit (every 15 frames) carry more than the frames just before
    const hits = [15, 30, 45].map(along);
    const before = [13, 28, 43].map(along);
    hits.forEach((h, k) => expect(h).toBeGreaterThan(before[k]!));
  });

  it('motion: still while only drums play, walking round its circle while the chord rings', () => {
    const m = (f: number) => offset(f, { motion: 1 });
    // during the clicks, harmonic energy is low: the latent barely moves from frame to frame
    const drumStep = norm(diff(Float32Array.from(m(40)), Float32Array.from(m(30))));
    const chordStep = norm(diff(Float32Array.from(m(110)), Float32Array.from(m(100))));
    expect(chordStep).toBeGreaterThan(5 * drumStep);
    // always on the circle of radius 1 in the plane of its two directions (bounded, never drifts off)
    for (const f of [10, 100, 170]) {
      const o = m(f);
      const ca = dot(o, dirs.motionA) / dot(dirs.motionA, dirs.motionA);
      const sb = dot(o, dirs.motionB) / dot(dirs.motionB, dirs.motionB);
      expect(Math.hypot(ca, sb)).toBeCloseTo(1, 1);
    }
  });

  it('chroma: a C major chord and an A minor chord pull towards their own pitch classes', () => {
    const pull = (f: number, k: number) => dot(offset(f, { chroma: 1 }), dirs.chroma.subarray(k * 512, (k + 1) * 512)) / 512;
    const G = 7;
    const A = 9;
    // G is in C major, not in A minor; A the other way round
    expect(pull(90, G)).toBeGreaterThan(pull(150, G));
    expect(pull(150, A)).toBeGreaterThan(pull(90, A));
  });

  it('the same audio and gains give the same latents; a live gain change applies from the next frame', () => {
    const p = params({ pulse: 1, motion: 0.5, chroma: 0.5 });
    expect(same(latentFrameAt(plan, 77, p).z!, latentFrameAt(plan, 77, { ...p }).z!)).toBe(true);
    updateLiveParams(p, { pulse: 3 });
    expect(p.pulse).toBe(3);
    expect(() => updateLiveParams(p, { motion: -1 })).toThrow(/motion/);
    expect(p.motion).toBe(0.5);
  });

  it('live: the streaming path adds the same kind of motion, and none when its gains are 0', async () => {
    const config = { ...defaults(), streaming: { ...defaults().streaming, noiseLoopFrames: 64 } };
    const table = noiseLoop(config);
    const audio = addInto(tone(30720, 1, [261.63, 329.63, 392.0], 0.2), clicks(30720, 1, 0.25));
    const run = async (p: LiveParams) => {
      const pt = new PassThrough();
      pt.end(Buffer.from(audio.buffer, audio.byteOffset, audio.byteLength));
      const blocks: AsyncIterable<AudioBlock> = liveFrames({ kind: 'stream', stream: pt, format: 's16le', sampleRate: 30720, channels: 1 }, { fps: 60, samplesPerFrame: 512 });
      const out: LatentFrame[] = [];
      for await (const f of streamingLatents(blocks, { config, params: p, noiseTable: table })) out.push(f);
      return out;
    };
    const plain = await run(createLiveParams(config, 1));
    const pulsed = await run({ ...createLiveParams(config, 1), pulse: 1 });
    expect(pulsed.length).toBe(plain.length);
    for (const i of [10, 30, 50]) {
      const along = dot(diff(pulsed[i]!.z!, plain[i]!.z!), dirs.pulse) / dot(dirs.pulse, dirs.pulse);
      expect(along).toBeCloseTo(pulsed[i]!.features!.pulse, 3);
    }
    // the motion phase advances with the chord: the motion offset moves between frames
    const moving = await run({ ...createLiveParams(config, 1), motion: 1 });
    const m = (i: number) => diff(moving[i]!.z!, plain[i]!.z!);
    expect(norm(diff(Float32Array.from(m(50)), Float32Array.from(m(20))))).toBeGreaterThan(0.1);
    const again = await run(createLiveParams(config, 1));
    again.forEach((f, i) => expect(same(f.z!, plain[i]!.z!)).toBe(true));
  });
});
