import { describe, expect, it } from 'vitest';
import { dutyCap, zoneNoiseDba } from '../../../src/thermal/music/noise.ts';

const FANS = ['a', 'b', 'c'].map((id) => ({ id, maxRpm: 9000, minDuty: 0.2, startDuty: 0.5, maxDba: 40 }));

describe('zone fan noise at the listener, from the fans data at 1 m', () => {
  it('three 40 dBA fans at full sum to 44.8 dBA at 1 m, 6 dB less at 2 m; half duty is 50 log10(0.5) lower; stopped is silence', () => {
    expect(zoneNoiseDba(FANS, 1)).toBeCloseTo(40 + 10 * Math.log10(3), 6);
    expect(zoneNoiseDba(FANS, 1, 2)).toBeCloseTo(40 + 10 * Math.log10(3) - 20 * Math.log10(2), 6);
    expect(zoneNoiseDba(FANS, 0.5)).toBeCloseTo(40 + 10 * Math.log10(3) + 50 * Math.log10(0.5), 6);
    expect(zoneNoiseDba(FANS, 0)).toBe(-Infinity);
  });

  it('dutyCap: the highest duty within the allowance, full when everything fits, 0 when even the minimum is too loud', () => {
    const allowed = 30;
    const cap = dutyCap(FANS, allowed, 0.2, 1);
    expect(zoneNoiseDba(FANS, cap)).toBeLessThanOrEqual(allowed + 1e-9);
    expect(zoneNoiseDba(FANS, cap + 0.01)).toBeGreaterThan(allowed);
    expect(cap).toBeCloseTo(10 ** ((allowed - 40 - 10 * Math.log10(3)) / 50), 3);
    expect(dutyCap(FANS, 60, 0.2, 0.8)).toBe(0.8);
    expect(dutyCap(FANS, 5, 0.2, 1)).toBe(0);
  });
});
