import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import type { FanConfig } from '../../../src/cooler/config.ts';
import { ZoneConfig } from '../../../src/thermal/config.ts';
import { countReversals, createZoneController, type ZonePatch, type ZoneStepOutput } from '../../../src/thermal/control/index.ts';
import { bursts, conductance, createPlant, fanConfigsFor, k80Rig, profile, standardBenchmarkProfile } from '../../../src/thermal/plant/index.ts';

const FANS: FanConfig[] = ['a', 'b', 'c'].map((id, channel) => ({ id, channel, maxRpm: 9000, minDuty: 0.2, startDuty: 0.5, maxDba: 40 }));

function zoneConfig(patch: Record<string, unknown> = {}): ZoneConfig {
  const base = Value.Default(ZoneConfig, { id: 'z', gpus: [0], fans: ['a', 'b', 'c'] }) as ZoneConfig;
  return { ...base, ...patch, pid: { ...base.pid, ...(patch.pid as object) }, feedForward: { ...base.feedForward, ...(patch.feedForward as object) } } as ZoneConfig;
}

/** Step a controller every `dt` for `seconds` at a constant input; returns the last output. */
function hold(zone: ReturnType<typeof createZoneController>, from: number, seconds: number, dt: number, temp: number, power = 100) {
  let out = zone.step({ now: from, temps: [temp], powerW: [power] });
  for (let t = from + dt; t <= from + seconds + 1e-9; t += dt) out = zone.step({ now: t, temps: [temp], powerW: [power] });
  return out;
}

describe('zone controller: safety overrides', () => {
  it('a missing or NaN temperature gives duty 1 and an alarm naming the GPU', () => {
    for (const bad of [Number.NaN, undefined, null]) {
      const zone = createZoneController(zoneConfig({ gpus: [0, 3] }), FANS);
      hold(zone, 0, 10, 0.2, 60, 30);
      const out = zone.step({ now: 10.2, temps: [60, bad], powerW: [30, 30] });
      expect(out.duty).toBe(1);
      expect(Object.values(out.fanDuties).every((d) => d === 1)).toBe(true);
      expect(out.alarms).toContain('sensor-missing:gpu3');
      expect(out.failsafe).toBe(true);
    }
  });

  it('at start-up: full fans until the first reading, then the controller starts at its own demand (no slow ramp down from full)', () => {
    const zone = createZoneController(zoneConfig({ pid: { setpoint: 75 }, stopBelowDuty: 0 }), FANS);
    for (let t = 0; t < 2; t += 0.2) expect(zone.step({ now: t, temps: [undefined], powerW: [null] }).duty).toBe(1);
    const firstReading = zone.step({ now: 2, temps: [40], powerW: [30] });
    expect(firstReading.failsafe).toBe(false);
    expect(firstReading.duty).toBe(0.2); // minDuty: a cool GPU needs no more
  });

  it('at or above the critical temperature: duty 1 and an alarm; on recovery the duty comes down at the slew rate', () => {
    const zone = createZoneController(zoneConfig({ criticalCelsius: 90 }), FANS);
    hold(zone, 0, 60, 0.2, 70, 100);
    const hot = zone.step({ now: 60.2, temps: [90], powerW: [100] });
    expect(hot.duty).toBe(1);
    expect(hot.alarms.some((a) => a.startsWith('critical:'))).toBe(true);
    const after = zone.step({ now: 60.4, temps: [70], powerW: [100] });
    expect(after.alarms).toEqual([]);
    expect(after.failsafe).toBe(false);
    expect(after.duty).toBeGreaterThan(1 - zoneConfig().slewDownPerSecond * 0.2 - 1e-9);
  });
});

describe('zone controller: non-finite values', () => {
  it('a NaN or infinite term (PID, curve, feed-forward) gives duty 1 and an alarm naming it; finite settings again recover with a finite integral', () => {
    const cases: Array<[ZonePatch, ZonePatch, string]> = [
      [{ pid: { setpoint: -Infinity } }, { pid: { setpoint: 70 } }, 'proportional'],
      [{ pid: { kp: Number.MAX_VALUE, ki: Number.MAX_VALUE } }, { pid: { kp: 0.018, ki: 0.0001 } }, 'proportional'],
      [{ feedForward: { dutyPerWatt: Infinity } }, { feedForward: { dutyPerWatt: 0.0048 } }, 'feed-forward'],
      [{ mode: 'curve', curve: [[40, 0], [70, Number.NaN]] }, { curve: [[40, 0], [70, 0.5]] }, 'curve-output'],
      [{ mode: 'fixed', fixedDuty: Number.NaN }, { fixedDuty: 0.4 }, 'fixed-output'],
    ];
    for (const [bad, good, term] of cases) {
      const zone = createZoneController(zoneConfig({ pid: { setpoint: 70 }, stopBelowDuty: 0, slewDownPerSecond: 5 }), FANS);
      const before = hold(zone, 0, 30, 0.2, 68, 80);
      expect(before.duty).toBeLessThan(0.9);
      zone.update(bad);
      const out = zone.step({ now: 30.2, temps: [68], powerW: [80] });
      expect(out.failsafe, term).toBe(true);
      expect(out.duty, term).toBe(1);
      expect(Object.values(out.fanDuties).every((d) => d === 1), term).toBe(true);
      expect(out.alarms, term).toContain(`controller-non-finite:${term}`);
      zone.update(good);
      const back = hold(zone, 30.4, 10, 0.2, 68, 80);
      expect(back.failsafe, term).toBe(false);
      expect(back.alarms, term).toEqual([]);
      expect(Object.values(back.terms).every(Number.isFinite), term).toBe(true);
      // bumpless from the full duty the fans had (as after any failsafe), not a NaN
      expect(back.duty, term).toBeGreaterThan(0);
      expect(back.duty, term).toBeLessThanOrEqual(1);
    }
  });
});

