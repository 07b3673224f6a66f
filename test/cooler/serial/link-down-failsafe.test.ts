/**
 * What the host says about the firmware's failsafe once the link is gone, on the real firmware
 * image (avr8js) behind a socat pty that is unplugged: not the last reading ("running our
 * targets"), but unknown, then assumed once the firmware's watchdog must have taken the fans to
 * full; and a failsafe that could not be sent is logged as such, not as commanded.
 */
import { Writable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSerialCooler, type SerialCooler } from '../../../src/cooler/serial/index.ts';
import { commandFailsafe } from '../../../src/cooler/unit.ts';
import { CoolerIo } from '../../../src/thermal/service/cooler-io.ts';
import { startSimulatedCooler, type SimulatedCooler } from '../../helpers/avr/index.ts';
import { eventually, quietLog, serialConfig } from './setup.ts';

let board: SimulatedCooler;
let cooler: SerialCooler;
const registry = new Registry();
const logged: { level: number; msg: string; sent?: boolean }[] = [];
const log = pino(
  { level: 'info' },
  new Writable({
    write(chunk: Buffer, _enc, done) {
      logged.push(JSON.parse(chunk.toString()) as (typeof logged)[number]);
      done();
    },
  }),
);

async function gauge(name: string): Promise<number | undefined> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  return m?.values[0]?.value;
}

beforeAll(async () => {
  board = await startSimulatedCooler({ fans: 4 });
  cooler = createSerialCooler(serialConfig(board.path, { watchdogSeconds: 3 }), {
    log: quietLog,
    registry,
    backoffInitialMs: 100,
    backoffMaxMs: 200,
    // nothing on the line but the test's own commands: the last one written is the last read below
    keepAliveMs: 60_000,
    countersEveryMs: 1e9,
  });
  await cooler.open();
}, 30_000);

afterAll(async () => {
  await cooler?.close();
  await board?.stop();
});

describe('device failsafe with the link down', () => {
  it('is read while the link works, unknown once it is lost, assumed after the firmware watchdog time', async () => {
    const io = new CoolerIo(cooler, 1000, quietLog);
    io.write({ 'gpu0-a': 0.4, 'gpu0-b': 0.4 });
    await io.whenSettled();
    io.read();
    await eventually(() => io.state !== null, 5000, 'a first state');
    expect(io.state).toMatchObject({ failsafe: false });
    expect(cooler.deviceFailsafe()).toEqual({ failsafe: false, assumed: false });
    expect(await gauge('gance_cooler_device_failsafe')).toBe(0);
    expect(board.sim.pwm(0).duty).toBeCloseTo(0.4, 2);

    const lastWrite = performance.now();
    const down = new Promise<void>((resolve) => cooler.on('link', (up: boolean) => !up && resolve()));
    await board.unplug();
    await down;

    // the firmware still runs our 40% for up to 3 s: nobody here can tell which
    expect(cooler.deviceFailsafe()).toEqual({ failsafe: null, assumed: false });
    expect(io.state).toMatchObject({ failsafe: null, failsafeAssumed: false });
    expect(await gauge('gance_cooler_device_failsafe')).toBeNaN();
    expect(await gauge('gance_cooler_device_failsafe_assumed')).toBe(0);

    expect(await commandFailsafe(cooler, log, 'cooler link lost')).toBe(false);
    const line = logged.find((l) => l.msg.includes('cooler failsafe'))!;
    expect(line.msg).toMatch(/could not be sent: the link to .* is down; the firmware watchdog takes the fans to its failsafe duty after 3 s without host traffic/);
    expect(line.msg).not.toMatch(/commanded/);
    expect(line).toMatchObject({ level: 50, sent: false });

    await eventually(() => cooler.deviceFailsafe().failsafe === true, 10_000, 'the assumed failsafe');
    // not before the watchdog could have run out since the last command that reached the device:
    // timed from the driver's own record of that write (this test's clock reading comes later, by
    // however long a loaded machine takes to get here)
    const wroteAt = (cooler as unknown as { lastWriteAt(): number }).lastWriteAt();
    expect(wroteAt).toBeLessThanOrEqual(lastWrite);
    expect(performance.now() - wroteAt).toBeGreaterThanOrEqual(3000);
    expect(cooler.deviceFailsafe()).toEqual({ failsafe: true, assumed: true });
    expect(io.state).toMatchObject({ failsafe: true, failsafeAssumed: true });
    expect(await gauge('gance_cooler_device_failsafe')).toBe(1);
    expect(await gauge('gance_cooler_device_failsafe_assumed')).toBe(1);
    // and the real firmware did go to full on its own
    await eventually(() => board.sim.duties().every((d) => d === 1), 10_000, 'the firmware watchdog');
  }, 30_000);
});
