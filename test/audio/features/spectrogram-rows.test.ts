import { describe, expect, it } from 'vitest';
import { FeatureError } from '../../../src/audio/features/errors.ts';
import { ganceSpectrogram } from '../../../src/audio/features/spectrogram.ts';
import { SpectrogramRows, spectrogramRowsInto, spectrogramState } from '../../../src/audio/features/spectrogram-rows.ts';

const RATE = 30720; // 512 samples x 60 fps

/** A chord that glides and swells, with digital silence at the start (lifted bins) and noise bursts. */
function music(frames: number): Float32Array {
  const x = new Float32Array(frames * 512);
  let s = 7;
  for (let i = 2000; i < x.length; i++) {
    const t = i / RATE;
    s = (s * 1103515245 + 12345) % 2147483648;
    const burst = (t * 4) % 1 < 0.1 ? (s / 2147483648 - 0.5) * 0.4 : 0;
    x[i] = Math.fround((0.3 + 0.25 * Math.sin(2 * Math.PI * 1.5 * t)) * Math.sin(2 * Math.PI * (440 + 80 * t) * t) + burst);
  }
  return x;
}

const same = (a: Float64Array, b: Float64Array) => a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;

describe('spectrogram rows made on demand', () => {
  for (const rollEnabled of [false, true]) {
    for (const frames of [7, 8, 61, 300]) {
      it(`equal the whole-track spectrogram bit for bit (${frames} frames, roll ${rollEnabled}), whatever the window`, () => {
        const x = music(frames);
        const opts = { vectorLength: 512, amplitudeRange: [-1, 1] as [number, number], rollEnabled };
        const whole = ganceSpectrogram(x, opts).vectors;
        const state = spectrogramState(x, opts);
        expect(state.frames).toBe(frames);
        expect(same(new SpectrogramRows(state).all(), whole)).toBe(true);
        // windows of every parity, at both edges and inside
        for (const [f0, f1] of [[0, 1], [1, 2], [frames - 1, frames], [frames - 2, frames], [3, Math.min(frames, 10)], [Math.floor(frames / 2) + 1, Math.min(frames, Math.floor(frames / 2) + 4)]] as const) {
          if (f0 < 0 || f1 <= f0) continue;
          const out = new Float64Array((f1 - f0) * 512);
          spectrogramRowsInto(state, f0, f1, out);
          expect(same(out, whole.subarray(f0 * 512, f1 * 512)), `rows ${f0}..${f1}`).toBe(true);
        }
        // read in order and from a resumed frame, in batches of odd sizes
        for (const batch of [1, 5, 64]) {
          const rows = new SpectrogramRows(state, batch);
          for (const f of [...Array.from({ length: frames }, (_, i) => i), Math.floor(frames / 3), 0]) {
            const { data, offset } = rows.row(f);
            expect(same(data.subarray(offset, offset + 512), whole.subarray(f * 512, (f + 1) * 512)), `batch ${batch} row ${f}`).toBe(true);
          }
        }
      });
    }
  }

  it('puts the magnitudes in memory the caller is done with when it is large enough, whatever it held', () => {
    const x = music(61);
    const opts = { vectorLength: 512, amplitudeRange: [-1, 1] as [number, number], rollEnabled: false };
    const whole = ganceSpectrogram(x, opts).vectors;
    // an odd number of float32s of garbage: the magnitudes take its whole float64s
    const scratch = new SharedArrayBuffer((61 * 255 * 2 + 3) * 4);
    new Float32Array(scratch).fill(NaN);
    const state = spectrogramState(x, opts, scratch);
    expect(state.decibels.buffer).toBe(scratch);
    expect(same(new SpectrogramRows(state).all(), whole)).toBe(true);
    // too small: memory of its own
    const small = new ArrayBuffer(61 * 255 * 8 - 8);
    expect(spectrogramState(x, opts, small).decibels.buffer).not.toBe(small);
  });

  it('refuses what ganceSpectrogram refuses, and rows out of range', () => {
    const opts = { vectorLength: 512, amplitudeRange: [-1, 1] as [number, number], rollEnabled: false };
    expect(() => spectrogramState(new Float32Array(20 * 512), opts)).toThrow(FeatureError);
    expect(() => spectrogramState(music(6), opts)).toThrow(/at least 7/);
    const rows = new SpectrogramRows(spectrogramState(music(10), opts));
    expect(() => rows.row(10)).toThrow(/row 10 out of range 0..9/);
    expect(() => rows.row(-1)).toThrow(RangeError);
  });
});