describe('zone controller: limits', () => {
  it('slews up fast and down slowly, at the configured rates', () => {
    const zone = createZoneController(zoneConfig({ mode: 'fixed', fixedDuty: 0.3, slewUpPerSecond: 0.5, slewDownPerSecond: 0.01, stopBelowDuty: 0 }), FANS);
    hold(zone, 0, 5, 0.2, 60);
    zone.update({ fixedDuty: 0.9 });
    const up = zone.step({ now: 5.2, temps: [60], powerW: [100] });
    expect(up.duty).toBeCloseTo(0.3 + 0.5 * 0.2, 6);
    const top = hold(zone, 5.4, 5, 0.2, 60);
    expect(top.duty).toBeCloseTo(0.9, 6);
    zone.update({ fixedDuty: 0.2 });
    const down = hold(zone, 10.6, 10, 0.2, 60);
    expect(down.duty).toBeCloseTo(0.9 - 0.01 * 10, 2);
  });

  it('pid mode: near the setpoint the duty falls at slewDownPerSecond; far under it, faster (fans left high there are noise for nothing)', () => {
    const fall = (newSetpoint: number) => {
      const zone = createZoneController(zoneConfig({ pid: { setpoint: 58 }, slewDownPerSecond: 0.003, stopBelowDuty: 0 }), FANS);
      const high = hold(zone, 0, 60, 0.2, 62, 150).duty;
      zone.update({ pid: { setpoint: newSetpoint } });
      const after = hold(zone, 60.2, 10, 0.2, 62, 150);
      expect(after.demand).toBeLessThanOrEqual(after.duty);
      return (high - after.duty) / 10;
    };
    expect(fall(64)).toBeLessThanOrEqual(0.0031); // 10.2 s of steps
    expect(fall(85)).toBeGreaterThan(5 * 0.003);
  });

  it('honours min and max duty', () => {
    const zone = createZoneController(zoneConfig({ mode: 'fixed', fixedDuty: 0.05, minDuty: 0.25, maxDuty: 0.8, stopBelowDuty: 0 }), FANS);
    expect(hold(zone, 0, 1, 0.2, 60).duty).toBe(0.25);
    zone.update({ fixedDuty: 1 });
    expect(hold(zone, 2, 10, 0.2, 60).duty).toBe(0.8);
  });

  it('stops the fans only when the zone idles, and restarts them once the demand reaches minDuty', () => {
    const zone = createZoneController(zoneConfig({ pid: { setpoint: 75 }, minDuty: 0.2, stopBelowDuty: 0.1 }), FANS);
    // idle power, cool GPU: the fans stop
    const idle = hold(zone, 0, 120, 0.2, 50, 30);
    expect(idle.stopped).toBe(true);
    expect(Object.values(idle.fanDuties)).toEqual([0, 0, 0]);
    // a little warmer but still well below the setpoint: they stay stopped (hysteresis)
    expect(hold(zone, 120.2, 30, 0.2, 60, 30).stopped).toBe(true);
    // hot: restart at least at minDuty
    const hot = hold(zone, 150.2, 30, 0.2, 80, 30);
    expect(hot.stopped).toBe(false);
    expect(hot.duty).toBeGreaterThanOrEqual(0.2);
  });

  it('restarts stopped fans once the temperature reaches the setpoint, whatever the P term says (no feed-forward)', () => {
    const zone = createZoneController(zoneConfig({ pid: { setpoint: 75, kp: 0.001, ki: 0 }, feedForward: { enabled: false }, minDuty: 0.2, stopBelowDuty: 0.1 }), FANS);
    expect(hold(zone, 0, 120, 0.2, 50, 30).stopped).toBe(true);
    expect(hold(zone, 120.2, 10, 0.2, 74, 30).stopped).toBe(true);
    const at = hold(zone, 130.4, 1, 0.2, 75, 30);
    expect(at.stopped).toBe(false);
    expect(at.duty).toBeGreaterThanOrEqual(0.2);
    // no on/off cycling around the setpoint: they stop again only `hysteresis` (2) degrees below it
    expect(hold(zone, 131.6, 60, 0.2, 74, 30).stopped).toBe(false);
    expect(hold(zone, 191.8, 60, 0.2, 72, 30).stopped).toBe(true);
  });

  it('never stops the fans under load, however cool, while the heatsink is not identified with the fans stopped', () => {
    const zone = createZoneController(zoneConfig({ pid: { setpoint: 75 } }), FANS);
    const out = hold(zone, 0, 600, 0.2, 40, 140);
    expect(out.stopped).toBe(false);
    expect(out.duty).toBeGreaterThanOrEqual(zoneConfig().minDuty);
  });

  it('after coming down, ignores small demand rises (backlash) but follows real ones', () => {
    const cfg = zoneConfig({ mode: 'fixed', fixedDuty: 0.6, stopBelowDuty: 0, reverseDeadband: 0.03, slewDownPerSecond: 1 });
    const zone = createZoneController(cfg, FANS);
    hold(zone, 0, 2, 0.2, 60);
    zone.update({ fixedDuty: 0.5 });
    expect(hold(zone, 2.2, 2, 0.2, 60).duty).toBeCloseTo(0.5, 6);
    zone.update({ fixedDuty: 0.52 });
    expect(hold(zone, 4.4, 2, 0.2, 60).duty).toBeCloseTo(0.5, 6);
    zone.update({ fixedDuty: 0.54 });
    expect(hold(zone, 6.6, 2, 0.2, 60).duty).toBeCloseTo(0.54, 6);
    // with the deadband off the small rise goes straight through
    const plain = createZoneController({ ...cfg, reverseDeadband: 0 }, FANS);
    hold(plain, 0, 2, 0.2, 60);
    plain.update({ fixedDuty: 0.5 });
    hold(plain, 2.2, 2, 0.2, 60);
    plain.update({ fixedDuty: 0.52 });
    expect(hold(plain, 4.4, 2, 0.2, 60).duty).toBeCloseTo(0.52, 6);
  });

  it('backlash: a slow way down with small upticks (sensor noise through P) still arms it; the swing back up is held', () => {
    const cfg = zoneConfig({ mode: 'fixed', fixedDuty: 0.6, stopBelowDuty: 0, reverseDeadband: 0.03, slewDownPerSecond: 1 });
    const zone = createZoneController(cfg, FANS);
    hold(zone, 0, 2, 0.2, 60);
    // down 0.005, up 0.002, six times: never 0.01 (a third of the deadband) down between two upticks, 0.018 in all
    let t = 2.2;
    let d = 0.6;
    for (let k = 0; k < 6; k++) {
      for (const step of [-0.005, 0.002]) {
        d += step;
        zone.update({ fixedDuty: d });
        hold(zone, t, 1, 0.2, 60);
        t += 1.2;
      }
    }
    const bottom = zone.state().last!.duty;
    expect(bottom).toBeLessThanOrEqual(0.582 + 1e-9);
    // back up to the top: under the deadband, a swing of noise, not a real rise
    zone.update({ fixedDuty: 0.6 });
    expect(hold(zone, t, 2, 0.2, 60).duty).toBeCloseTo(bottom, 6);
    // a real rise still gets through
    zone.update({ fixedDuty: 0.62 });
    expect(hold(zone, t + 2.2, 2, 0.2, 60).duty).toBeCloseTo(0.62, 6);
  });
});

describe('zone controller: curve mode', () => {
  it('follows the curve with hysteresis in degrees on the way down', () => {
    const zone = createZoneController(zoneConfig({ mode: 'curve', curve: [[40, 0.2], [80, 1]], hysteresis: 3, slewUpPerSecond: 100, slewDownPerSecond: 100, stopBelowDuty: 0 }), FANS);
    expect(hold(zone, 0, 1, 0.2, 60).duty).toBeCloseTo(0.6, 6);
    expect(hold(zone, 1.2, 1, 0.2, 58).duty).toBeCloseTo(0.6, 6);
    expect(hold(zone, 2.4, 1, 0.2, 55).duty).toBeCloseTo(0.2 + (0.8 * 18) / 40, 6);
  });
});

describe('zone controller: bumpless transfer', () => {
  const settle = (patch: ZonePatch = {}) => {
    const zone = createZoneController(zoneConfig({ mode: 'curve', curve: [[40, 0], [100, 1]], stopBelowDuty: 0, ...patch }), FANS);
    const out = hold(zone, 0, 60, 0.2, 76, 120);
    return { zone, duty: out.duty };
  };

  it('curve -> pid and pid -> fixed -> pid do not jump', () => {
    const { zone, duty } = settle();
    zone.update({ mode: 'pid', pid: { setpoint: 70 } });
    const a = zone.step({ now: 60.2, temps: [76], powerW: [120] });
    expect(Math.abs(a.duty - duty)).toBeLessThan(0.01);
    const b = hold(zone, 60.4, 20, 0.2, 76, 120);
    zone.update({ mode: 'fixed', fixedDuty: b.duty });
    const c = zone.step({ now: 80.6, temps: [76], powerW: [120] });
    expect(c.duty).toBeCloseTo(b.duty, 6);
    zone.update({ mode: 'pid' });
    const d = zone.step({ now: 80.8, temps: [76], powerW: [120] });
    expect(Math.abs(d.duty - c.duty)).toBeLessThan(0.01);
  });

  it('gain and feed-forward changes do not jump the duty', () => {
    const zone = createZoneController(zoneConfig({ pid: { setpoint: 70 }, stopBelowDuty: 0 }), FANS);
    const before = hold(zone, 0, 120, 0.2, 73, 120);
    zone.update({ pid: { kp: 0.2, ki: 0.01, kd: 1 }, feedForward: { dutyPerWatt: 0.001 } });
    const after = zone.step({ now: 120.2, temps: [73], powerW: [120] });
    expect(Math.abs(after.duty - before.duty)).toBeLessThan(0.01);
    // the terms themselves did change
    expect(Math.abs(after.terms.p - before.terms.p)).toBeGreaterThan(0.3);
  });

  it('rejects settings it cannot use, naming the field, and keeps the old ones', () => {
    const zone = createZoneController(zoneConfig(), FANS);
    expect(() => zone.update({ minDuty: 0.9, maxDuty: 0.5 })).toThrow(/minDuty: must be <= maxDuty/);
    expect(() => zone.update({ curve: [[50, 0.1], [45, 0.5]] })).toThrow(/curve\[1\]: temperatures must increase/);
    expect(zone.state().config.minDuty).toBe(zoneConfig().minDuty);
  });

  it('names an unknown fan', () => {
    expect(() => createZoneController(zoneConfig({ fans: ['a', 'zz'] }), FANS)).toThrow(/unknown fan "zz"/);
  });
});

describe('zone controller: inputs', () => {
  it('aggregates the zone GPUs by max or mean', () => {
    const max = createZoneController(zoneConfig({ gpus: [0, 1], aggregate: 'max' }), FANS);
    const mean = createZoneController(zoneConfig({ gpus: [0, 1], aggregate: 'mean' }), FANS);
    expect(max.step({ now: 0, temps: [60, 70], powerW: [50, 50] }).temperature).toBe(70);
    expect(mean.step({ now: 0, temps: [60, 70], powerW: [50, 50] }).temperature).toBe(65);
  });

  it('a load hint raises the duty before the power or the temperature do', () => {
    const mk = () => createZoneController(zoneConfig({ pid: { setpoint: 75 }, feedForward: { headroomCelsius: 0 }, stopBelowDuty: 0 }), FANS);
    const hinted = mk();
    const plain = mk();
    hold(hinted, 0, 60, 0.2, 70, 30);
    hold(plain, 0, 60, 0.2, 70, 30);
    let h = hinted.step({ now: 60.2, temps: [70], powerW: [30], loadHintW: 150 });
    let p = plain.step({ now: 60.2, temps: [70], powerW: [30] });
    for (let t = 60.4; t <= 62 + 1e-9; t += 0.2) {
      h = hinted.step({ now: t, temps: [70], powerW: [30], loadHintW: 150 });
      p = plain.step({ now: t, temps: [70], powerW: [30] });
    }
    expect(h.terms.ff).toBeGreaterThan(0.3);
    expect(h.duty - p.duty).toBeGreaterThan(0.3);
  });

  it('kick-starts stopped fans through the allocator and reports per-fan state', () => {
    const zone = createZoneController(zoneConfig({ mode: 'fixed', fixedDuty: 0.3, stopBelowDuty: 0 }), FANS);
    const out = zone.step({ now: 0, temps: [60], powerW: [100], fanRpm: { a: 0, b: 0, c: 0 } });
    expect(out.fanDuties).toEqual({ a: 0.5, b: 0.5, c: 0.5 });
    expect(out.fans.a!.kicking).toBe(true);
    const later = hold(zone, 0.2, 2, 0.2, 60);
    expect(later.fanDuties.a).toBeCloseTo(0.3, 6);
  });
});

