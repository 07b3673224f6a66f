import { describe, expect, it } from 'vitest';
import { richFeaturesOffline, RichFeaturesStream } from '../../../src/audio/features/rich.ts';

const RATE = 30720;
const opts = { sampleRate: RATE, frameLength: 512, fps: 60 };

function gen(seconds: number, f: (i: number) => number): Float32Array {
  const x = new Float32Array(Math.round(seconds * RATE));
  for (let i = 0; i < x.length; i++) x[i] = Math.fround(f(i));
  return x;
}

const chord = (freqs: number[]) => gen(2, (i) => freqs.reduce((s, f) => s + 0.2 * Math.sin((2 * Math.PI * f * i) / RATE), 0));
const clickTrain = gen(2, (i) => (i % (RATE / 4) < 32 ? 0.9 : 0)); // 4 clicks per second

describe('rich features', () => {
  it('finds the pitch classes of a C major chord (C E G) and of A minor (A C E)', () => {
    const cmaj = richFeaturesOffline(chord([261.63, 329.63, 392.0]), opts);
    const top = (c: Float32Array) => Array.from(c).map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]).slice(0, 3).map((x) => x[1]).sort((a, b) => a - b);
    expect(top(cmaj[60]!.chroma)).toEqual([0, 4, 7]);
    const amin = richFeaturesOffline(chord([220.0, 261.63, 329.63]), opts);
    expect(top(amin[60]!.chroma)).toEqual([0, 4, 9]);
  });

  it('pulses on clicks and calls a sustained chord harmonic, clicks percussive', () => {
    const cl = richFeaturesOffline(clickTrain, opts);
    const onsetFrames = cl.map((f, i) => [f.onset, i] as const).filter(([o]) => o > 0.5).map(([, i]) => i);
    // clicks at 0, 15, 30, ... frames (every 1/4 s at 60 fps); the 2048-sample window sees each for ~4 frames
    for (const c of [15, 30, 45, 60, 75, 90, 105]) expect(onsetFrames.some((i) => i >= c && i <= c + 1)).toBe(true);
    expect(cl[16]!.pulse).toBeGreaterThan(cl[27]!.pulse); // decays between clicks
    const ch = richFeaturesOffline(chord([261.63, 329.63, 392.0]), opts);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(ch.slice(20, 100).map((f) => f.harmonic))).toBeGreaterThan(0.8);
    expect(mean(ch.slice(20, 100).map((f) => f.percussive))).toBeLessThan(0.2);
    expect(mean(cl.slice(20, 100).map((f) => f.harmonic))).toBeLessThan(0.05);
  });

  it('gives zeros in silence and the same per-frame values streaming as offline up to normalisation', () => {
    const silent = richFeaturesOffline(new Float32Array(RATE), opts);
    expect(silent.every((f) => f.onset === 0 && f.harmonic === 0 && f.chroma.every((c) => c === 0))).toBe(true);
    const st = new RichFeaturesStream(opts);
    const x = chord([261.63, 329.63, 392.0]);
    const live = [];
    for (let f = 0; f < 100; f++) live.push(st.push(x.subarray(f * 512, (f + 1) * 512)));
    const off = richFeaturesOffline(x, opts);
    expect(Array.from(live[80]!.chroma)).toEqual(Array.from(off[80]!.chroma));
    expect(live[80]!.rms).toBe(off[80]!.rms);
  });
});

describe('rich features: WebAssembly kernel', () => {
  it('gives the JavaScript path\'s numbers bit for bit (clicks, chords, silence; other window and sustain sizes; split ranges)', async () => {
    const { richRawRange } = await import('../../../src/audio/features/rich.ts');
    const { richKernel } = await import('../../../src/audio/features/rich-simd.ts');
    const { createPow2Fft } = await import('../../../src/audio/features/fft.ts');
    expect(richKernel({ windowLength: 2048, frameLength: 512, bins: 1025, sustainFrames: 8, window: new Float64Array(2048), pitchClass: new Int8Array(1025), fft: createPow2Fft(2048) }), 'kernel available on this Node').not.toBeNull();
    const x = new Float32Array(clickTrain.length + chord([261.63, 329.63]).length + 20 * 512);
    x.set(clickTrain);
    x.set(chord([261.63, 329.63]), clickTrain.length + 20 * 512); // digital silence between
    for (let i = 0; i < x.length; i++) x[i] = Math.fround(x[i]! + (((i * 7919) % 101) - 50) / 5000);
    const frames = Math.floor(x.length / 512);
    const same = (a: Float64Array, b: Float64Array) => Buffer.compare(Buffer.from(a.buffer), Buffer.from(b.buffer)) === 0;
    for (const o of [opts, { ...opts, windowLength: 1024, sustainFrames: 5 }, { ...opts, frameLength: 256, sustainFrames: 1 }]) {
      const n = Math.floor(x.length / o.frameLength);
      const js = richRawRange(x, { ...o, kernel: false }, 0, n);
      const wasm = richRawRange(x, o, 0, n);
      expect(same(js, wasm), JSON.stringify(o)).toBe(true);
    }
    const whole = richRawRange(x, opts, 0, frames);
    const parts = [richRawRange(x, opts, 0, 101), richRawRange(x, opts, 101, frames)];
    const joined = new Float64Array(whole.length);
    joined.set(parts[0]!);
    joined.set(parts[1]!, parts[0]!.length);
    expect(same(whole, joined)).toBe(true);
  });
});
