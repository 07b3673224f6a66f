import { describe, expect, it } from 'vitest';
import { createCurveFollower, interpolate } from '../../../src/thermal/control/curve.ts';
import { slew } from '../../../src/thermal/control/slew.ts';

const ORIGINAL: Array<[number, number]> = [
  [40, 0],
  [70, 1 / 3],
  [100, 1],
];

describe('curve', () => {
  it('interpolates linearly and holds flat beyond the ends', () => {
    expect(interpolate(ORIGINAL, 20)).toBe(0);
    expect(interpolate(ORIGINAL, 55)).toBeCloseTo(1 / 6);
    expect(interpolate(ORIGINAL, 85)).toBeCloseTo(2 / 3);
    expect(interpolate(ORIGINAL, 120)).toBe(1);
  });

  it('follows a rising temperature at once and a falling one only after the hysteresis', () => {
    const c = createCurveFollower(() => ORIGINAL, () => 3);
    expect(c.step(80)).toBeCloseTo(interpolate(ORIGINAL, 80));
    // wobbling down by less than 3 degrees keeps the duty
    expect(c.step(79)).toBeCloseTo(interpolate(ORIGINAL, 80));
    expect(c.step(77.5)).toBeCloseTo(interpolate(ORIGINAL, 80));
    // 4 degrees down: the duty follows, read 3 degrees above the temperature
    expect(c.step(76)).toBeCloseTo(interpolate(ORIGINAL, 79));
    // going up again follows immediately
    expect(c.step(82)).toBeCloseTo(interpolate(ORIGINAL, 82));
  });

  it('with no hysteresis it is the plain curve', () => {
    const c = createCurveFollower(() => ORIGINAL, () => 0);
    for (const t of [90, 85, 86, 60]) expect(c.step(t)).toBeCloseTo(interpolate(ORIGINAL, t));
  });
});

describe('slew', () => {
  it('limits rises and falls at their own rates', () => {
    expect(slew(0.2, 1, 0.2, 0.5, 0.01)).toBeCloseTo(0.3);
    expect(slew(0.8, 0, 0.2, 0.5, 0.01)).toBeCloseTo(0.798);
    expect(slew(0.5, 0.52, 1, 0.5, 0.01)).toBe(0.52);
    expect(slew(0.5, 0.495, 1, 0.5, 0.01)).toBe(0.495);
  });
});