describe('zone controller: issue 14 defects', () => {
  it('a multi-GPU zone filters power per GPU before combining: two GPUs bursting in turn are not a constant full load', () => {
    // constant made-up temperatures: nothing a rig could do, so the configured feed-forward alone (no identification)
    const noId = { identifySeconds: 0 };
    const zone = createZoneController(zoneConfig({ gpus: [0, 1], stopBelowDuty: 0, feedForward: noId }), FANS);
    const single = createZoneController(zoneConfig({ gpus: [0], stopBelowDuty: 0, feedForward: noId }), FANS);
    let out = zone.step({ now: 0, temps: [60, 60], powerW: [40, 40] });
    let one = single.step({ now: 0, temps: [60], powerW: [40] });
    // 20 s at 150 W, 20 s at 40 W, the second GPU in antiphase, for 10 minutes
    for (let t = 0.2; t <= 600 + 1e-9; t += 0.2) {
      const on = Math.floor(t / 20) % 2 === 0;
      out = zone.step({ now: t, temps: [60, 60], powerW: [on ? 150 : 40, on ? 40 : 150] });
      one = single.step({ now: t, temps: [60], powerW: [on ? 150 : 40] });
    }
    // each GPU's heatsink sees the mean of its own bursts: the zone needs what one bursting GPU needs
    expect(Math.abs(out.terms.ff - one.terms.ff)).toBeLessThan(0.03);
    const steady = createZoneController(zoneConfig({ gpus: [0, 1], stopBelowDuty: 0, feedForward: noId }), FANS);
    let full = steady.step({ now: 0, temps: [60, 60], powerW: [150, 150] });
    for (let t = 0.2; t <= 600 + 1e-9; t += 0.2) full = steady.step({ now: t, temps: [60, 60], powerW: [150, 150] });
    expect(out.terms.ff).toBeLessThan(full.terms.ff * 0.8);
  });

  it('on the plant: after an overshoot the integral does not wind up through the 600 s fall filter while the die is below the setpoint', () => {
    const rig = k80Rig({ gpus: 1 });
    const plant = createPlant(rig);
    // no power reading: the integral carries the load (kiWithoutFeedForward), a 150 W step overshoots
    plant.setLoad(0, standardBenchmarkProfile());
    const base = Value.Default(ZoneConfig, { id: 'z', gpus: [0], fans: rig.fans.map((f) => f.id) }) as ZoneConfig;
    const zone = createZoneController(base, fanConfigsFor(rig));
    let lastI: number | null = null;
    let windup = 0;
    let below = 0;
    for (let t = 0; t < 1500; t += 0.2) {
      const g = plant.gpu(0);
      const reading = Math.round(g.temperatureC);
      const out = zone.step({ now: t, temps: [reading], powerW: [null], fanRpm: Object.fromEntries(plant.fans().map((f) => [f.id, f.rpm])) });
      for (const [id, d] of Object.entries(out.fanDuties)) plant.setDuty(id, d);
      plant.step(0.2);
      // the die 2 C or more below the setpoint (and has been for a while): the integral must not rise
      below = g.temperatureC <= base.pid.setpoint - 2 ? below + 0.2 : 0;
      if (lastI !== null && below > 60 && out.terms.i > lastI + 1e-12) windup += out.terms.i - lastI;
      lastI = out.terms.i;
    }
    expect(windup).toBe(0);
  });

  it('at the setpoint under an unchanged load a falling reading reaches P at once; after a load drop the slow fall filter still rides the dip', () => {
    const run = (afterW: number) => {
      const zone = createZoneController(zoneConfig({ pid: { setpoint: 78 } }), FANS);
      // settled: 150 W read steadily (the power estimate has caught up), the reading at the setpoint
      hold(zone, 0, 600, 0.2, 78, 150);
      // the die settles a degree under it: the load unchanged, or dropped to 60 W
      return hold(zone, 600.2, 90, 0.2, 77, afterW).terms.p;
    };
    const kp = zoneConfig().pid.kp;
    // the die is settling (the power matches its estimate): P sees the degree within a minute and a half
    expect(run(150)).toBeLessThan(-0.9 * kp);
    // a load drop: the dip is not taken for the temperature the lower load will settle at
    expect(run(60)).toBeGreaterThan(-0.2 * kp);
  });

  it('ambient compensation: hotter intake air raises the feed-forward by ((refSp - refAmbient) / (sp - ambient))^2; an implausible reading falls back to ambientCelsius', () => {
    // the configured scaling alone (identification off: constant made-up temperatures)
    const ffAt = (ambientC: number | null | undefined, patch: { feedForward?: object } = {}) => {
      const zone = createZoneController(zoneConfig({ stopBelowDuty: 0, ...patch, feedForward: { identifySeconds: 0, ...patch.feedForward } }), FANS);
      let out = zone.step({ now: 0, temps: [70], powerW: [150], ambientC });
      for (let t = 0.2; t <= 300 + 1e-9; t += 0.2) out = zone.step({ now: t, temps: [70], powerW: [150], ambientC });
      return out;
    };
    const ref = ffAt(30).terms.ff;
    expect(ref).toBeGreaterThan(0.3);
    expect(ffAt(40).terms.ff / ref).toBeCloseTo(((78 - 30) / (78 - 40)) ** 2, 6);
    expect(ffAt(15).terms.ff / ref).toBeCloseTo(((78 - 30) / (78 - 15)) ** 2, 6);
    // no reading: the configured ambientCelsius
    expect(ffAt(undefined, { feedForward: { ambientCelsius: 40 } }).terms.ff / ref).toBeCloseTo(((78 - 30) / (78 - 40)) ** 2, 6);
    // a broken thermistor (open: -40, shorted: 150) is not used, and says so without touching the fans
    const broken = ffAt(150, { feedForward: { ambientThermistor: 'intake' } });
    expect(broken.terms.ff).toBeCloseTo(ref, 9);
    expect(broken.ambientSource).toBe('config');
    expect(broken.alarms).toContain('ambient-missing:intake');
    expect(broken.failsafe).toBe(false);
    expect(ffAt(35).ambientSource).toBe('thermistor');
  });

  it('on the plant: when the load drops the integral does not soak up the falling feed-forward while the fans slew down (it would lead the next load with stale duty)', () => {
    const rig = k80Rig({ gpus: 1 });
    const plant = createPlant(rig);
    plant.setLoad(0, profile([{ seconds: 120, watts: 30 }, { seconds: 900, watts: 150 }, { seconds: 400, watts: 30 }]));
    const base = Value.Default(ZoneConfig, { id: 'z', gpus: [0], fans: rig.fans.map((f) => f.id) }) as ZoneConfig;
    const zone = createZoneController(base, fanConfigsFor(rig));
    let atDrop = NaN;
    let highest = -Infinity;
    for (let t = 0; t < 1420; t += 0.2) {
      const g = plant.gpu(0);
      const out = zone.step({ now: t, temps: [Math.round(g.temperatureC)], powerW: [g.powerW], fanRpm: Object.fromEntries(plant.fans().map((f) => [f.id, f.rpm])) });
      for (const [id, d] of Object.entries(out.fanDuties)) plant.setDuty(id, d);
      plant.step(0.2);
      if (t < 1020) atDrop = out.terms.i;
      else highest = Math.max(highest, out.terms.i);
    }
    expect(highest).toBeLessThanOrEqual(Math.max(atDrop, 0) + 0.06);
  });

  it('after a load drop the power estimate falls at the rise time constant once the die is more than 3 C under the setpoint and the drop has lasted 25 s, at fallSeconds near it', () => {
    const ffAfterDrop = (tempAfter: number, seconds: number) => {
      const zone = createZoneController(zoneConfig({ pid: { setpoint: 76 }, stopBelowDuty: 0, feedForward: { identifySeconds: 0, learnSeconds: 0 } }), FANS);
      hold(zone, 0, 300, 0.2, 75, 150);
      return hold(zone, 300.2, seconds, 0.2, tempAfter, 40).terms.ff;
    };
    // the first 25 s of a drop (a burst's off part?) fall at fallSeconds wherever the die is
    expect(ffAfterDrop(65, 20)).toBeCloseTo(ffAfterDrop(75, 20), 9);
    // 60 s: (1 + 2/3) e^(-2/3) of the step left at fallSeconds (90 s) throughout; 25 s of it, then 35 s at the rise time constant (30 s): 0.6 of that
    const near = ffAfterDrop(75, 60);
    const far = ffAfterDrop(65, 60);
    expect(far / near).toBeGreaterThan(0.55);
    expect(far / near).toBeLessThan(0.65);
  });

  it('while the power repeats in minute-long bursts the estimate keeps the slow fall through their off parts far under the setpoint; once the bursts end it falls fast again', () => {
    /** 60 s at 150 W (announced by a hint), 60 s at 40 W, `cycles` times from t = 120, then `tail` s at 40 W; the die held at `temp`; ff at the end */
    const ffAt = (temp: number, cycles: number, tail: number) => {
      const zone = createZoneController(zoneConfig({ pid: { setpoint: 76 }, stopBelowDuty: 0, feedForward: { identifySeconds: 0, learnSeconds: 0 } }), FANS);
      const end = 120 + cycles * 120 - 60 + tail;
      let out = zone.step({ now: 0, temps: [temp], powerW: [30] });
      for (let t = 0.2; t <= end + 1e-9; t += 0.2) {
        const inCycle = t >= 120 && t < 120 + cycles * 120 - 60 ? (t - 120) % 120 : null;
        const watts = t < 120 ? 30 : inCycle !== null && inCycle < 60 ? 150 : 40;
        out = zone.step({ now: t, temps: [temp], powerW: [watts], loadHintW: inCycle !== null && inCycle < 5 ? 150 : undefined });
      }
      return out.terms.ff;
    };
    // 55 s into the third off part (the cycle seen at the second burst): as near the setpoint, where it never falls fast
    // (the fast fall after 25 s took it to ~0.7 of that)
    const far = ffAt(65, 3, 55);
    expect(far).toBeGreaterThan(0.1);
    expect(far / ffAt(75, 3, 55)).toBeGreaterThan(0.95);
    // a drop that outlasts the cycles has ended them: 4 min later the fast fall has shed most of what the slow one still holds
    expect(ffAt(65, 3, 240) / ffAt(75, 3, 240)).toBeLessThan(0.5);
  });

  it('on the plant: when 300 s of load end the fans are back at minDuty within a minute and a half (it took over two); a rig at its limit keeps them up', () => {
    /** s from the end of the load until the duty is back at minDuty, and the duty when it ended */
    const after = (gain: number, setpoint: number) => {
      const rig = k80Rig({ gpus: 1, fansPerGpu: 3, seed: 7, powerNoiseW: 0.5 });
      rig.gpus[0]!.conductanceFullWPerK /= gain;
      rig.gpus[0]!.conductanceStillWPerK /= gain;
      const plant = createPlant(rig);
      plant.setLoad(0, profile([{ seconds: 120, watts: 30 }, { seconds: 300, watts: 150 }, { seconds: 300, watts: 40 }]));
      const base = Value.Default(ZoneConfig, { id: 'z', gpus: [0], fans: rig.fans.map((f) => f.id) }) as ZoneConfig;
      const zone = createZoneController(base, fanConfigsFor(rig, { minDuty: 0.2, startDuty: 0.5 }));
      zone.update({ pid: { setpoint } });
      let atDrop = NaN;
      let backAt = Infinity;
      for (let t = 0; t < 720; t += 0.2) {
        const g = plant.gpu(0);
        const out = zone.step({ now: t, temps: [Math.round(g.temperatureC)], powerW: [Math.round(g.powerW * 100) / 100], loadHintW: t >= 120 && t < 150 ? 150 : undefined, ambientC: plant.ambientC, fanRpm: Object.fromEntries(plant.fans().map((f) => [f.id, f.rpm])) });
        for (const [id, d] of Object.entries(out.fanDuties)) plant.setDuty(id, d);
        plant.step(0.2);
        if (t < 420) atDrop = out.duty;
        else if (out.duty <= 0.2 + 1e-6) backAt = Math.min(backAt, t);
      }
      return { atDrop, seconds: backAt - 420 };
    };
    // the die came up to ~75 C with the fans at ~0.53 (76 C setpoint), then fell ~18 C within two minutes of the drop
    const k80 = after(1, 76);
    expect(k80.atDrop).toBeGreaterThan(0.45);
    expect(k80.seconds).toBeLessThan(90);
    // a heatsink 1.4x as heavy holds 150 W at 80 C only with the fans at ~0.9: they shed heat after the load at the slow fall
    const heavy = after(1.4, 80);
    expect(heavy.atDrop).toBeGreaterThan(0.85);
    expect(heavy.seconds).toBeGreaterThan(150);
  });

  it('on the plant: 60 s bursts far below the setpoint do not ratchet the integral up burst by burst through the slew-down back-calculation', () => {
    const rig = k80Rig({ gpus: 1 });
    const plant = createPlant(rig);
    plant.setLoad(0, profile([{ seconds: 120, watts: 30 }, ...bursts(60, 150, 60, 40, 900), { seconds: 300, watts: 30 }]));
    const base = Value.Default(ZoneConfig, { id: 'z', gpus: [0], fans: rig.fans.map((f) => f.id) }) as ZoneConfig;
    const zone = createZoneController(base, fanConfigsFor(rig));
    zone.update({ pid: { setpoint: 72 }, feedForward: { learnSeconds: 0 } });
    let highest = -Infinity;
    for (let t = 0; t < 1320; t += 0.2) {
      const g = plant.gpu(0);
      const out = zone.step({ now: t, temps: [Math.round(g.temperatureC)], powerW: [g.powerW], fanRpm: Object.fromEntries(plant.fans().map((f) => [f.id, f.rpm])) });
      for (const [id, d] of Object.entries(out.fanDuties)) plant.setDuty(id, d);
      plant.step(0.2);
      highest = Math.max(highest, out.terms.i);
    }
    // the die stays well below 72 C all along: nothing for the integral to add beyond the 0.05 allowance
    expect(highest).toBeLessThan(0.08);
  });

  it('a load hint starts stopped fans (pre-cooling), with a kick', () => {
    const zone = createZoneController(zoneConfig(), FANS);
    const idle = hold(zone, 0, 120, 0.2, 50, 30);
    expect(idle.stopped).toBe(true);
    const hinted = zone.step({ now: 120.2, temps: [50], powerW: [30], loadHintW: 150, fanRpm: { a: 0, b: 0, c: 0 } });
    expect(hinted.stopped).toBe(false);
    expect(hinted.duty).toBeGreaterThanOrEqual(zoneConfig().minDuty);
    const running = Object.values(hinted.fans).filter((f) => f.duty > 0);
    expect(running.length).toBeGreaterThan(0);
    expect(running.every((f) => f.kicking && f.duty >= 0.5)).toBe(true);
    // a hint at or below idle power starts nothing
    const other = createZoneController(zoneConfig(), FANS);
    hold(other, 0, 120, 0.2, 50, 30);
    expect(other.step({ now: 120.2, temps: [50], powerW: [30], loadHintW: 35 }).stopped).toBe(true);
  });
});

