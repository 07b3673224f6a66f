import { describe, expect, it } from 'vitest';
import { countReversals } from '../../../src/thermal/control/reversals.ts';

const series = (duties: number[]) => duties.map((duty, t) => ({ t, duty }));

describe('duty reversals', () => {
  it('counts each change of direction by more than the deadband', () => {
    expect(countReversals(series([0.2, 0.5, 0.3, 0.6, 0.6, 0.2]), { deadband: 0.02 })).toBe(3);
  });

  it('ignores wobbles inside the deadband and monotone ramps', () => {
    expect(countReversals(series([0.5, 0.51, 0.5, 0.515, 0.505, 0.51]), { deadband: 0.02 })).toBe(0);
    expect(countReversals(series([0.1, 0.2, 0.3, 0.4, 0.41, 0.405, 0.6]), { deadband: 0.02 })).toBe(0);
  });

  it('counts from the extreme, so a slow swing counts once', () => {
    const up = Array.from({ length: 50 }, (_, k) => 0.2 + k * 0.001);
    const down = Array.from({ length: 50 }, (_, k) => 0.249 - k * 0.001);
    expect(countReversals(series([...up, ...down]), { deadband: 0.02 })).toBe(1);
  });

  it('only counts after `from`, and reports when', () => {
    const at: number[] = [];
    const n = countReversals(series([0.2, 0.6, 0.2, 0.6, 0.2]), { deadband: 0.02, from: 2.5, onReversal: (t) => at.push(t) });
    expect(n).toBe(2);
    expect(at).toEqual([3, 4]);
  });
});
