/** The noise budget's hook in the zone controller: cap, floor, stop/start, and safety over it. */
import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import type { FanConfig } from '../../../src/cooler/config.ts';
import { ZoneConfig } from '../../../src/thermal/config.ts';
import { createZoneController } from '../../../src/thermal/control/index.ts';

const FANS: FanConfig[] = ['a', 'b', 'c'].map((id, channel) => ({ id, channel, maxRpm: 9000, minDuty: 0.2, startDuty: 0.5, maxDba: 40 }));
const zoneConfig = () => Value.Default(ZoneConfig, Value.Clone({ id: 'z', gpus: [0], fans: ['a', 'b', 'c'], pid: { setpoint: 78 } })) as ZoneConfig;

/** a zone held at 78 C under 150 W for a minute: the fans settle around half duty */
function settled() {
  const zone = createZoneController(zoneConfig(), FANS);
  let now = 0;
  let out = zone.step({ now, temps: [78], powerW: [150] });
  for (; now < 60; now += 0.2) out = zone.step({ now, temps: [78], powerW: [150] });
  return { zone, out, now };
}

describe('zone controller: noise budget bounds', () => {
  it('a cap takes the duty down at once (not at the slow slew), the integral holds while it binds, and the duty comes back when it lifts', () => {
    const { zone, out: before, now } = settled();
    expect(before.duty).toBeGreaterThan(0.4);
    const capped = zone.step({ now: now + 0.2, temps: [78], powerW: [150], budget: { cap: 0.3, floor: 0 } });
    expect(capped.duty).toBeCloseTo(0.3, 9);
    expect(capped.budget).toEqual({ cap: 0.3, floor: 0, bound: true });
    expect(Math.max(...Object.values(capped.fanDuties))).toBeLessThanOrEqual(0.3 + 1e-9);
    // a minute capped above the setpoint: the integral does not wind up meanwhile
    let t = now + 0.2;
    let out = capped;
    for (; t < now + 60; t += 0.2) out = zone.step({ now: t, temps: [80], powerW: [150], budget: { cap: 0.3, floor: 0 } });
    expect(out.duty).toBeCloseTo(0.3, 9);
    expect(out.terms.i).toBeCloseTo(capped.terms.i, 9);
    const free = zone.step({ now: t + 0.2, temps: [80], powerW: [150] });
    expect(free.budget).toBeNull();
    expect(free.duty).toBeGreaterThan(0.3);
  });

  it('a cap under minDuty stops the fans even under load; a floor starts stopped fans (kicked) and holds the duty up', () => {
    const { zone, now } = settled();
    const stopped = zone.step({ now: now + 0.2, temps: [70], powerW: [150], budget: { cap: 0, floor: 0 } });
    expect(stopped.stopped).toBe(true);
    expect(stopped.duty).toBe(0);
    expect(Object.values(stopped.fanDuties).every((d) => d === 0)).toBe(true);
    // the plain controller, cool and idle, keeps its fans stopped; a floor (pre-cooling) starts them
    const idle = createZoneController(zoneConfig(), FANS);
    let t = 0;
    let out = idle.step({ now: t, temps: [50], powerW: [30] });
    for (; t < 30; t += 0.2) out = idle.step({ now: t, temps: [50], powerW: [30] });
    expect(out.stopped).toBe(true);
    out = idle.step({ now: t, temps: [50], powerW: [30], budget: { cap: 1, floor: 0.8 } });
    expect(out.stopped).toBe(false);
    expect(out.duty).toBeCloseTo(0.8, 9);
    expect(Math.max(...Object.values(out.fanDuties))).toBeGreaterThanOrEqual(0.5); // kick-start duty at least
    // the floor wins over a cap below it
    expect(idle.step({ now: t + 0.2, temps: [50], powerW: [30], budget: { cap: 0.3, floor: 0.6 } }).duty).toBeCloseTo(0.6, 9);
  });

  it('failsafes win over the budget: a critical temperature or a missing sensor gives full fans whatever the cap', () => {
    const { zone, now } = settled();
    const critical = zone.step({ now: now + 0.2, temps: [91], powerW: [150], budget: { cap: 0, floor: 0 } });
    expect(critical.failsafe).toBe(true);
    expect(critical.duty).toBe(1);
    expect(Object.values(critical.fanDuties).every((d) => d === 1)).toBe(true);
    expect(critical.budget).toBeNull();
    const missing = zone.step({ now: now + 0.4, temps: [null], powerW: [150], budget: { cap: 0.2, floor: 0 } });
    expect(missing.failsafe).toBe(true);
    expect(missing.duty).toBe(1);
    // a budget that is not numbers is ignored, not obeyed
    const bad = zone.step({ now: now + 0.6, temps: [78], powerW: [150], budget: { cap: Number.NaN, floor: 0 } });
    expect(bad.budget).toBeNull();
    expect(bad.duty).toBeGreaterThan(0.4);
  });
});