describe('zone controller: learning the duty per watt (issue 14)', () => {
  /** a heavier heatsink than the feed-forward was fitted to (gain x1.4): 150 W steps, setpoint 80 */
  function learnRun(learnSeconds: number) {
    const rig = k80Rig({ gpus: 1 });
    rig.gpus[0]!.conductanceFullWPerK /= 1.4;
    rig.gpus[0]!.conductanceStillWPerK /= 1.4;
    const plant = createPlant(rig);
    plant.setLoad(0, profile([{ seconds: 120, watts: 30 }, { seconds: 1500, watts: 150 }, { seconds: 600, watts: 30 }, { seconds: 900, watts: 150 }]));
    const base = Value.Default(ZoneConfig, { id: 'z', gpus: [0], fans: rig.fans.map((f) => f.id) }) as ZoneConfig;
    const zone = createZoneController(base, fanConfigsFor(rig));
    // identification off: it would carry the heavier rig itself and leave the integral nothing to hand over
    zone.update({ pid: { setpoint: 80 }, feedForward: { learnSeconds, identifySeconds: 0 } });
    let secondPeak = -Infinity;
    let maxJump = 0;
    let lastDuty: number | null = null;
    let afterFirst = { factor: NaN, i: NaN, duty: NaN };
    for (let t = 0; t < 3120; t += 0.2) {
      const g = plant.gpu(0);
      const out = zone.step({ now: t, temps: [Math.round(g.temperatureC)], powerW: [g.powerW], fanRpm: Object.fromEntries(plant.fans().map((f) => [f.id, f.rpm])) });
      for (const [id, d] of Object.entries(out.fanDuties)) plant.setDuty(id, d);
      plant.step(0.2);
      if (t > 1000 && t < 1600 && lastDuty !== null) maxJump = Math.max(maxJump, Math.abs(out.duty - lastDuty));
      lastDuty = out.duty;
      if (Math.abs(t - 1610) < 0.1) afterFirst = { factor: zone.state().learned.dutyPerWattFactor, i: out.terms.i, duty: out.duty };
      if (t >= 2220) secondPeak = Math.max(secondPeak, plant.gpu(0).temperatureC);
    }
    return { ...afterFirst, secondPeak, maxJump, learned: zone.state().learned };
  }

  it('moves the integral into the feed-forward while the zone holds its setpoint, without moving the fans, and the next load step overshoots less', () => {
    const off = learnRun(0);
    const on = learnRun(600);
    expect(off.factor).toBe(1);
    expect(on.factor).toBeGreaterThan(1.15);
    expect(on.factor).toBeLessThanOrEqual(2);
    expect(on.learned.learnedSeconds).toBeGreaterThan(300);
    // the same airflow at the end of the first load, carried by the feed-forward instead of the integral
    expect(Math.abs(on.duty - off.duty)).toBeLessThan(0.02);
    expect(Math.abs(on.i)).toBeLessThan(Math.abs(off.i) / 2);
    // no jumps while it learns: slower than any slew
    expect(on.maxJump).toBeLessThan(0.01);
    expect(on.secondPeak).toBeLessThan(off.secondPeak - 0.3);
  });

  it('restores what an earlier run learned, bumplessly, and refuses values out of bounds', () => {
    // learning off: only what is restored counts
    const zone = createZoneController(zoneConfig({ stopBelowDuty: 0, feedForward: { learnSeconds: 0, identifySeconds: 0 } }), FANS);
    const before = hold(zone, 0, 300, 0.2, 78, 150);
    expect(zone.restoreLearned({ dutyPerWattFactor: 3, learnedSeconds: 10 })).toBe(false);
    expect(zone.restoreLearned({ dutyPerWattFactor: Number.NaN, learnedSeconds: 10 })).toBe(false);
    expect(zone.restoreLearned({ dutyPerWattFactor: 1.5, learnedSeconds: -1 })).toBe(false);
    expect(zone.state().learned).toEqual({ dutyPerWattFactor: 1, learnedSeconds: 0 });
    expect(zone.restoreLearned({ dutyPerWattFactor: 1.5, learnedSeconds: 900 })).toBe(true);
    expect(zone.state().learned).toEqual({ dutyPerWattFactor: 1.5, learnedSeconds: 900 });
    const after = zone.step({ now: 300.2, temps: [78], powerW: [150] });
    expect(after.terms.ff).toBeCloseTo(before.terms.ff * 1.5, 3);
    expect(Math.abs(after.demand - before.demand)).toBeLessThan(0.01);
  });
});

