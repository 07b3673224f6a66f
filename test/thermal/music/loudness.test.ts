import { describe, expect, it } from 'vitest';
import { loudnessSchedule, SILENCE_DBA } from '../../../src/thermal/music/loudness.ts';

describe('loudnessSchedule: per-frame RMS -> per-second level at the listener', () => {
  it('maps the loudest second to 95 dBA and the others by their energy, one level per started second', () => {
    const fps = 4;
    // second 0: rms 1; second 1: rms 0.1 (-20 dB); second 2: 0.5 and 0 (energy mean 0.125 -> -9.03 dB); second 3: one frame of 0.01
    const rms = [1, 1, 1, 1, 0.1, 0.1, 0.1, 0.1, 0.5, 0.5, 0, 0, 0.01];
    const l = loudnessSchedule(rms, fps);
    expect(l).toHaveLength(4);
    expect(l[0]).toBeCloseTo(95, 9);
    expect(l[1]).toBeCloseTo(75, 9);
    expect(l[2]).toBeCloseTo(95 + 10 * Math.log10(0.125), 9);
    expect(l[3]).toBeCloseTo(55, 9);
  });

  it('takes another loudest level, a fractional fps, and holds silence at the floor (JSON carries no -Infinity)', () => {
    // 2.5 fps: second 0 = frames 0..1, second 1 = frames 2..4, second 2 = frames 5..6
    const l = loudnessSchedule([0.2, 0.2, 0.2, 0, 0, 0, 0.02], 2.5, 90);
    expect(l).toHaveLength(3);
    expect(l[0]).toBeCloseTo(90, 9);
    expect(l[1]).toBeCloseTo(90 + 10 * Math.log10(0.04 / 3 / 0.04), 9);
    expect(l[2]).toBeCloseTo(90 + 10 * Math.log10(0.0004 / 2 / 0.04), 9);
    // a second of digital silence: the floor
    expect(loudnessSchedule([1, 0], 1)).toEqual([95, SILENCE_DBA]);
    expect(loudnessSchedule([0, 0, 0], 1)).toEqual([SILENCE_DBA, SILENCE_DBA, SILENCE_DBA]);
    expect(() => loudnessSchedule([1], 0)).toThrow(/fps must be a positive number/);
  });
});
