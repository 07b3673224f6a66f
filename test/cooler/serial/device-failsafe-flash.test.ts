/**
 * The cooler's own failsafe alarm on the real firmware image (avr8js) behind a socat pty, with the
 * real thermal service: the firmware starts in its power-on mode (fans at full until a duty command)
 * and, powered off and on while unplugged, comes back in it. That is not news: the loop's first
 * duty command ends it. Reported by a read sent before those duties got through, it used to
 * raise the cooler-failsafe alarm for a tick (until the next read), at every daemon start and
 * after every reconnection. A genuine one (the watchdog tripped while we commanded) still raises:
 * device-failsafe-view.test.ts.
 */
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { createSerialCooler, type SerialCooler } from '../../../src/cooler/serial/index.ts';
import { startSimulatedCooler, type SimulatedCooler } from '../../helpers/avr/index.ts';
import { harness, untilAsync, type Harness } from '../../thermal/service/harness.ts';
import { quietLog } from './setup.ts';

let board: SimulatedCooler | undefined;
let serial: SerialCooler | undefined;
let h: Harness | undefined;

afterAll(async () => {
  await h?.close();
  await serial?.close();
  await board?.stop();
});

const firmwareDuties = () => board!.sim.duties().slice(0, 3);

describe("the cooler's power-on mode is no cooler-failsafe alarm", () => {
  it('neither at daemon start nor after the device came back power-cycled', async () => {
    board = await startSimulatedCooler({ fans: 4 });
    h = await harness({
      start: false,
      // a watchdog far longer than the unplugged spell: no failsafe may be assumed meanwhile
      cooler: { watchdogSeconds: 10 },
      // generous timeouts: the simulated board shares the CPU with the test
      thermal: { periodMs: 200, coolerTimeoutMs: 1000 },
      sensors: { staleAfterMs: 3000, silentAfterMs: 5000 },
      coolerFactory: async (config) => {
        serial = createSerialCooler({ ...config, driver: 'serial', path: board!.path, baudRate: 115200 }, { log: quietLog, registry: new Registry(), backoffMaxMs: 300 });
        await serial.open();
        // The loop's first read is answered before its first duties land, as on an idle machine
        // (the read goes out first): held here so that a loaded test machine cannot reorder them.
        let firstRead: Promise<unknown> | undefined;
        return new Proxy(serial, {
          get(target, key) {
            if (key === 'read') {
              return () => {
                const r = target.read();
                firstRead ??= r;
                return r;
              };
            }
            if (key === 'setDuties') {
              return async (d: Record<string, number>) => {
                await firstRead?.catch(() => {});
                return target.setDuties(d);
              };
            }
            const v: unknown = Reflect.get(target, key, target);
            return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
          },
        });
      },
    });
    const raised: string[] = [];
    h.service.on('alarm', (e: { alarm: { kind: string; message: string }; raised: boolean }) => {
      if (e.raised && e.alarm.kind === 'cooler-failsafe') raised.push(e.alarm.message);
    });
    expect((await serial!.readDevice()).mode).toBe('boot');
    await h.service.start();
    // under control, with the firmware running our duties and a read after them in the API
    const running = async () => {
      const s = await h!.state();
      const z = s.zones.find((v) => v.id === 'gpu0')!;
      return !z.failsafe && s.cooler.deviceFailsafe === false && firmwareDuties().every((d) => Math.abs(d - 0.4) < 0.01);
    };
    await untilAsync('under control on the firmware', running, 30_000);
    expect(raised, 'at daemon start').toEqual([]);

    await board.unplug();
    await untilAsync('link down', async () => !serial!.linkUp, 10_000);
    await board.replug({ powerCycle: true });
    await untilAsync('link back up', async () => serial!.linkUp, 10_000);
    await untilAsync('under control on the firmware again', running, 30_000);
    expect(h.logged(/recovered from cooler-link-lost/)).toBeDefined();
    expect(raised, 'after the link came back').toEqual([]);
  }, 120_000);
});