describe('zone controller: identifying the rig (issue 14)', () => {
  /** a rig unlike the one the configured feed-forward was fitted to: heavier heatsink, 60% airflow, hotter air */
  function run(identifySeconds: number) {
    const rig = k80Rig({ gpus: 1, ambientC: 35 });
    const g = rig.gpus[0]!;
    g.conductanceStillWPerK /= 1.3;
    g.conductanceFullWPerK = conductance({ ...g, conductanceFullWPerK: g.conductanceFullWPerK / 1.3 }, 0.75);
    const plant = createPlant(rig);
    plant.setLoad(0, profile([{ seconds: 120, watts: 30 }, { seconds: 900, watts: 120 }]));
    const base = Value.Default(ZoneConfig, { id: 'z', gpus: [0], fans: rig.fans.map((f) => f.id) }) as ZoneConfig;
    const zone = createZoneController(base, fanConfigsFor(rig));
    zone.update({ pid: { setpoint: 76 }, feedForward: { identifySeconds, learnSeconds: 0 } });
    let peak = -Infinity;
    for (let t = 0; t < 1020; t += 0.2) {
      const r = plant.gpu(0);
      const out = zone.step({ now: t, temps: [Math.round(r.temperatureC)], powerW: [r.powerW], ambientC: plant.ambientC, fanRpm: Object.fromEntries(plant.fans().map((f) => [f.id, f.rpm])) });
      for (const [id, d] of Object.entries(out.fanDuties)) plant.setDuty(id, d);
      plant.step(0.2);
      peak = Math.max(peak, plant.gpu(0).temperatureC);
    }
    return { peak, state: zone.state(), g };
  }

  it('on the plant: identifies the rig during the first load and holds the setpoint where the configured feed-forward overshoots', () => {
    const off = run(0);
    const on = run(3600);
    expect(off.peak).toBeGreaterThan(76 + 2.5);
    expect(on.peak).toBeLessThan(76 + 1.5);
    const rig = on.state.rigs[0]!;
    expect(rig.updates).toBeGreaterThan(30);
    expect(Math.abs(rig.heatCapacityJPerK / on.g.heatCapacityJPerK - 1)).toBeLessThan(0.15);
    expect(Math.abs(rig.fullWPerK / on.g.conductanceFullWPerK - 1)).toBeLessThan(0.2);
    expect(off.state.rigs[0]!.updates).toBe(0);
  });

  it('on the plant: anticipates a load from idle on a warm GPU without a hint (the heatsink has no room to average it), not render bursts', () => {
    const warm = (identifySeconds: number, loads: Array<{ seconds: number; watts: number }>) => {
      const rig = k80Rig({ gpus: 1 });
      rig.gpus[0]!.initialC = 65;
      const plant = createPlant(rig);
      plant.setLoad(0, profile([{ seconds: 120, watts: 30 }, ...loads]));
      const base = Value.Default(ZoneConfig, { id: 'z', gpus: [0], fans: rig.fans.map((f) => f.id) }) as ZoneConfig;
      const zone = createZoneController(base, fanConfigsFor(rig));
      zone.update({ pid: { setpoint: 72 }, feedForward: { identifySeconds } });
      let peak = -Infinity;
      const duties: Array<{ t: number; duty: number }> = [];
      for (let t = 0; t < 1020; t += 0.2) {
        const r = plant.gpu(0);
        const out = zone.step({ now: t, temps: [Math.round(r.temperatureC)], powerW: [r.powerW], ambientC: plant.ambientC, fanRpm: Object.fromEntries(plant.fans().map((f) => [f.id, f.rpm])) });
        for (const [id, d] of Object.entries(out.fanDuties)) plant.setDuty(id, d);
        plant.step(0.2);
        peak = Math.max(peak, plant.gpu(0).temperatureC);
        duties.push({ t, duty: out.duty });
      }
      return { peak, reversals: countReversals(duties, { deadband: 0.02, from: 120 }) };
    };
    const steady = [{ seconds: 900, watts: 150 }];
    const blind = warm(0, steady);
    const seen = warm(3600, steady);
    expect(blind.peak).toBeGreaterThan(72 + 3);
    expect(seen.peak).toBeLessThan(72 + 1.5);
    // minute-long bursts far below the setpoint: the fans do not chase each one
    const bursty = warm(3600, bursts(60, 150, 60, 40, 900));
    // (the first bursts, before the hold engages, still move the fans: 5 reversals in 15 minutes)
    expect(bursty.reversals / 15).toBeLessThan(0.35);
    expect(bursty.peak).toBeLessThan(72 + 1.5);
  });

  it('on the plant: arrives at the setpoint from a load step with the steady duty, not short of it (no overshoot to settle from)', () => {
    // a warm GPU (65 C) that gets a steady load after 2 minutes of idle, as in the scenario bench
    const arrive = (setpoint: number, watts: number, hint: boolean) => {
      const rig = k80Rig({ gpus: 1, fansPerGpu: 3, seed: 7, powerNoiseW: 0.5 });
      rig.gpus[0]!.initialC = 65;
      const plant = createPlant(rig);
      plant.setLoad(0, profile([{ seconds: 120, watts: 30 }, { seconds: 900, watts }]));
      const base = Value.Default(ZoneConfig, { id: 'z', gpus: [0], fans: rig.fans.map((f) => f.id) }) as ZoneConfig;
      const zone = createZoneController(base, fanConfigsFor(rig));
      zone.update({ pid: { setpoint } });
      let peak = -Infinity;
      for (let t = 0; t < 1020; t += 0.2) {
        const r = plant.gpu(0);
        const loadHintW = hint && t >= 120 && t < 150 ? watts : undefined;
        const out = zone.step({ now: t, temps: [Math.round(r.temperatureC)], powerW: [Math.round(r.powerW * 100) / 100], loadHintW, ambientC: plant.ambientC, fanRpm: Object.fromEntries(plant.fans().map((f) => [f.id, f.rpm])) });
        for (const [id, d] of Object.entries(out.fanDuties)) plant.setDuty(id, d);
        plant.step(0.2);
        peak = Math.max(peak, plant.gpu(0).temperatureC);
      }
      return peak;
    };
    // the integral trimmed down on the way in: without the arrival rule 0.63 C over
    expect(arrive(76, 150, true)).toBeLessThan(76 + 0.2);
    // 200 W, beyond the load dutyPerWatt is fitted at: the identified model's steady duty (1.51 C over without)
    expect(arrive(80, 200, false)).toBeLessThan(80 + 1.25);
  });

  it('on the plant: a die that crept to its setpoint gets only the duty its creep shows missing, not the whole trim back (warm start, no hint)', () => {
    // the scenario bench's warm start without a hint at 80 C: the die creeps over its last degree for ~3 min
    // while the integral trims a feed-forward a little over the rig's need; the arrival restored all of it
    // (0.45 -> 0.48 where 0.46 holds) and the die backed off to 79 C for another ~100 s with the fans up
    const rig = k80Rig({ gpus: 1, fansPerGpu: 3, seed: 7, powerNoiseW: 0.5 });
    rig.gpus[0]!.initialC = 65;
    const plant = createPlant(rig);
    plant.setLoad(0, profile([{ seconds: 120, watts: 30 }, { seconds: 900, watts: 150 }]));
    const base = Value.Default(ZoneConfig, { id: 'z', gpus: [0], fans: rig.fans.map((f) => f.id) }) as ZoneConfig;
    const zone = createZoneController(base, fanConfigsFor(rig));
    zone.update({ pid: { setpoint: 80 } });
    let arrivedAt = NaN;
    let integralBefore = NaN;
    let integralAt = NaN;
    let peak = -Infinity;
    for (let t = 0; t < 1020; t += 0.2) {
      const r = plant.gpu(0);
      const reading = Math.round(r.temperatureC);
      const out = zone.step({ now: t, temps: [reading], powerW: [Math.round(r.powerW * 100) / 100], ambientC: plant.ambientC, fanRpm: Object.fromEntries(plant.fans().map((f) => [f.id, f.rpm])) });
      if (Number.isNaN(arrivedAt) && t > 120 && reading >= 80) arrivedAt = t;
      if (Number.isNaN(arrivedAt)) integralBefore = out.terms.i;
      else if (Number.isNaN(integralAt)) integralAt = out.terms.i;
      for (const [id, d] of Object.entries(out.fanDuties)) plant.setDuty(id, d);
      plant.step(0.2);
      peak = Math.max(peak, plant.gpu(0).temperatureC);
    }
    // a creeping arrival: minutes after the load began
    expect(arrivedAt).toBeGreaterThan(300);
    // the trim was -0.02; the creep asks ~0.01 with the P left to fade (the whole trim back: 0.02, to 0)
    expect(integralBefore).toBeLessThan(-0.015);
    expect(integralAt - integralBefore).toBeGreaterThan(0);
    expect(integralAt - integralBefore).toBeLessThan(0.014);
    expect(peak).toBeLessThan(80 + 0.2);
  });

  it('on the plant: a second load arrives as the first did, whatever the integral the cool-down after the first left (no power reading)', () => {
    // one controller through two loads, as the scenario bench's second pass: 150 W for 15 min after 2 min of idle, a hint at
    // its start, no power reading (the heat is observed), 5 min of idle after it; the plant starts cold again a minute later
    const rig = k80Rig({ gpus: 1, fansPerGpu: 3, seed: 7, powerNoiseW: 0.5 });
    const base = Value.Default(ZoneConfig, { id: 'z', gpus: [0], fans: rig.fans.map((f) => f.id) }) as ZoneConfig;
    const zone = createZoneController(base, fanConfigsFor(rig));
    zone.update({ pid: { setpoint: 76 } });
    const pass = (offset: number) => {
      const plant = createPlant(rig);
      plant.setLoad(0, profile([{ seconds: 120, watts: 30 }, { seconds: 900, watts: 150 }, { seconds: 300, watts: 30 }]));
      let peak = -Infinity;
      let integralAfter = NaN;
      for (let t = 0; t < 1320; t += 0.2) {
        const r = plant.gpu(0);
        const loadHintW = t >= 120 && t < 150 ? 150 : undefined;
        const out = zone.step({ now: offset + t, temps: [Math.round(r.temperatureC)], powerW: [null], loadHintW, ambientC: plant.ambientC, fanRpm: Object.fromEntries(plant.fans().map((f) => [f.id, f.rpm])) });
        for (const [id, d] of Object.entries(out.fanDuties)) plant.setDuty(id, d);
        plant.step(0.2);
        peak = Math.max(peak, plant.gpu(0).temperatureC);
        integralAfter = out.terms.i;
      }
      return { peak, integralAfter };
    };
    const first = pass(0);
    // the cool-down after the first load left the integral under zero: the second load starts from there
    expect(first.integralAfter).toBeLessThan(-0.005);
    expect(first.peak).toBeLessThan(76);
    // with the arrival refusing a negative start, the second load settled 0.5 C over the setpoint
    expect(pass(1380).peak).toBeLessThan(76 + 0.2);
  });

  /** the scenario bench's rig scaled (plant gain: conductances / gain; time constant: heat capacity x tau), a load after 120 s of idle with a hint at its start */
  function onRig(o: { gain: number; tau: number; setpoint: number; loads: Array<{ seconds: number; watts: number }>; hintW?: number; patchAt?: { t: number; patch: ZonePatch }; seconds?: number }) {
    const rig = k80Rig({ gpus: 1, fansPerGpu: 3, seed: 7, powerNoiseW: 0.5 });
    const g = rig.gpus[0]!;
    g.conductanceStillWPerK /= o.gain;
    g.conductanceFullWPerK /= o.gain;
    g.heatCapacityJPerK *= o.tau;
    const plant = createPlant(rig);
    plant.setLoad(0, profile([{ seconds: 120, watts: 30 }, ...o.loads]));
    const base = Value.Default(ZoneConfig, { id: 'z', gpus: [0], fans: rig.fans.map((f) => f.id) }) as ZoneConfig;
    const zone = createZoneController(base, fanConfigsFor(rig, { minDuty: 0.2, startDuty: 0.5 }));
    zone.update({ pid: { setpoint: o.setpoint } });
    let peak = -Infinity;
    const duties: Array<{ t: number; duty: number }> = [];
    /** the outputs of the steps just before and just after patchAt */
    const around: ZoneStepOutput[] = [];
    for (let t = 0; t < (o.seconds ?? 1020); t += 0.2) {
      const r = plant.gpu(0);
      const hint = o.hintW !== undefined && t >= 120 && t < 150 ? o.hintW : undefined;
      if (o.patchAt && Math.abs(t - o.patchAt.t) < 0.1) zone.update(o.patchAt.patch);
      const out = zone.step({ now: t, temps: [Math.round(r.temperatureC)], powerW: [Math.round(r.powerW * 100) / 100], loadHintW: hint, ambientC: plant.ambientC, fanRpm: Object.fromEntries(plant.fans().map((f) => [f.id, f.rpm])) });
      for (const [id, d] of Object.entries(out.fanDuties)) plant.setDuty(id, d);
      plant.step(0.2);
      peak = Math.max(peak, plant.gpu(0).temperatureC);
      duties.push({ t, duty: out.duty });
      if (o.patchAt && Math.abs(t - o.patchAt.t) < 0.3) around.push(out);
    }
    const mean = (from: number, to: number) => {
      const xs = duties.filter((d) => d.t >= from && d.t < to).map((d) => d.duty);
      return xs.reduce((a, b) => a + b, 0) / xs.length;
    };
    return { peak, duties, mean, around, state: zone.state() };
  }

  it('on the plant: a new load far under the setpoint waits for the identifier before the feed-forward lifts the fans (a 200 W hint on a rig twice as light and fast)', () => {
    const r = onRig({ gain: 0.5, tau: 0.5, setpoint: 72, loads: bursts(20, 200, 20, 40, 900), hintW: 200 });
    // the rig holds these bursts at minDuty 10 C under the setpoint; the prior's dutyPerWatt asked for 0.6-0.7 for over a minute
    expect(Math.max(...r.duties.filter((d) => d.t >= 120).map((d) => d.duty))).toBeLessThan(0.35);
    expect(r.mean(120, 300)).toBeLessThan(0.25);
    expect(r.peak).toBeLessThan(72);
    // a warm GPU (within 20 C of the setpoint when the load starts) is not held back: the hint lifts its fans at once
    const warm = createZoneController(zoneConfig({ pid: { setpoint: 80 } }), FANS);
    hold(warm, 0, 60, 0.2, 65, 30);
    const out = warm.step({ now: 60.2, temps: [65], powerW: [30], loadHintW: 150 });
    expect(out.terms.ff).toBeGreaterThan(0.3);
  });

  it('on the plant: 20 s bursts hold the setpoint with the duty for their mean power, not the estimate that rises faster than it falls', () => {
    const r = onRig({ gain: 1, tau: 1, setpoint: 72, loads: bursts(20, 150, 20, 40, 900), hintW: 150 });
    // 95 W mean: the identified K80 holds it at ~0.25; the estimate (~120 W) with dutyPerWatt asked for 0.27-0.44
    expect(r.mean(600, 1020)).toBeLessThan(0.26);
    expect(r.mean(120, 1020)).toBeLessThan(0.25);
    expect(r.peak).toBeLessThan(72 + 1.5);
    expect(r.peak).toBeGreaterThan(72 - 1.5);
    expect(countReversals(r.duties, { deadband: 0.02, from: 120 }) / 15).toBeLessThan(0.2);
  });

  it('on the plant: 60 s bursts with no hint start the stopped fans before the die reaches the setpoint (their averaged term stays under minDuty)', () => {
    const r = onRig({ gain: 1, tau: 1, setpoint: 80, loads: bursts(60, 150, 60, 40, 900) });
    // the fans started only once the die read the setpoint: the still-air heatsink carried it on to 84.6 C
    expect(r.peak).toBeLessThan(80 + 1.5);
  });

  it('on the plant: as a burst load ends the fans do not speed up (a held peak arriving at the setpoint with no GPU drawing a load lifts nothing)', () => {
    const r = onRig({ gain: 1, tau: 1, setpoint: 72, loads: [...bursts(60, 150, 60, 40, 900), { seconds: 300, watts: 30 }], seconds: 1320 });
    const atEnd = r.duties.filter((d) => d.t < 1020).at(-1)!.duty;
    const after = Math.max(...r.duties.filter((d) => d.t >= 1020).map((d) => d.duty));
    expect(after).toBeLessThanOrEqual(atEnd + 0.005);
  });

  it('a feed-forward change while the burst cap or the identifier wait holds the term back is bumpless (the integral absorbs what the applied term moves)', () => {
    const doubled = { feedForward: { dutyPerWatt: 2 * zoneConfig().feedForward.dutyPerWatt } };
    // 20 s bursts: the term is capped at the duty for their mean power; doubling dutyPerWatt moves the uncapped one by ~0.3
    const capped = onRig({ gain: 1, tau: 1, setpoint: 72, loads: bursts(20, 150, 20, 40, 900), hintW: 150, patchAt: { t: 600, patch: doubled } });
    const [a, b] = capped.around;
    expect(Math.abs(b!.terms.ff - a!.terms.ff)).toBeLessThan(0.01);
    // (the slow slew would spread a drop over minutes: the demand shows it at once)
    expect(Math.abs(b!.demand - a!.demand)).toBeLessThan(0.01);
    expect(Math.abs(b!.duty - a!.duty)).toBeLessThan(0.01);
    // a 200 W hint on a rig twice as light and fast, 10 s into the load: the term waits at what keeps minDuty
    const waiting = onRig({ gain: 0.5, tau: 0.5, setpoint: 72, loads: bursts(20, 200, 20, 40, 900), hintW: 200, patchAt: { t: 130, patch: doubled } });
    const [c, d] = waiting.around;
    expect(Math.abs(d!.duty - c!.duty)).toBeLessThan(0.01);
    expect(Math.abs(d!.demand - c!.demand)).toBeLessThan(0.01);
  });

  /**
   * 60 s bursts of 150/40 W on GPU 0 (GPU 1, if any, a steady 100 W) after 120 s of idle, a 150 W hint at the load's
   * start, 300 s of idle after 900 s of load; run twice through the same controller (the second load starts with the
   * burst cap, the rig and the integral the first left). Per pass: the highest die temperature, the mean duty 600-1020 s.
   */
  function burstPasses(o: { gpus: 1 | 2; ambientC: number; setpoint: number }) {
    const one = k80Rig({ gpus: 1, fansPerGpu: 3, ambientC: o.ambientC, seed: 7, powerNoiseW: 0.5 });
    const rig = { ...one, gpus: Array.from({ length: o.gpus }, (_, index) => ({ ...one.gpus[0]!, index, initialC: o.ambientC })) };
    const base = Value.Default(ZoneConfig, { id: 'z', gpus: rig.gpus.map((g) => g.index), fans: rig.fans.map((f) => f.id) }) as ZoneConfig;
    const zone = createZoneController(base, fanConfigsFor(rig, { minDuty: 0.2, startDuty: 0.5 }));
    zone.update({ pid: { setpoint: o.setpoint } });
    return [0, 1320].map((offset) => {
      const plant = createPlant(rig);
      plant.setLoad(0, profile([{ seconds: 120, watts: 30 }, ...bursts(60, 150, 60, 40, 900), { seconds: 300, watts: 30 }]));
      if (o.gpus === 2) plant.setLoad(1, profile([{ seconds: 120, watts: 30 }, { seconds: 900, watts: 100 }, { seconds: 300, watts: 30 }]));
      let peak = -Infinity;
      let sum = 0;
      let n = 0;
      /** the duty in the load's first two minutes, and the least room under the setpoint a reading showed then */
      const early = { max: 0, sum: 0, n: 0, room: Infinity };
      for (let t = 0; t < 1320; t += 0.2) {
        const ks = rig.gpus.map((g) => g.index);
        const temps = ks.map((k) => Math.round(plant.gpu(k).temperatureC));
        const out = zone.step({
          now: t + offset,
          temps,
          powerW: ks.map((k) => Math.round(plant.gpu(k).powerW * 100) / 100),
          loadHintW: t >= 120 && t < 150 ? 150 : undefined,
          ambientC: plant.ambientC,
          fanRpm: Object.fromEntries(plant.fans().map((f) => [f.id, f.rpm])),
        });
        for (const [id, d] of Object.entries(out.fanDuties)) plant.setDuty(id, d);
        plant.step(0.2);
        peak = Math.max(peak, ...ks.map((k) => plant.gpu(k).temperatureC));
        if (t >= 600 && t < 1020) {
          sum += out.duty;
          n++;
        }
        if (t >= 120 && t < 240) {
          early.max = Math.max(early.max, out.duty);
          early.sum += out.duty;
          early.n++;
          early.room = Math.min(early.room, ...temps.map((c) => o.setpoint - c));
        }
      }
      return { peak, steadyDuty: sum / n, early: { max: early.max, mean: early.sum / early.n, room: early.room } };
    });
  }

  it('on the plant: minute-long bursts in hot air: the term is the duty for the power the die\'s peak answers to, and the second load arrives at the held peak without an overshoot', () => {
    const [first, second] = burstPasses({ gpus: 2, ambientC: 40, setpoint: 76 });
    // the bursts' mean through a 30 s filter read ~116 W where the die's peak answers to ~107 W: 0.47 held it 0.5 C under
    expect(first!.steadyDuty).toBeLessThan(0.46);
    // The first load is hinted from 36 C under the setpoint: its approach runs the fans at 0.2-0.37 where the whole
    // term ran them at 0.67-0.95 for a minute, so the rig is identified with less of its fans' strength and the
    // held peak arrives ~0.7 C higher (plant seeds 1-8: 76.47-77.08, before the approach 76.26-76.75), within the
    // 1.5 C the issue allows, for 1.3 dB less noise on the scenario bench's noisy variant of this rig.
    expect(first!.peak).toBeLessThan(76 + 1.2);
    // the second load starts under the cap the first left: with the cap crawling up from idle and the integral the
    // first load's end left, its third burst peaked 1.2 C over the setpoint before the held peak got there
    expect(second!.peak).toBeLessThan(76 + 0.6);
    expect(second!.steadyDuty).toBeLessThan(0.46);
  });

  it('on the plant: a hinted load far under the setpoint approaches it quietly: the term scaled by the room left, not the duty that holds the setpoint from the first second', () => {
    const [first] = burstPasses({ gpus: 2, ambientC: 40, setpoint: 76 });
    // both dies 10 C or more under the setpoint all the while; the whole term ran the fans at 0.67-0.95 (mean 0.45)
    expect(first!.early.room).toBeGreaterThan(10);
    expect(first!.early.max).toBeLessThan(0.5);
    expect(first!.early.mean).toBeLessThan(0.35);
  });

  it('on the plant: 60 s bursts: the held peak\'s arrival at the setpoint restores the trim the way in took (the die peaked 0.8-1.2 C over it)', () => {
    const [first, second] = burstPasses({ gpus: 1, ambientC: 30, setpoint: 72 });
    expect(first!.peak).toBeLessThan(72 + 0.7);
    expect(second!.peak).toBeLessThan(72 + 0.6);
  });

  it('restores identified rigs with what it learned, and refuses a set that does not match its GPUs', () => {
    const { state } = run(3600);
    const zone = createZoneController(zoneConfig(), FANS);
    expect(zone.restoreLearned({ dutyPerWattFactor: 1, learnedSeconds: 0, rigs: [...state.rigStates, ...state.rigStates] })).toBe(false);
    expect(zone.restoreLearned({ dutyPerWattFactor: 1, learnedSeconds: 0, rigs: [{ ...state.rigStates[0]!, theta: [Number.NaN, 1, 1, 0] }] })).toBe(false);
    expect(zone.state().rigs[0]!.updates).toBe(0);
    expect(zone.restoreLearned({ dutyPerWattFactor: 1, learnedSeconds: 0, rigs: state.rigStates })).toBe(true);
    expect(zone.state().rigs).toEqual(state.rigs);
  });
});

