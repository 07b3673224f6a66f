/**
 * A fan without a tach signal, through the serial driver on the real firmware image (avr8js,
 * socat pty): its rpm is unknown, not 0, so thermal control does not call it stalled.
 */
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSerialCooler, type SerialCooler } from '../../../src/cooler/serial/index.ts';
import { startSimulatedCooler, type SimulatedCooler } from '../../helpers/avr/index.ts';
import { eventually, quietLog, serialConfig } from './setup.ts';

let board: SimulatedCooler;
let cooler: SerialCooler;

beforeAll(async () => {
  // channel 0 (gpu0-a): a fan with its tach wire cut; channel 2 (gpu0-b): a normal fan
  board = await startSimulatedCooler({ fans: [{ tach: false }, {}, {}, {}] });
  cooler = createSerialCooler(serialConfig(board.path), { log: quietLog, registry: new Registry() });
  await cooler.open();
}, 30_000);

afterAll(async () => {
  await cooler?.close();
  await board?.stop();
});

describe('serial cooler: fans without a tach signal', () => {
  it('reports rpm null (unknown) for a fan whose tach the firmware never saw, and real rpm for the others', async () => {
    await cooler.setDuties({ 'gpu0-a': 0.6, 'gpu0-b': 0.6 });
    // by the time the tach fan reads a speed, the other has had its windows too
    await eventually(async () => ((await cooler.read()).fans[1]!.rpm ?? 0) > 1000, 15_000, 'rpm on the fan with a tach');
    // the firmware's tach clock reads 0 after 2 s without an edge: past that, the wire says 0
    const since = board.sim.seconds;
    await eventually(() => board.sim.seconds - since > 2.5, 15_000, '2.5 s of simulated time');
    const device = await cooler.readDevice();
    expect(device.fans[0]).toMatchObject({ rpm: 0, tachSeen: false });
    const s = await cooler.read();
    expect(s.fans[0]).toMatchObject({ id: 'gpu0-a', rpm: null });
    expect(s.fans[1]!.rpm).toBeGreaterThan(1000);
  });
});
