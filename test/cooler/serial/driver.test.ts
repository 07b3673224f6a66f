/**
 * The serial driver through the real serialport stack, over a socat pty, talking to the real
 * firmware image running in avr8js.
 */
import { spawnSync } from 'node:child_process';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SerialCooler, createSerialCooler } from '../../../src/cooler/serial/index.ts';
import { startSimulatedCooler, type SimulatedCooler } from '../../../test/helpers/avr/index.ts';
import { eventually, quietLog, serialConfig } from './setup.ts';

let board: SimulatedCooler;
let cooler: SerialCooler;
const registry = new Registry();

beforeAll(async () => {
  board = await startSimulatedCooler({ fans: 4 });
  cooler = createSerialCooler(serialConfig(board.path, { watchdogSeconds: 1 }), { log: quietLog, registry });
  await cooler.open();
}, 30_000);

afterAll(async () => {
  await cooler?.close();
  await board?.stop();
});

describe('serial cooler driver on the simulated firmware', () => {
  it('handshakes, checks the version and writes the configured watchdog to the device', () => {
    expect(cooler.linkUp).toBe(true);
    expect(cooler.info).toMatchObject({ kind: 'serial', version: 'gance-cooler 1.1.0 (protocol 1)', fans: ['gpu0-a', 'gpu0-b'], thermistors: ['gpu0-sink'] });
    expect(cooler.hello).toMatchObject({ protocolVersion: 1, fanCount: 4, thermistorCount: 2, pwmHz: 25000, resetCause: ['powerOn'] });
    expect(cooler.settings).toMatchObject({ watchdogMs: 1000, failsafeDuty: 1, fromEeprom: true });
  });

  it('sets duties: the firmware timer registers follow', async () => {
    await cooler.setDuties({ 'gpu0-a': 0.3, 'gpu0-b': 0.7 });
    expect(board.sim.pwm(0)).toMatchObject({ connected: true, ocr: 96, top: 320 }); // 0.3 * 320
    expect(board.sim.pwm(2)).toMatchObject({ connected: true, ocr: 55, top: 79 }); // 0.7 * 80 - 1
    expect(board.sim.pwm(1).duty).toBe(1); // not configured: left at its power-on 100%
  });

  it('reads rpm and thermistors mapped to the configured ids', async () => {
    board.sim.setRpm(0, 3000);
    board.sim.setThermistorCelsius(1, 42);
    await eventually(async () => {
      const s = await cooler.read();
      return Math.abs((s.fans[0]!.rpm ?? 0) - 3000) < 5 && Math.abs((s.thermistors[0]!.celsius ?? 0) - 42) < 0.2;
    }, 10_000, 'rpm 3000 and 42 C');
    const s = await cooler.read();
    expect(s.fans.map((f) => f.id)).toEqual(['gpu0-a', 'gpu0-b']);
    expect(s.fans[0]!.duty).toBeCloseTo(0.3, 4);
    expect(s.failsafe).toBe(false);
    board.sim.setRpm(0, null);
  });

  it('keeps the firmware watchdog fed between duty commands, and lets it trip once the owner stops commanding', async () => {
    const trips = (await cooler.readCounters()).watchdogTrips;
    // an owner commanding every 0.7 s of simulated time (the device's watchdog is 1 s): never a trip
    for (let i = 0; i < 4; i++) {
      await cooler.setDuties({ 'gpu0-a': 0.3 });
      const at = board.sim.seconds;
      await eventually(() => board.sim.seconds - at > 0.7, 30_000, '0.7 s of simulated time');
    }
    expect((await cooler.readDevice()).mode).toBe('run');
    expect((await cooler.readCounters()).watchdogTrips).toBe(trips);
    // then silence from the owner (a control loop that died while the process lives): the driver's
    // own polls must not keep the device thinking the host is there
    await eventually(() => board.sim.duties()[0] === 1, 30_000, 'the firmware watchdog to take the fans to full');
    expect((await cooler.readDevice()).mode).toBe('failsafeWatchdog');
    expect((await cooler.readCounters()).watchdogTrips).toBe(trips + 1);
  }, 120_000);

  it('failsafe() takes the fans to full at once; the next setDuties takes them back', async () => {
    await cooler.failsafe('test');
    expect(board.sim.duties()).toEqual([1, 1, 1, 1]);
    expect((await cooler.read()).failsafe).toBe(true);
    await cooler.setDuties({ 'gpu0-a': 0.5 });
    expect(board.sim.pwm(0).duty).toBe(0.5);
  });

  it('refuses unknown fans and impossible duties without sending anything', async () => {
    const sent = board.bridge.bytes.toDevice;
    await expect(cooler.setDuties({ nope: 0.5 })).rejects.toThrow(/unknown fan id "nope".*gpu0-a, gpu0-b/);
    await expect(cooler.setDuties({ 'gpu0-a': 1.5 })).rejects.toThrow(/duty of fan "gpu0-a".*0\.\.1/);
    expect(board.bridge.bytes.toDevice).toBe(sent);
  });

  it('exports its counters as gance_cooler_* metrics that promtool accepts', async () => {
    const text = await registry.metrics();
    for (const name of ['gance_cooler_link_up 1', 'gance_cooler_requests_total{command="setDuty"}', 'gance_cooler_request_duration_seconds_bucket']) {
      expect(text).toContain(name);
    }
    const promtool = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    if (promtool.error) return; // promtool not installed here: the lead's exposition test covers it
    expect(promtool.stdout + promtool.stderr).toBe('');
    expect(promtool.status).toBe(0);
  });
});