describe('zone controller: closed loop on the plant', () => {
  function closedLoop(period: number, patch: ZonePatch = {}, opts: { noPower?: boolean } = {}) {
    const rig = k80Rig({ gpus: 1 });
    const plant = createPlant(rig);
    plant.setLoad(0, standardBenchmarkProfile());
    const base = Value.Default(ZoneConfig, { id: 'z', gpus: [0], fans: rig.fans.map((f) => f.id) }) as ZoneConfig;
    const zone = createZoneController(base, fanConfigsFor(rig));
    zone.update({ ...patch, pid: { setpoint: 78, ...patch.pid } });
    let peak = 0;
    const temps: number[] = [];
    for (let t = 0; t < 900; t += period) {
      const g = plant.gpu(0);
      const out = zone.step({ now: t, temps: [g.temperatureC], powerW: [opts.noPower ? null : g.powerW], fanRpm: Object.fromEntries(plant.fans().map((f) => [f.id, f.rpm])) });
      for (const [id, d] of Object.entries(out.fanDuties)) plant.setDuty(id, d);
      plant.step(period);
      peak = Math.max(peak, plant.gpu(0).temperatureC);
      temps.push(plant.gpu(0).temperatureC);
    }
    return { peak, final: plant.gpu(0).temperatureC, temps };
  }

  it('holds the setpoint under a sustained load without a large overshoot, and bursts below it', () => {
    const period = 0.2;
    const r = closedLoop(period);
    const at = (s: number) => r.temps[Math.round(s / period) - 1]!;
    expect(r.peak).toBeLessThan(78 + 1.5);
    // the end of the 600 s at 150 W (the profile's sustained phase ends at 720 s)
    expect(Math.abs(at(715) - 78)).toBeLessThan(1.5);
    // render bursts (20 s at 150 W, 20 s at 40 W) from 720 s: held by their peaks, not their mean
    const bursts = r.temps.slice(Math.round(760 / period), Math.round(900 / period));
    expect(Math.max(...bursts)).toBeLessThan(78 + 0.5);
    expect(Math.max(...bursts)).toBeGreaterThan(78 - 10);
  });

  it('without feed-forward input (disabled, or no power reading) the integral gain steps up: the load step stays within a few degrees', () => {
    const disabled = closedLoop(0.2, { feedForward: { enabled: false } });
    const noPower = closedLoop(0.2, { feedForward: { identifySeconds: 0 } }, { noPower: true });
    // kiWithoutFeedForward (0.004) instead of ki (0.0001): without the switch this peaks near 89 C
    expect(disabled.peak).toBeLessThan(78 + 6);
    expect(noPower.peak).toBeLessThan(78 + 6);
    // a zone with no power readings and no identified rig behaves as one with feed-forward off
    expect(Math.abs(noPower.peak - disabled.peak)).toBeLessThan(0.5);
    // with the rig model (the default) the heat is estimated from how the temperature moves: the load step shows long before the setpoint
    const observed = closedLoop(0.2, {}, { noPower: true });
    // (no hint either: the slope shows the load only once the heatsink has warmed a little)
    expect(observed.peak).toBeLessThan(78 + 2);
    expect(observed.peak).toBeLessThan(noPower.peak - 2);
    const slow = closedLoop(0.2, { feedForward: { enabled: false }, pid: { kiWithoutFeedForward: 0.0001 } });
    expect(slow.peak).toBeGreaterThan(disabled.peak + 3);
  });

  it('no power reading: the heat observer sets the window slope against the cooling of the same window, so a fan start is not taken for more heat', () => {
    // 150 W from idle, no hint, whole-degree readings (the scenario bench's no-power-no-hint at 76 C)
    const loop = (power: boolean) => {
      const rig = k80Rig({ gpus: 1, ambientC: 30, seed: 7, powerNoiseW: 0.5 });
      const plant = createPlant(rig);
      plant.setLoad(0, profile([{ seconds: 120, watts: 30 }, { seconds: 900, watts: 150 }]));
      const base = Value.Default(ZoneConfig, { id: 'z', gpus: [0], fans: rig.fans.map((f) => f.id) }) as ZoneConfig;
      const zone = createZoneController({ ...base, pid: { ...base.pid, setpoint: 76 } }, fanConfigsFor(rig));
      let peak = 0;
      let ff = 0;
      for (let t = 0; t < 1020; t += 0.2) {
        const g = plant.gpu(0);
        const out = zone.step({ now: t, temps: [Math.round(g.temperatureC)], powerW: [power ? Math.round(g.powerW * 100) / 100 : null], ambientC: plant.ambientC, fanRpm: Object.fromEntries(plant.fans().map((f) => [f.id, f.rpm])) });
        for (const [id, d] of Object.entries(out.fanDuties)) plant.setDuty(id, d);
        plant.step(0.2);
        peak = Math.max(peak, plant.gpu(0).temperatureC);
        ff = Math.max(ff, out.terms.ff);
      }
      return { peak, ff };
    };
    const read = loop(true);
    const observed = loop(false);
    // the observer's feed-forward stays with what the read power gives: no estimate held at a fan-start spike
    expect(observed.ff).toBeLessThan(read.ff * 1.1);
    expect(observed.peak).toBeLessThan(76 + 0.5);
  });

  it('no power reading: a whole-degree reading that does not move leaves the observed heat alone while the duty settles (no drift, no hunting at the setpoint)', () => {
    // 150 W from idle with the hint at its start, setpoint 80 (the scenario bench's no-power at 80 C)
    const rig = k80Rig({ gpus: 1, ambientC: 30, seed: 7, powerNoiseW: 0.5 });
    const plant = createPlant(rig);
    plant.setLoad(0, profile([{ seconds: 120, watts: 30 }, { seconds: 900, watts: 150 }, { seconds: 300, watts: 30 }]));
    const base = Value.Default(ZoneConfig, { id: 'z', gpus: [0], fans: rig.fans.map((f) => f.id) }) as ZoneConfig;
    const zone = createZoneController({ ...base, pid: { ...base.pid, setpoint: 80 } }, fanConfigsFor(rig));
    let peak = 0;
    const duties: Array<{ t: number; duty: number }> = [];
    for (let t = 0; t < 1320; t += 0.2) {
      const g = plant.gpu(0);
      const hint = t >= 120 && t < 150 ? 150 : undefined;
      const out = zone.step({ now: t, temps: [Math.round(g.temperatureC)], powerW: [null], loadHintW: hint, ambientC: plant.ambientC, fanRpm: Object.fromEntries(plant.fans().map((f) => [f.id, f.rpm])) });
      for (const [id, d] of Object.entries(out.fanDuties)) plant.setDuty(id, d);
      plant.step(0.2);
      peak = Math.max(peak, plant.gpu(0).temperatureC);
      duties.push({ t, duty: out.duty });
    }
    // the model carries the die through the reading's degree: without it the duty crept down at a
    // steady reading (the observer read the lower cooling as less heat) until the next degree showed
    expect(peak).toBeLessThan(80 + 0.3);
    expect(countReversals(duties, { deadband: 0.02, from: 120 })).toBeLessThanOrEqual(1);
  });

  it('behaves the same at 100 ms and 500 ms periods (gains are in physical units)', () => {
    const fast = closedLoop(0.1);
    const slow = closedLoop(0.5);
    expect(Math.abs(fast.peak - slow.peak)).toBeLessThan(0.3);
    expect(Math.abs(fast.final - slow.final)).toBeLessThan(0.3);
    // sample both every 10 s: the trajectories stay together
    for (let s = 10; s < 900; s += 10) expect(Math.abs(fast.temps[Math.round(s / 0.1) - 1]! - slow.temps[Math.round(s / 0.5) - 1]!)).toBeLessThan(0.6);
  });
});
