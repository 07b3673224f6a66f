/** The per-GPU pause and rate limit, on a clock the test moves. */
import { describe, expect, it } from 'vitest';
import { GpuThrottle, type ThrottleClock } from '../../src/render/throttle.ts';
import { RenderFailure } from '../../src/render/types.ts';

/** sleeps resolve when the test advances time past them */
function manualClock() {
  let t = 0;
  const sleepers: Array<{ at: number; resolve: () => void }> = [];
  const requested: number[] = [];
  const clock: ThrottleClock = {
    now: () => t,
    sleep: (ms, signal) =>
      new Promise((resolve, reject) => {
        requested.push(ms);
        const s = { at: t + ms, resolve };
        sleepers.push(s);
        signal?.addEventListener('abort', () => {
          sleepers.splice(sleepers.indexOf(s), 1);
          reject(new Error('aborted'));
        });
      }),
  };
  return {
    clock,
    requested,
    advance(ms: number) {
      t += ms;
      for (const s of sleepers.filter((x) => x.at <= t)) {
        sleepers.splice(sleepers.indexOf(s), 1);
        s.resolve();
      }
    },
    pending: () => sleepers.length,
  };
}

describe('GPU throttle', () => {
  it('spaces batches to the lowest rate set on the render\'s GPUs', async () => {
    const c = manualClock();
    const t = new GpuThrottle(c.clock);
    t.setRate(0, 10);
    t.setRate(1, 4); // the render uses GPUs 0 and 1: 4 fps governs
    t.setRate(2, 1); // not one of its GPUs
    let frames = 0;
    const hook = t.hook([0, 1], () => frames);
    await hook(); // the first batch goes at once
    frames += 8; // 8 frames at 4 fps: the next batch may go 2 s after the window opened
    let passed = false;
    const next = hook().then(() => (passed = true));
    await Promise.resolve();
    expect(c.requested).toEqual([2000]);
    c.advance(1999);
    await Promise.resolve();
    expect(passed).toBe(false);
    c.advance(1);
    await next;
    expect(passed).toBe(true);
    // lifting the limit wakes a held batch at once
    frames += 8;
    const held = hook();
    await Promise.resolve();
    expect(t.waiting()).toBe(1);
    t.setRate(1, null);
    t.setRate(0, null);
    await held;
    expect(t.waiting()).toBe(0);
    expect(c.pending()).toBe(0);
  });

  it('holds while a GPU is paused, and an abort ends the wait with a cancelled failure', async () => {
    const t = new GpuThrottle(manualClock().clock);
    t.pause(3, 'over temperature');
    expect(t.state()).toEqual([{ gpu: 3, paused: true, fps: null, fpsFrom: null, reason: 'over temperature', operator: { paused: true, fps: null }, yield: null }]);
    const ac = new AbortController();
    const wait = t.hook([3], () => 0, ac.signal)();
    await Promise.resolve();
    expect(t.waiting()).toBe(1);
    ac.abort();
    await expect(wait).rejects.toBeInstanceOf(RenderFailure);
    await expect(wait).rejects.toMatchObject({ reason: 'cancelled' });
    expect(t.waiting()).toBe(0);
    // a render on other GPUs is not held
    await t.hook([0], () => 0)();
  });

  it('after a pause the rate counts from the resume: the paused time is not made up in a burst', async () => {
    const c = manualClock();
    const t = new GpuThrottle(c.clock);
    t.setRate(0, 4);
    let frames = 0;
    const hook = t.hook([0], () => frames);
    await hook();
    frames += 4;
    t.pause(0, 'hot');
    const held = hook();
    await Promise.resolve();
    c.advance(60_000); // a minute paused: 240 frames "owed" at 4 fps
    t.resume(0);
    await held; // the first batch after the resume goes at once
    frames += 4;
    let passed = false;
    const next = hook().then(() => (passed = true));
    await Promise.resolve();
    await Promise.resolve();
    expect(passed).toBe(false); // ...and the next waits its second, no burst
    c.advance(1000);
    await next;
    expect(passed).toBe(true);
  });

  it('yielding is a layer over the operator: the lower rate spaces the batches, either pause holds, lifting it leaves the operator\'s settings', async () => {
    const c = manualClock();
    const t = new GpuThrottle(c.clock);
    t.setRate(0, 4, 'operator');
    t.setYield(0, { paused: false, fps: 2 }, 'yield');
    let frames = 0;
    const hook = t.hook([0], () => frames);
    await hook();
    frames += 4;
    const slow = hook();
    await Promise.resolve();
    expect(c.requested).toEqual([2000]); // 4 frames at yielding's 2 fps
    // the operator changes their rate meanwhile: kept, yielding's lower one still governs
    t.setRate(0, 8, 'operator again');
    await Promise.resolve();
    expect(c.requested).toEqual([2000, 2000]); // woken by the change, the same 2 fps due time again
    c.advance(2000);
    await slow;
    expect(t.state()[0]).toMatchObject({ fps: 2, fpsFrom: 'yield', operator: { paused: false, fps: 8 }, yield: { paused: false, fps: 2 } });
    // yielding pauses: the operator's resume does not release it
    t.setYield(0, { paused: true, fps: null }, 'yield pause');
    t.resume(0);
    let passed = false;
    const held = hook().then(() => (passed = true));
    await Promise.resolve();
    await Promise.resolve();
    expect(passed).toBe(false);
    expect(t.state()[0]).toMatchObject({ paused: true, reason: 'yield pause' });
    // lifted: the operator's 8 fps is what is left
    t.setYield(0, null);
    await held;
    expect(t.state()).toEqual([{ gpu: 0, paused: false, fps: 8, fpsFrom: 'operator', reason: 'operator again', operator: { paused: false, fps: 8 }, yield: null }]);
    // and the other way round: an operator pause outlives yielding's
    t.pause(0, 'operator pause');
    t.setYield(0, { paused: true, fps: null }, 'yield pause');
    expect(t.state()[0]).toMatchObject({ paused: true, reason: 'operator pause; yield pause' });
    t.setYield(0, null);
    expect(t.state()[0]).toMatchObject({ paused: true, reason: 'operator pause', yield: null });
    expect(() => t.setYield(0, { paused: false, fps: 0 })).toThrow(RangeError);
  });

  it("setOperator changes the operator's pause and rate in one change, keeps absent keys, and a bad rate changes nothing", async () => {
    const c = manualClock();
    const t = new GpuThrottle(c.clock);
    t.pause(0, 'night');
    const frames = 0;
    const hook = t.hook([0], () => frames);
    const holds: string[] = [];
    t.onHold((h) => holds.push(h.reason));
    const first = hook();
    await Promise.resolve();
    expect(holds).toEqual(['gpu 0: night']);
    // resumed with a rate at once: the held batch wakes once and goes (the window opens now), not held again
    expect(t.setOperator(0, { paused: false, fps: 5 })).toMatchObject({ paused: false, fps: 5, fpsFrom: 'operator', reason: 'held to 5 fps by the operator', operator: { paused: false, fps: 5 } });
    await first;
    expect(holds).toEqual(['gpu 0: night']);
    expect(() => t.setOperator(0, { paused: true, fps: 0 })).toThrow(RangeError);
    expect(() => t.setOperator(0, { fps: Number.NaN })).toThrow(RangeError);
    expect(t.gpu(0)).toMatchObject({ paused: false, fps: 5 });
    expect(t.setOperator(0, { paused: true }, 'quiet hours')).toMatchObject({ paused: true, fps: 5, reason: 'quiet hours' });
    expect(t.setOperator(0, { paused: false, fps: null })).toMatchObject({ paused: false, fps: null, fpsFrom: null, reason: null });
    // a GPU nobody set: nothing applies
    expect(t.gpu(7)).toEqual({ gpu: 7, paused: false, fps: null, fpsFrom: null, reason: null, operator: { paused: false, fps: null }, yield: null });
    expect(() => t.gpu(-1)).toThrow(RangeError);
  });

  it('refuses rates and GPU indices that are not finite and in range', () => {
    const t = new GpuThrottle();
    expect(() => t.setRate(0, 0)).toThrow(RangeError);
    expect(() => t.setRate(0, Number.NaN)).toThrow(RangeError);
    expect(() => t.setRate(0, Infinity)).toThrow(RangeError);
    expect(() => t.pause(-1)).toThrow(RangeError);
    expect(() => t.pause(1.5)).toThrow(RangeError);
  });
});
