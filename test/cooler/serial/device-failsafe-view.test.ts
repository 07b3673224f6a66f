/**
 * The cooler's own watchdog failsafe as the API and metrics show it, on the real firmware image
 * (avr8js) behind a socat pty, with the real thermal service, API and metrics. The host goes
 * quiet past the firmware watchdog, which takes the fans to full; then the host reads the device
 * again while its duties do not get through (the firmware leaves its failsafe only on a duty
 * command). What the fans do is the firmware's failsafe, not the duty the loop commanded: the
 * API and metrics must say so, with an alarm, until the duties get through again.
 */
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSerialCooler, type SerialCooler } from '../../../src/cooler/serial/index.ts';
import { startSimulatedCooler, type SimulatedCooler } from '../../helpers/avr/index.ts';
import { harness, untilAsync, type Harness } from '../../thermal/service/harness.ts';
import type { ZoneView } from '../../../src/thermal/service/view.ts';
import { quietLog } from './setup.ts';

let board: SimulatedCooler;
let serial: SerialCooler;
let h: Harness;
/** what reaches the device: everything, reads only (the loop's duties are lost on the way), or nothing (the host quiet) */
let pass: 'all' | 'reads' | 'none' = 'all';

beforeAll(async () => {
  board = await startSimulatedCooler({ fans: 4 });
  h = await harness({
    cooler: { watchdogSeconds: 1 },
    // generous timeouts: the simulated board shares the CPU with the test
    thermal: { periodMs: 200, coolerTimeoutMs: 1000 },
    sensors: { staleAfterMs: 3000, silentAfterMs: 5000 },
    coolerFactory: async (config) => {
      // the driver itself stays quiet: no keep-alive, no counters, only the loop's traffic
      serial = createSerialCooler({ ...config, driver: 'serial', path: board.path, baudRate: 115200 }, { log: quietLog, registry: new Registry(), keepAliveMs: 60_000, countersEveryMs: 1e12 });
      await serial.open();
      return new Proxy(serial, {
        get(target, key) {
          if (key === 'setDuties') return (d: Record<string, number>) => (pass === 'all' ? target.setDuties(d) : Promise.resolve());
          if (key === 'read') return () => (pass === 'none' ? Promise.reject(new Error('the host is quiet')) : target.read());
          const v: unknown = Reflect.get(target, key, target);
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      });
    },
  });
}, 60_000);

afterAll(async () => {
  await h?.close();
  await serial?.close();
  await board?.stop();
});

const ZONE_FANS = ['gpu0-a', 'gpu0-b', 'gpu0-c'];
const firmwareDuties = () => board.sim.duties().slice(0, 3);
const cooler = (z: ZoneView) => z.alarms.find((a) => a.kind === 'cooler-failsafe');

describe('the cooler in its own watchdog failsafe', () => {
  it('shows the fans at full as the firmware drives them, with an alarm, then the commanded duty once duties get through again', async () => {
    // under control: the zone's fixed 40% reaches the firmware, and the API shows it
    await untilAsync('the fixed duty at the firmware and in the API', async () => {
      const z = await h.zone();
      return !z.failsafe && !cooler(z) && z.fans.every((f) => Math.abs(f.duty - 0.4) < 0.01) && firmwareDuties().every((d) => Math.abs(d - 0.4) < 0.01);
    }, 30_000);
    expect((await h.zone()).fans.map((f) => f.commanded)).toEqual([0.4, 0.4, 0.4]);

    // the host goes quiet: the firmware watchdog (1 s) takes every fan to full
    pass = 'none';
    await untilAsync('the firmware watchdog', async () => firmwareDuties().every((d) => d === 1), 30_000);
    // the host reads again, its duties still lost: the firmware stays in its failsafe
    pass = 'reads';
    const z = await untilAsync('the cooler-failsafe alarm', async () => {
      const v = await h.zone();
      return cooler(v) ? v : undefined;
    }, 30_000);
    expect(serial.lastState?.mode).toBe('failsafeWatchdog');
    expect(cooler(z)).toMatchObject({ subject: 'cooler', failsafe: false });
    expect(cooler(z)!.message).toMatch(/reports its own failsafe .*fans at its failsafe duty, not the duties commanded/);
    expect(z.fans.map((f) => [f.id, f.duty, f.commanded])).toEqual(ZONE_FANS.map((id) => [id, 1, 0.4]));
    expect(z.duty).toBe(1);
    expect(z.failsafe).toBe(false); // the loop's own failsafe is another thing: it commands nothing new
    expect((await h.state()).cooler.deviceFailsafe).toBe(true);
    for (const fan of ZONE_FANS) {
      expect(await h.metric('gance_fan_duty_ratio', { fan, zone: 'gpu0' })).toBe(1);
      expect(await h.metric('gance_fan_commanded_duty_ratio', { fan, zone: 'gpu0' })).toBeCloseTo(0.4, 6);
    }
    expect(await h.metric('gance_zone_duty_ratio', { zone: 'gpu0' })).toBe(1);
    expect(await h.metric('gance_thermal_alarm', { zone: 'gpu0', kind: 'cooler-failsafe', subject: 'cooler' })).toBe(1);
    expect(firmwareDuties()).toEqual([1, 1, 1]);

    // the duties get through: the firmware leaves its failsafe, the alarm clears, the API follows
    pass = 'all';
    await untilAsync('back to the commanded duty', async () => {
      const v = await h.zone();
      return !cooler(v) && v.fans.every((f) => Math.abs(f.duty - 0.4) < 0.01) && firmwareDuties().every((d) => Math.abs(d - 0.4) < 0.01);
    }, 30_000);
    expect(await h.metric('gance_thermal_alarm', { zone: 'gpu0', kind: 'cooler-failsafe', subject: 'cooler' })).toBeUndefined();
    expect(h.logged(/recovered from cooler-failsafe \(cooler\)/)).toBeDefined();
  }, 120_000);
});
