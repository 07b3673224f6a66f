import { describe, expect, it } from 'vitest';
import { createFeedForward, type FeedForwardParams } from '../../../src/thermal/control/feedforward.ts';

const params = (p: Partial<FeedForwardParams> = {}): FeedForwardParams => ({ enabled: true, dutyPerWatt: 0.004, idleWatts: 40, referenceWatts: 140, curvature: 0, riseSeconds: 10, fallSeconds: 100, ...p });

describe('feed-forward', () => {
  it('starts at the first reading, rises and falls through two stages with their own time constants', () => {
    const ff = createFeedForward(params());
    expect(ff.step(0, 40)).toBe(0);
    let t = 0;
    while (t < 10 - 1e-9) {
      ff.step(0.2, 140);
      t += 0.2;
    }
    // two cascaded first-order stages after one time constant of a step: 1 - (1 + t/tau) e^(-t/tau)
    expect(ff.estimateW).toBeCloseTo(40 + 100 * (1 - 2 * Math.exp(-1)), 6);
    // falling from a state where both stages stand still at 140 (after a long rise)
    for (let k = 0; k < 2000; k++) ff.step(0.2, 140);
    expect(ff.estimateW).toBeCloseTo(140, 6);
    for (let k = 0; k < 50; k++) ff.step(0.2, 40);
    expect(ff.estimateW).toBeCloseTo(40 + 100 * (1 + 10 / 100) * Math.exp(-10 / 100), 6);
  });

  it('a fallSeconds for the step shortens the fall (never lengthens it) and leaves the rise alone', () => {
    const fallen = (fallSeconds?: number) => {
      const ff = createFeedForward(params());
      ff.step(0, 140);
      for (let k = 0; k < 50; k++) ff.step(0.2, 40, undefined, undefined, fallSeconds);
      return ff.estimateW;
    };
    // 10 s: one override time constant, a tenth of the configured one
    expect(fallen(10)).toBeCloseTo(40 + 100 * 2 * Math.exp(-1), 6);
    expect(fallen(1000)).toBeCloseTo(fallen(), 9);
    expect(fallen()).toBeCloseTo(40 + 100 * 1.1 * Math.exp(-0.1), 6);
    const rising = createFeedForward(params());
    rising.step(0, 40);
    for (let k = 0; k < 50; k++) rising.step(0.2, 140, undefined, undefined, 1);
    expect(rising.estimateW).toBeCloseTo(40 + 100 * (1 - 2 * Math.exp(-1)), 6);
  });

  it('is the same at any period (exact filter)', () => {
    const run = (dt: number) => {
      const ff = createFeedForward(params());
      ff.step(0, 30);
      for (let t = 0; t < 20 - 1e-9; t += dt) ff.step(dt, 150);
      return ff.estimateW;
    };
    expect(run(0.1)).toBeCloseTo(run(0.5), 9);
  });

  it('a load hint lifts the estimate at once, then it decays slowly if the load never comes', () => {
    const ff = createFeedForward(params());
    ff.step(0, 30);
    const duty = ff.step(0.2, 30, 150);
    expect(ff.estimateW).toBe(150);
    expect(duty).toBeCloseTo(0.004 * 110);
    ff.step(0.2, 30); // hint expired
    expect(ff.estimateW).toBeGreaterThan(148);
    // a hint below the estimate changes nothing
    ff.step(0.2, 30, 10);
    expect(ff.estimateW).toBeGreaterThan(147);
  });

  it('gives no duty below idle power or when disabled, and ignores garbage', () => {
    const ff = createFeedForward(params({ enabled: false }));
    expect(ff.step(0, 150)).toBe(0);
    const on = createFeedForward(params());
    expect(on.step(0, 35)).toBe(0);
    expect(on.step(0.2, Number.NaN)).toBe(0);
    expect(on.dutyAt(140)).toBeCloseTo(0.4);
  });
  it('while the load bursts it holds the highest estimate of holdSeconds; a single load step and its drop are not held', () => {
    const run = (profileAt: (t: number) => number, holdSeconds?: number) => {
      const ff = createFeedForward(params({ riseSeconds: 30, fallSeconds: 30, holdSeconds }));
      ff.step(0, profileAt(0));
      const out: number[] = [];
      for (let t = 0.2; t <= 900 + 1e-9; t += 0.2) {
        ff.step(0.2, profileAt(t));
        out.push(ff.estimateW);
      }
      return out;
    };
    // a minute at 150 W, a minute at 40 W
    const bursts = (t: number) => (Math.floor(t / 60) % 2 === 0 ? 150 : 40);
    const swing = (xs: number[]) => Math.max(...xs) - Math.min(...xs);
    const late = (xs: number[]) => xs.slice(xs.length - 1500);
    const free = run(bursts);
    const held = run(bursts, 90);
    expect(swing(late(free))).toBeGreaterThan(40);
    expect(swing(late(held))).toBeLessThan(10);
    expect(Math.min(...late(held))).toBeGreaterThan(Math.max(...late(free)) - 10);
    // one step up at 100 s and down at 400 s: the same with or without the hold
    const step = (t: number) => (t >= 100 && t < 400 ? 150 : 40);
    expect(run(step, 90)).toEqual(run(step));
  });

  it('a steady load with noisy power readings is one step, not bursts: the estimate rising through the step threshold does not count each crossing', () => {
    const ff = createFeedForward(params({ riseSeconds: 30, fallSeconds: 30, holdSeconds: 90, burstNeedsOffPart: true }));
    ff.step(0, 30);
    // 150 W +-0.5 W from 10 s on: while the estimate passes (150 - 10) / 1.2 the reading flickers across the threshold
    for (let k = 1; k <= 3000; k++) {
      ff.step(0.2, k * 0.2 < 10 ? 30 : 150 + (k % 2 ? 0.5 : -0.5));
      expect(ff.bursting).toBe(false);
    }
    // real bursts (an off part under the estimate between them) still are
    for (let k = 1; k <= 1500; k++) ff.step(0.2, Math.floor((k * 0.2) / 60) % 2 === 0 ? 40 : 150);
    expect(ff.bursting).toBe(true);
    // their period, while they go on
    expect(ff.burstPeriodSeconds).toBeCloseTo(120, 0);
  });
});
