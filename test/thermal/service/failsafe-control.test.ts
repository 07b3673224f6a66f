/**
 * Failsafes from the cooler link, the controller and the daemon's own stop: fans at 100% at the
 * plant, an alarm in the API and metrics, and an automatic, logged recovery.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createZoneController, type ZoneController } from '../../../src/thermal/control/index.ts';
import { harness, untilAsync, type Harness } from './harness.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function failsafeWith(h: Harness, reason: string, zone = 'gpu0') {
  return untilAsync(`${reason} failsafe`, async () => {
    const v = await h.zone(zone);
    return v.failsafe && v.alarms.some((a) => a.kind === reason) && h.plantDuties(zone).every((d) => d === 1) ? v : undefined;
  });
}

describe('thermal failsafe: cooler, controller, stop', () => {
  it('cooler link lost -> alarm, the device watchdog takes the fans to full, recovery when the link is back', async () => {
    h = await harness();
    await h.underControl();
    expect(await h.metric('gance_thermal_cooler_link_up')).toBe(1);
    h.cooler.simulateFault('link-lost');
    const z = await failsafeWith(h, 'cooler-link-lost');
    expect(z.alarms.find((a) => a.kind === 'cooler-link-lost')).toMatchObject({ subject: 'cooler', failsafe: true });
    expect((await h.state()).cooler.linkUp).toBe(false);
    expect(await h.metric('gance_thermal_failsafe', { zone: 'gpu0', reason: 'cooler-link-lost' })).toBe(1);
    expect(await h.metric('gance_thermal_cooler_link_up')).toBe(0);
    expect(await h.metric('gance_thermal_cooler_write_failures_total')).toBeGreaterThan(0);
    // the loop asked for the device failsafe too (it could not arrive: the cable is out)
    expect(h.cooler.failsafeLog).toContain('cooler link lost');
    h.cooler.simulateFault(null);
    const back = await h.underControl();
    expect(back.alarms.filter((a) => a.failsafe)).toEqual([]);
    // the device's own failsafe (it ran its watchdog while the cable was out) is what the last read
    // said: the first duty command ends it, and the next read shows it over
    await untilAsync('the cooler out of its own failsafe', async () => (await h!.zone()).alarms.length === 0);
    expect(h.logged(/recovered from cooler-link-lost \(cooler\)/)).toBeDefined();
    expect(await h.metric('gance_thermal_failsafe', { zone: 'gpu0', reason: 'cooler-link-lost' })).toBe(0);
  });

  it('a cooler that stops answering -> commands time out, link counted lost, recovery when it answers', async () => {
    h = await harness();
    await h.underControl();
    const t0 = performance.now();
    h.cooler.simulateFault('unresponsive');
    await untilAsync('link lost', async () => (await h!.zone()).alarms.some((a) => a.kind === 'cooler-link-lost'));
    // detected after the command timeout (200 ms), and the loop kept ticking meanwhile
    expect(performance.now() - t0).toBeGreaterThanOrEqual(150);
    expect(h.service.alive()).toBe(true);
    // the device's own watchdog (0.5 s without host traffic) takes its fans to full
    await failsafeWith(h, 'cooler-link-lost');
    h.cooler.simulateFault(null);
    await h.underControl('gpu0', 10_000);
    expect(h.logged(/recovered from cooler-link-lost/)).toBeDefined();
  });

  it('a controller that throws -> fans full, error logged once, recovers when it works again', async () => {
    let broken = false;
    const factory = (zone: Parameters<typeof createZoneController>[0], fans: Parameters<typeof createZoneController>[1]): ZoneController => {
      const real = createZoneController(zone, fans);
      return {
        ...real,
        step(input) {
          if (broken) throw new Error('NaN in the integrator');
          return real.step(input);
        },
      };
    };
    h = await harness({ controllerFactory: factory, zone: { mode: 'pid', pid: { setpoint: 60 }, slewDownPerSecond: 5, minDuty: 0.2 } });
    await h.underControl();
    broken = true;
    const z = await failsafeWith(h, 'controller-error');
    expect(z.alarms.find((a) => a.kind === 'controller-error')).toMatchObject({ subject: 'gpu0', message: 'controller failed: NaN in the integrator', failsafe: true });
    expect(await h.metric('gance_thermal_failsafe', { zone: 'gpu0', reason: 'controller-error' })).toBe(1);
    await new Promise((r) => setTimeout(r, 300));
    expect(h.logs.filter((l) => l.level === 50 && /controller failed/.test(l.msg))).toHaveLength(1);
    broken = false;
    await h.underControl();
    expect(h.logged(/controller works again/)).toBeDefined();
    expect(h.logged(/recovered from controller-error \(gpu0\)/)).toBeDefined();
  });

  it('a controller term gone NaN/infinite -> fans full with a controller-non-finite alarm (never a silent zero); back to finite settings it recovers', async () => {
    let real: ZoneController | undefined;
    const factory = (zone: Parameters<typeof createZoneController>[0], fans: Parameters<typeof createZoneController>[1]): ZoneController => (real = createZoneController(zone, fans));
    h = await harness({ controllerFactory: factory, zone: { mode: 'pid', pid: { setpoint: 60 }, slewDownPerSecond: 5, minDuty: 0.2 } });
    await h.underControl();
    // straight into the controller, past every schema: what an overflow inside it would do
    real!.update({ pid: { setpoint: -Infinity } });
    const z = await failsafeWith(h, 'controller-non-finite');
    expect(z.alarms.find((a) => a.kind === 'controller-non-finite')).toMatchObject({ subject: 'proportional', failsafe: true });
    expect(z.duty).toBe(1);
    expect(await h.metric('gance_thermal_failsafe', { zone: 'gpu0', reason: 'controller-non-finite' })).toBe(1);
    // every view still answers (a NaN would make the serialiser fail with 500)
    expect((await h.app.inject('/v1/thermal')).statusCode).toBe(200);
    real!.update({ pid: { setpoint: 60 } });
    const back = await h.underControl();
    expect(Number.isFinite(back.terms.i)).toBe(true);
    expect(h.logged(/recovered from controller-non-finite/)).toBeDefined();
  });

  it('fan duties that are not numbers in 0..1 never reach the fans: controller-error failsafe', async () => {
    let broken = false;
    const factory = (zone: Parameters<typeof createZoneController>[0], fans: Parameters<typeof createZoneController>[1]): ZoneController => {
      const real = createZoneController(zone, fans);
      return {
        ...real,
        step(input) {
          const out = real.step(input);
          return broken ? { ...out, fanDuties: Object.fromEntries(Object.keys(out.fanDuties).map((f) => [f, Number.NaN])) } : out;
        },
      };
    };
    h = await harness({ controllerFactory: factory, zone: { mode: 'pid', pid: { setpoint: 60 }, slewDownPerSecond: 5, minDuty: 0.2 } });
    await h.underControl();
    broken = true;
    const z = await failsafeWith(h, 'controller-error');
    expect(z.alarms.find((a) => a.kind === 'controller-error')?.message).toMatch(/controller gave fan gpu0-a the duty NaN \(expected a number in 0\.\.1\)/);
    broken = false;
    await h.underControl();
  });

  it('daemon stop -> fans full with a daemon-stop alarm in API and metrics; start again recovers', async () => {
    h = await harness();
    await h.underControl();
    await h.service.stop();
    expect(h.plantDuties().every((d) => d === 1)).toBe(true);
    const z = await h.zone();
    expect(z.failsafe).toBe(true);
    expect(z.alarms.map((a) => a.kind)).toContain('daemon-stop');
    expect(await h.metric('gance_thermal_failsafe', { zone: 'gpu0', reason: 'daemon-stop' })).toBe(1);
    expect(h.cooler.failsafeLog).toContain('daemon stop');
    expect(h.service.alive()).toBe(false);
    expect(h.service.ready()).toBe(false);
    // the same service comes back under control on start
    await h.service.start();
    await h.underControl();
    expect(h.logged(/recovered from daemon-stop \(gpu0\)/)).toBeDefined();
    expect(await h.metric('gance_thermal_failsafe', { zone: 'gpu0', reason: 'daemon-stop' })).toBe(0);
  });

  it('emits the failsafe event on the daemon bus when entering and leaving', async () => {
    h = await harness({ start: false });
    const seen: { active: boolean; reasons: string[] }[] = [];
    h.events.on('failsafe', (e) => seen.push(e));
    await h.service.start();
    await h.underControl();
    h.rig.override(0, { temperature: 99 });
    await failsafeWith(h, 'critical');
    h.rig.override(0, null);
    await h.underControl();
    // at start (no sample yet), cleared, critical, cleared
    expect(seen.map((e) => e.active)).toEqual([true, false, true, false]);
    expect(seen[2]!.reasons).toEqual(['critical']);
  });
});
