/**
 * The yield controller driving the real render throttle and a live fps cap: a rate that is a share
 * of the renders' speed before yielding, a pause at the last step, everything lifted on recovery
 * and at stop; its alarm while yielding is not a failsafe.
 */
import { Value } from '@sinclair/typebox/value';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { GpuThrottle } from '../../../src/render/throttle.ts';
import { ThermalYield, type YieldZoneReading } from '../../../src/thermal/yield/controller.ts';
import { YieldConfig } from '../../../src/thermal/yield/config.ts';

const cfg = { ...(Value.Default(YieldConfig, {}) as YieldConfig), stepSeconds: 5, releaseSeconds: 5 };
const reading = (temperature: number, duty = 1): YieldZoneReading => ({ id: 'z', gpus: [0, 1], temperature, duty, ceiling: 1, failsafe: false, criticalC: 90 });

describe('yield controller', () => {
  it('slows renders to a share of their speed, pauses them last, caps live fps, and lifts it all on recovery and at stop', async () => {
    const throttle = new GpuThrottle();
    let fps = [40];
    const caps: string[] = [];
    let now = 0;
    const y = new ThermalYield(cfg, { renders: () => ({ throttle, runningFps: () => fps }), live: () => ({ setThermalFpsCap: (g, s) => void caps.push(`${g}:${s}`) }) }, null, pino({ level: 'silent' }), { now: () => now });
    const feed = (temps: number[], duty = 1) => {
      for (const t of temps) {
        y.update([reading(t, duty)]);
        now += 1;
      }
    };
    feed([70, 70, 70]); // full speed: the baseline is the renders' 40 fps
    feed([84]);
    fps = [24]; // a yielding render's own fps does not move the baseline
    feed([85]);
    expect(throttle.state()).toEqual([
      { gpu: 0, paused: false, fps: 24, fpsFrom: 'yield', reason: expect.stringMatching(/^thermal yield \(zone z, step 1\/3\): fans at full/), operator: { paused: false, fps: null }, yield: { paused: false, fps: 24 } },
      { gpu: 1, paused: false, fps: 24, fpsFrom: 'yield', reason: expect.any(String), operator: { paused: false, fps: null }, yield: { paused: false, fps: 24 } },
    ]);
    expect(caps).toEqual(['0:0.6', '1:0.6']);
    expect(y.alarms('z')).toEqual([{ kind: 'thermal-yield', subject: 'z', failsafe: false, message: expect.stringMatching(/^synthesis on GPU 0, 1 at 60% speed \(step 1\/3\)/) }]);
    // still rising, slowly enough that the pause is not due within pauseLeadSeconds
    feed([86, 86.3, 86.5, 86.6, 86.7]);
    expect(throttle.state().map((g) => g.fps)).toEqual([14, 14]);
    feed([89.1]);
    expect(throttle.state().map((g) => g.paused)).toEqual([true, true]);
    expect(caps.slice(-2)).toEqual(['0:0', '1:0']);
    expect(y.view().zones[0]).toMatchObject({ step: 3, speed: 0, baselineFps: 40 });
    // cooled: one step back per 5 s under 78 C
    feed(Array(6).fill(75));
    expect(throttle.state().map((g) => [g.paused, g.fps])).toEqual([
      [false, 14],
      [false, 14],
    ]);
    feed(Array(5).fill(75));
    expect(y.view().zones[0]!.pausedSeconds).toBe(6);
    // the daemon stops while yielding: everything lifted
    await y.stop();
    expect(throttle.state().map((g) => [g.paused, g.fps])).toEqual([
      [false, null],
      [false, null],
    ]);
    expect(caps.slice(-2)).toEqual(['0:null', '1:null']);
    expect(y.alarms('z')).toEqual([]);
  });

  it('yields over the operator\'s own rate and pause: the lower rate applies, and the operator\'s settings, changed meanwhile or not, are back on recovery', () => {
    const throttle = new GpuThrottle();
    let now = 0;
    const y = new ThermalYield(cfg, { renders: () => ({ throttle, runningFps: () => [40] }), live: () => undefined }, null, pino({ level: 'silent' }), { now: () => now });
    const feed = (temps: number[]) => {
      for (const t of temps) {
        y.update([reading(t)]);
        now += 1;
      }
    };
    const rates = () => throttle.state().map((g) => [g.paused, g.fps, g.fpsFrom]);
    const zone = () => y.view().zones[0]!;
    // the operator holds GPU 0 to 20 fps and has paused GPU 1
    throttle.setRate(0, 20, 'operator: quiet hours');
    throttle.pause(1, 'operator: maintenance');
    feed([70, 70, 70]);
    expect(zone().renderRate).toEqual([
      { gpu: 0, paused: false, fps: 20, fpsFrom: 'operator', operatorFps: 20, yieldFps: null },
      { gpu: 1, paused: true, fps: null, fpsFrom: null, operatorFps: null, yieldFps: null },
    ]);
    // step 1 is 60% of 40 = 24 fps: above the operator's 20, which stays the limit
    feed([84, 85]);
    expect(zone().step).toBe(1);
    expect(rates()).toEqual([
      [false, 20, 'operator'],
      [true, 24, 'yield'],
    ]);
    expect(throttle.state()[0]!.reason).toBe('operator: quiet hours');
    // step 2 is 35% = 14 fps: below it, yielding's rate applies
    feed([86, 86.3, 86.5, 86.6, 86.7]);
    expect(zone().step).toBe(2);
    expect(rates()).toEqual([
      [false, 14, 'yield'],
      [true, 14, 'yield'],
    ]);
    expect(throttle.state()[0]!.reason).toMatch(/^thermal yield \(zone z, step 2\/3\)/);
    expect(zone().renderRate[0]).toEqual({ gpu: 0, paused: false, fps: 14, fpsFrom: 'yield', operatorFps: 20, yieldFps: 14 });
    // the operator raises GPU 0 to 30 fps during the yield: kept, not applied while yielding holds it lower
    throttle.setRate(0, 30, 'operator: show time');
    expect(rates()[0]).toEqual([false, 14, 'yield']);
    // the pause step and back: the operator's pause of GPU 1 outlives yielding's
    feed([89.1]);
    expect(rates().map((r) => r[0])).toEqual([true, true]);
    feed(Array(11).fill(75));
    expect(zone().step).toBe(1);
    expect(rates()).toEqual([
      [false, 24, 'yield'],
      [true, 24, 'yield'],
    ]);
    // recovered: the operator's 30 fps and pause are what is left
    feed(Array(6).fill(75));
    expect(zone().step).toBe(0);
    expect(throttle.state()).toEqual([
      { gpu: 0, paused: false, fps: 30, fpsFrom: 'operator', reason: 'operator: show time', operator: { paused: false, fps: 30 }, yield: null },
      { gpu: 1, paused: true, fps: null, fpsFrom: null, reason: 'operator: maintenance', operator: { paused: true, fps: null }, yield: null },
    ]);
    expect(zone().renderRate[0]).toEqual({ gpu: 0, paused: false, fps: 30, fpsFrom: 'operator', operatorFps: 30, yieldFps: null });
  });

  it('never yields while the fans have headroom, and does nothing when disabled', () => {
    const throttle = new GpuThrottle();
    const y = new ThermalYield({ ...cfg, enabled: false }, { renders: () => ({ throttle, runningFps: () => [40] }), live: () => undefined }, null, pino({ level: 'silent' }));
    y.update([reading(89.5)]);
    expect(throttle.state()).toEqual([]);
    let now = 0;
    const y2 = new ThermalYield(cfg, { renders: () => ({ throttle, runningFps: () => [40] }), live: () => undefined }, null, pino({ level: 'silent' }), { now: () => now });
    for (const t of [80, 83, 86, 88]) {
      y2.update([reading(t, 0.7)]);
      now += 1;
    }
    expect(throttle.state()).toEqual([]);
  });
});
