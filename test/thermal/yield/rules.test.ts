import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { YieldConfig, yieldIssues } from '../../../src/thermal/yield/config.ts';
import { dutyCeiling, initialYield, releaseHold, speedOf, stepYield, type YieldInput, type YieldState } from '../../../src/thermal/yield/rules.ts';

const rules = Value.Default(YieldConfig, {}) as YieldConfig;
const CRIT = 90;
const at = (now: number, temperature: number | null, duty = 1, failsafe = false, ceiling = 1): YieldInput => ({ now, temperature, duty, ceiling, failsafe, criticalC: CRIT });

/** feeds a temperature ramp once per second, returns the state after it */
function ramp(s: YieldState, from: number, to: number, t0: number, seconds: number, duty = 1, ceiling = 1): { s: YieldState; changes: string[]; t: number } {
  const changes: string[] = [];
  for (let k = 0; k <= seconds; k++) {
    const d = stepYield(rules, s, at(t0 + k, from + ((to - from) * k) / seconds, duty, false, ceiling));
    s = d.state;
    if (d.change) changes.push(`${d.change}@${t0 + k}:${s.step}`);
  }
  return { s, changes, t: t0 + seconds };
}

describe('yield rules', () => {
  it('defaults pass their own rules; bad steps and thresholds are named', () => {
    expect(yieldIssues(rules)).toEqual([]);
    const bad = { ...rules, steps: [0.5, 0.6], releaseBelowCriticalC: 5, startBelowCriticalC: 6, pauseAboveCriticalMinusC: 7 };
    expect(yieldIssues(bad)).toEqual([
      'yield.steps[1]: must be below the step before (0.5), got 0.6',
      'yield.releaseBelowCriticalC: must be above yield.startBelowCriticalC (6) so a zone cannot pump between yielding and not, got 5',
      'yield.pauseAboveCriticalMinusC: must be below yield.startBelowCriticalC (6), got 7',
    ]);
  });

  it('does not yield while the fans have headroom, however hot and rising', () => {
    const r = ramp(initialYield(), 70, 88, 0, 60, 0.8);
    expect(r.s.step).toBe(0);
    expect(r.changes).toEqual([]);
  });

  it('fans held under 0.95 by the zone (maxDuty 0.8, a quiet mode) count as at full at that ceiling: it yields rather than running into critical', () => {
    const r = ramp(initialYield(), 80, 88, 0, 40, 0.8, 0.8);
    expect(r.changes[0]).toBe('up@20:1');
    expect(r.s.step).toBeGreaterThan(0);
    // still coming up to that ceiling: headroom, no step
    expect(ramp(initialYield(), 80, 88, 0, 40, 0.7, 0.8).changes).toEqual([]);
  });

  it('the ceiling is maxDuty, or the duty a binding noise budget holds the fans at (stopped included); a budget floor lifting them is no ceiling', () => {
    expect(dutyCeiling(0.8, 0.5, null)).toBe(0.8);
    expect(dutyCeiling(1, 0.5, { cap: 0.9, bound: false })).toBe(1);
    expect(dutyCeiling(1, 0.4, { cap: 0.4, bound: true })).toBe(0.4);
    expect(dutyCeiling(1, 0, { cap: 0.1, bound: true })).toBe(0);
    expect(dutyCeiling(1, 0.6, { cap: 0.3, bound: true })).toBe(1);
    // a budget-capped zone yields at its capped duty
    expect(ramp(initialYield(), 80, 88, 0, 40, 0.4, dutyCeiling(1, 0.4, { cap: 0.4, bound: true })).s.step).toBeGreaterThan(0);
  });

  it('does not yield at full fans when the zone has levelled off under the start threshold', () => {
    const r = ramp(initialYield(), 83, 83.5, 0, 120);
    expect(r.s.step).toBe(0);
  });

  it('steps down the speed at full fans while rising near critical, one step per stepSeconds', () => {
    let r = ramp(initialYield(), 70, 83.9, 0, 60);
    expect(r.s.step).toBe(0); // under critical - 6 = 84 until the last second
    r = ramp(r.s, 84, 87, 61, 20);
    // first step at once, the next only after stepSeconds (10 s)
    expect(r.changes).toEqual(['up@61:1', 'up@71:2', 'up@81:3']);
    expect(speedOf(rules, 1)).toBe(0.6);
    expect(speedOf(rules, 3)).toBe(0);
  });

  it('takes the last step at once within pauseAboveCriticalMinusC of critical', () => {
    const d = stepYield(rules, initialYield(), at(0, 89.2));
    expect(d.change).toBe('up');
    expect(d.state.step).toBe(rules.steps.length);
  });

  it('while yielding, a zone rising fast enough to be at the pause threshold within pauseLeadSeconds is paused at once; a slow one waits its dwell', () => {
    // step 1 taken at 85 C, then 3 C/s (a fast heatsink): at 86.8 C, 1.8 C over the (at least 1 s)
    // since the step, it would be at 90.4 C in 2 s
    const fast = (cPerS: number) => {
      let s: YieldState = { ...initialYield(), step: 1, changedAt: 10, stepC: 85, rise: { t: 10, temperature: 85, cPerS: 0 } };
      const changes: string[] = [];
      for (let k = 1; k <= 4; k++) {
        const d = stepYield(rules, s, at(10 + k * 0.2, 85 + cPerS * k * 0.2));
        s = d.state;
        if (d.change) changes.push(`${d.change}@${k}:${s.step}:${d.reason}`);
      }
      return changes;
    };
    const quick = fast(3);
    expect(quick).toHaveLength(1);
    expect(quick[0]).toMatch(/^up@3:3:86\.8 C rising 108\.0 C\/min would be within 1 C of critical 90 C in 2 s: last step at once$/);
    // 1 C/min (a slow heatsink) is nowhere near: the step keeps its dwell
    expect(fast(1 / 60)).toEqual([]);
    // before the first step the rate alone does not pause (the fans may still be coming up)
    const d = stepYield(rules, { ...initialYield(), rise: { t: 0, temperature: 85, cPerS: 3 } }, at(0.2, 85.6, 0.8));
    expect(d.change).toBeNull();
  });

  it('a step that levelled the zone off is not followed by the next step or the pause, though the rise before it would still show in a filter running on', () => {
    // 1.8 C/s from 66 C (a fast heatsink): step 1 at 84 C, after which the zone holds there
    let s = initialYield();
    const changes: string[] = [];
    const feed = (from: number, cPerS: number, t0: number, seconds: number) => {
      for (let k = 0; k * 0.25 <= seconds; k++) {
        const d = stepYield(rules, s, at(t0 + k * 0.25, Math.min(from + cPerS * k * 0.25, 84)));
        s = d.state;
        if (d.change) changes.push(`${d.change}@${t0 + k * 0.25}:${s.step}`);
      }
    };
    feed(66, 1.8, 0, 10);
    expect(changes).toEqual(['up@10:1']);
    feed(84, 0, 10.25, 60);
    expect(changes).toEqual(['up@10:1']);
    // one that rises again after it takes the next step at once (the dwell is long past)
    for (let k = 1; k <= 8; k++) {
      const d = stepYield(rules, s, at(70.25 + k * 0.25, 84 + k * 0.125));
      s = d.state;
      if (d.change) changes.push(`${d.change}@${70.25 + k * 0.25}:${s.step}`);
    }
    expect(changes).toEqual(['up@10:1', 'up@70.75:2']);
  });

  it('in failsafe the fans count as full; a missing reading holds the step', () => {
    let s = ramp(initialYield(), 80, 85, 0, 10, 0.3).s;
    const d = stepYield(rules, s, at(11, 85.6, 0.3, true));
    expect(d.state.step).toBe(1);
    s = d.state;
    for (let k = 0; k < 300; k++) s = stepYield(rules, s, at(12 + k, null)).state;
    expect(s.step).toBe(1);
  });

  it('gives steps back one at a time after the zone stays under the release threshold; none inside the band', () => {
    const s = ramp(initialYield(), 84, 88, 0, 25).s;
    expect(s.step).toBe(3);
    // inside the hysteresis band (78..84 C): held, for as long as it stays there
    let r = ramp(s, 82, 79, 26, 300);
    expect(r.changes).toEqual([]);
    // under 78 C: one step per 20 s
    r = ramp(r.s, 77, 70, 327, 80);
    expect(r.changes).toEqual(['down@347:2', 'down@367:1', 'down@387:0']);
  });

  it('a step taken again soon after it was given back doubles the release hold', () => {
    let s: YieldState = { ...initialYield(), step: 1, changedAt: 0 };
    let r = ramp(s, 77, 77, 1, 25);
    expect(r.changes).toEqual(['down@21:0']);
    r = ramp(r.s, 84, 86, 27, 3); // hot and rising again within 60 s
    expect(r.s.step).toBe(1);
    expect(r.s.bounces).toBe(1);
    expect(releaseHold(rules, r.s.bounces)).toBe(40);
    s = r.s;
    r = ramp(s, 77, 77, 31, 45);
    expect(r.changes).toEqual(['down@71:0']);
  });

  it('closed loop on a first-order plant that full speed would push past critical: held under it, no hunting', () => {
    // C dT/dt = P - G (T - 30), fans at full (G = 2 W/K), P = 30 + 120 x speed: full speed settles at 105 C
    const C = 200;
    const G = 2;
    let T = 60;
    let s = initialYield();
    let peak = T;
    const changes: number[] = [];
    for (let k = 0; k < 3600 * 5; k++) {
      const now = k * 0.2;
      const d = stepYield(rules, s, at(now, Math.round(T)));
      s = d.state;
      if (d.change) changes.push(now);
      const P = 30 + 120 * speedOf(rules, s.step);
      T += ((P - G * (T - 30)) / C) * 0.2;
      peak = Math.max(peak, T);
    }
    expect(peak).toBeLessThan(CRIT);
    // steps settle: a handful of changes in the first minutes, then (with the backoff) rarely:
    // at most 3 in the last 1800 s
    const late = changes.filter((t) => t > 1800);
    expect(changes.length).toBeGreaterThan(0);
    expect(late.length).toBeLessThanOrEqual(3);
  });
});
