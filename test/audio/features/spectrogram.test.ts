import { describe, expect, it } from 'vitest';
import { FeatureError } from '../../../src/audio/features/errors.ts';
import { ganceSpectrogram } from '../../../src/audio/features/spectrogram.ts';
import { StreamingGanceSpectrogram, type StreamingFrame } from '../../../src/audio/features/streaming.ts';

const RATE = 30720; // 512 samples x 60 fps

function signal(frames: number, f: (t: number) => number): Float32Array {
  const x = new Float32Array(frames * 512);
  for (let i = 0; i < x.length; i++) x[i] = Math.fround(f(i / RATE));
  return x;
}

function argmax(a: ArrayLike<number>, from = 0, to = a.length): number {
  let best = from;
  for (let i = from; i < to; i++) if (a[i]! > a[best]!) best = i;
  return best;
}

describe('GANce spectrogram behaviour', () => {
  it('puts a tone at its frequency position (bin * 512/255) and fills the amplitude range', () => {
    // 3000 Hz at 30720 Hz, 510-point FFT: bin 3000 * 510 / 30720 = 49.8 -> about 100 of 512 after resampling
    const s = ganceSpectrogram(signal(20, (t) => 0.5 * Math.sin(2 * Math.PI * 3000 * t)), { vectorLength: 512, amplitudeRange: [-5, 5], rollEnabled: false });
    expect(s.frames).toBe(20);
    const row = s.vectors.subarray(10 * 512, 11 * 512);
    expect(Math.abs(argmax(row, 0, 510) - (3000 * 510) / 30720 * (512 / 255))).toBeLessThan(3);
    let min = Infinity;
    let max = -Infinity;
    for (const v of s.vectors) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    expect(max).toBeGreaterThan(4.5);
    expect(max).toBeLessThan(5.5);
    expect(min).toBeLessThan(-4.5);
  });

  it('rolls the vectors over time when enabled (loud frames rotate further)', () => {
    const x = signal(40, (t) => (t > 0.3 ? 0.8 : 0.05) * Math.sin(2 * Math.PI * 2000 * t));
    const plain = ganceSpectrogram(x, { vectorLength: 512, amplitudeRange: [-1, 1], rollEnabled: false });
    const rolled = ganceSpectrogram(x, { vectorLength: 512, amplitudeRange: [-1, 1], rollEnabled: true });
    const peakPlain = argmax(plain.vectors.subarray(39 * 512, 40 * 512));
    const peakRolled = argmax(rolled.vectors.subarray(39 * 512, 40 * 512));
    expect(peakRolled).not.toBe(peakPlain);
  });

  it('copes with leading digital silence (GANce would fail on -inf dB) and stays finite', () => {
    const x = signal(20, (t) => (t < 0.1 ? 0 : 0.3 * Math.sin(2 * Math.PI * 440 * t)));
    const s = ganceSpectrogram(x, { vectorLength: 512, amplitudeRange: [-1, 1], rollEnabled: false });
    expect(s.vectors.every(Number.isFinite)).toBe(true);
  });

  it('refuses pure digital silence and tracks shorter than the 7-frame smoothing, naming the file', () => {
    const silent = () => ganceSpectrogram(new Float32Array(20 * 512), { vectorLength: 512, amplitudeRange: [-1, 1], rollEnabled: false, file: 'silence.wav' });
    expect(silent).toThrow(FeatureError);
    expect(silent).toThrow(/silence\.wav: .*digital silence/);
    const short = () => ganceSpectrogram(signal(6, (t) => Math.sin(2000 * t)), { vectorLength: 512, amplitudeRange: [-1, 1], rollEnabled: false, file: 'short.wav' });
    expect(short).toThrow(expect.objectContaining({ code: 'FEATURE_TOO_SHORT', file: 'short.wav' }));
  });
});

describe('streaming GANce spectrogram', () => {
  it('emits frame i - 3 on input i, flushes the tail, and equals offline on a steady signal', () => {
    // 960 Hz has a period of 32 samples: tile one period so every 512-sample frame is bit-identical
    const period = signal(1, (t) => 0.4 * Math.sin(2 * Math.PI * 960 * t)).subarray(0, 32);
    const x = new Float32Array(30 * 512);
    for (let i = 0; i < x.length; i++) x[i] = period[i % 32]!;
    const st = new StreamingGanceSpectrogram({ vectorLength: 512 });
    const out: StreamingFrame[] = [];
    for (let f = 0; f < 30; f++) {
      const r = st.push(x.subarray(f * 512, (f + 1) * 512));
      if (f < 3) expect(r).toBeNull();
      else {
        expect(r!.index).toBe(f - 3);
        out.push(r!);
      }
    }
    out.push(...st.finish());
    expect(out.map((o) => o.index)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    const offline = ganceSpectrogram(x, { vectorLength: 512, amplitudeRange: [0, 1], rollEnabled: false });
    for (const o of [out[0]!, out[15]!, out[29]!]) {
      let d = 0;
      for (let p = 0; p < 512; p++) d = Math.max(d, Math.abs(o.unit[p]! - offline.vectors[o.index * 512 + p]!));
      expect(d).toBeLessThan(1e-8); // same maths, smoothing and scaling applied in the other order
    }
  });

  it('follows a change in the music within the look-ahead', () => {
    const st = new StreamingGanceSpectrogram({ vectorLength: 512 });
    const low = signal(20, (t) => 0.4 * Math.sin(2 * Math.PI * 500 * t));
    const high = signal(20, (t) => 0.4 * Math.sin(2 * Math.PI * 6000 * t));
    let last: StreamingFrame | null = null;
    for (let f = 0; f < 20; f++) last = st.push(low.subarray(f * 512, (f + 1) * 512)) ?? last;
    const peakLow = argmax(last!.unit, 0, 500);
    for (let f = 0; f < 10; f++) last = st.push(high.subarray(f * 512, (f + 1) * 512)) ?? last;
    const peakHigh = argmax(last!.unit, 0, 500);
    expect(peakLow).toBeLessThan(30);
    expect(peakHigh).toBeGreaterThan(150);
  });
});
