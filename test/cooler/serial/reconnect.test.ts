/** The device path disappears (USB pulled) and comes back: the driver reconnects by itself. */
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { CoolerMismatchError, createSerialCooler, type SerialCooler } from '../../../src/cooler/serial/index.ts';
import { startSimulatedCooler, type SimulatedCooler } from '../../../test/helpers/avr/index.ts';
import { eventually, quietLog, serialConfig } from './setup.ts';

let board: SimulatedCooler | undefined;
let cooler: SerialCooler | undefined;
afterEach(async () => {
  await cooler?.close();
  await board?.stop();
  cooler = board = undefined;
});

async function metric(registry: Registry, name: string, labels = ''): Promise<number> {
  const line = (await registry.metrics()).split('\n').find((l) => l.startsWith(`${name}${labels} `) || (labels === '' && l.startsWith(`${name} `)));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('serial cooler reconnect', () => {
  it('loses the link when the pty goes away, the device falls back on its own, and the link returns', async () => {
    board = await startSimulatedCooler({ fans: 4 });
    const registry = new Registry();
    cooler = createSerialCooler(serialConfig(board.path, { watchdogSeconds: 1 }), { log: quietLog, registry, backoffMaxMs: 500 });
    const events: boolean[] = [];
    cooler.on('link', (up: boolean) => events.push(up));
    await cooler.open();
    await cooler.setDuties({ 'gpu0-a': 0.4 });

    await board.unplug();
    await eventually(() => !cooler!.linkUp, 5000, 'link down');
    await expect(cooler.setDuties({ 'gpu0-a': 0.5 })).rejects.toThrow(/link is down/);
    await cooler.failsafe('link lost'); // must settle quickly even with no link
    // the firmware, alone, goes to full after its 1 s watchdog
    await eventually(() => board!.sim.pwm(0).duty === 1, 10_000, 'device failsafe');

    await board.replug();
    await eventually(() => cooler!.linkUp, 10_000, 'link back up');
    expect(events).toEqual([true, false, true]);
    expect(await metric(registry, 'gance_cooler_reconnects_total')).toBe(1);
    expect(await metric(registry, 'gance_cooler_connect_failures_total')).toBeGreaterThanOrEqual(1);
    // the device stayed powered: same boot, its watchdog trip is now in our metrics
    expect(await metric(registry, 'gance_cooler_device_resets_total', '{cause="powerOn"}')).toBe(0);
    await eventually(async () => (await metric(registry, 'gance_cooler_device_events_total', '{event="watchdog_trips"}')) === 1, 5000, 'trip counted');
    expect((await cooler.readDevice()).mode).toBe('failsafeWatchdog');
    await cooler.setDuties({ 'gpu0-a': 0.45 });
    expect(board.sim.pwm(0).duty).toBeCloseTo(0.45, 2);
  }, 60_000);

  // The device hears the host but the host never hears it (every reply lost): the host drops the
  // link and keeps trying to reconnect, saying HELLO every 300 ms. Those HELLOs used to feed the
  // device's watchdog, which then held the last duty for as long as the host kept failing.
  it('replies lost on the way back: the device goes to full on its own while the host keeps saying HELLO', async () => {
    board = await startSimulatedCooler({ fans: 4 });
    const registry = new Registry();
    cooler = createSerialCooler(serialConfig(board.path, { watchdogSeconds: 1 }), { log: quietLog, registry, backoffMaxMs: 500 });
    await cooler.open();
    await cooler.setDuties({ 'gpu0-a': 0.4 });
    expect(board.sim.pwm(0).duty).toBeCloseTo(0.4, 2);
    board.bridge.toHost = () => null;
    // the control loop goes on commanding; unanswered, three of them drop the link
    for (let i = 0; i < 10 && cooler.linkUp; i++) await cooler.setDuties({ 'gpu0-a': 0.4 }).catch(() => {});
    expect(cooler.linkUp).toBe(false);
    const hellos = () => metric(registry, 'gance_cooler_requests_total', '{command="hello"}');
    const h0 = await hellos();
    const t0 = board.sim.seconds;
    // 1.5 s of the device's own time (its watchdog is 1 s) with the host still trying all along
    await eventually(async () => board!.sim.seconds >= t0 + 1.5 && (await hellos()) >= h0 + 3, 30_000, 'device time and HELLOs');
    expect(cooler.linkUp).toBe(false);
    expect(board.sim.duties()).toEqual([1, 1, 1, 1]);
    board.bridge.toHost = null;
    await eventually(() => cooler!.linkUp, 10_000, 'link back up');
    expect((await cooler.readDevice()).mode).toBe('failsafeWatchdog');
  }, 60_000);

  it('notices that the device restarted while it was away (power cycle on replug)', async () => {
    board = await startSimulatedCooler({ fans: 4 });
    const registry = new Registry();
    cooler = createSerialCooler(serialConfig(board.path), { log: quietLog, registry, backoffMaxMs: 500 });
    await cooler.open();
    await cooler.setDuties({ 'gpu0-a': 0.4 });
    await new Promise((r) => setTimeout(r, 300)); // some uptime to lose
    await board.unplug();
    await eventually(() => !cooler!.linkUp, 5000, 'link down');
    await board.replug({ powerCycle: true });
    await eventually(() => cooler!.linkUp, 10_000, 'link back up');
    expect(await metric(registry, 'gance_cooler_device_resets_total', '{cause="powerOn"}')).toBe(1);
    expect((await cooler.readDevice()).mode).toBe('boot'); // full fans until we set duties again
    expect(cooler.settings?.watchdogMs).toBe(3000);
  }, 60_000);

  it('open() fails with the path named when no device answers', async () => {
    cooler = createSerialCooler(serialConfig('/tmp/gance-no-such-cooler'), { log: quietLog, registry: new Registry(), openTimeoutMs: 1000 });
    await expect(cooler.open()).rejects.toThrow(/cooler\.path \/tmp\/gance-no-such-cooler: no answer.*No such file/);
    expect(cooler.linkUp).toBe(false);
  });

  it('open() refuses a config that names channels the firmware does not have', async () => {
    board = await startSimulatedCooler({ fans: 4 });
    const config = serialConfig(board.path);
    config.thermistors = [{ id: 'x', channel: 5 }];
    cooler = createSerialCooler(config, { log: quietLog, registry: new Registry() });
    const err = await cooler.open().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CoolerMismatchError);
    expect(String(err)).toMatch(/cooler\.thermistors\[0\]\.channel: 5 but the firmware has thermistor inputs 0\.\.1/);
  }, 30_000);
});

describe('serial cooler close', () => {
  it('close() during the handshake ends everything without waiting for the device', async () => {
    board = await startSimulatedCooler({ fans: 4 });
    await board.runner.stop(); // the firmware is frozen: the handshake can never finish
    cooler = createSerialCooler(serialConfig(board.path), { log: quietLog, registry: new Registry(), openTimeoutMs: 30_000 });
    const opening = cooler.open().catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 300));
    const t0 = performance.now();
    await cooler.close();
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(cooler.linkUp).toBe(false);
    await opening;
  }, 30_000);
});
