/** The simulated GPUs read through the fake nvidia-smi and the real parser. */
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedSmiSource } from '../../../src/thermal/sensors/simulated.ts';
import { SimRig, plantConfigFor } from '../../../src/thermal/sim/rig.ts';
import { quietLog, until } from './helpers.ts';

const fans = ['a', 'b'].map((s, k) => ({ id: `gpu0-${s}`, channel: k, maxRpm: 9000, minDuty: 0.2, startDuty: 0.5, maxDba: 40 }));

let source: SimulatedSmiSource | undefined;
afterEach(async () => {
  await source?.stop();
  source = undefined;
});

describe('simulated sensor source', () => {
  it('prints the plant through nvidia-smi CSV: whole degrees, power, utilization, throttle reasons', async () => {
    let now = 0;
    const rig = new SimRig({ plant: plantConfigFor(fans, [{ gpus: [0, 1], fans: fans.map((f) => f.id) }], 30), profile: 'full', clock: () => now });
    source = new SimulatedSmiSource(rig, { intervalMs: 100, silentAfterMs: 2000, restartMinMs: 100, restartMaxMs: 500, log: quietLog });
    await source.start();
    await until('both GPUs', () => source!.latest().size === 2);
    const s = source.latest().get(1)!;
    expect(s).toMatchObject({ index: 1, temperatureC: 30, source: 'nvidia-smi' });
    expect(s.uuid).toBe(rig.plant.gpu(1).uuid);
    expect(s.powerW).toBeGreaterThan(140);
    expect(s.utilization).toBe(1);
    // fans off, full load, 20 simulated minutes: past the K80's slowdown, the driver reports it
    now += 20 * 60_000;
    const hot = await until('thermal slowdown', () => {
      const x = source!.latest().get(0)!;
      return x.throttleReasons.includes('sw_thermal_slowdown') ? x : undefined;
    });
    expect(hot.temperatureC).toBe(Math.round(rig.plant.gpu(0).temperatureC));
    expect(hot.temperatureC).toBeGreaterThanOrEqual(92);
    expect(Number.isInteger(hot.temperatureC)).toBe(true);
  });

  it('sensor faults injected at the rig show up as nvidia-smi would print them', async () => {
    const rig = new SimRig({ plant: plantConfigFor(fans, [{ gpus: [0, 1], fans: fans.map((f) => f.id) }], 30), profile: 'idle' });
    source = new SimulatedSmiSource(rig, { intervalMs: 100, silentAfterMs: 2000, restartMinMs: 100, restartMaxMs: 500, log: quietLog });
    await source.start();
    await until('both GPUs', () => source!.latest().size === 2);
    rig.override(0, { temperature: 'unsupported' });
    await until('[Not Supported]', () => source!.latest().get(0)!.temperatureC === null);
    rig.override(1, { hidden: true });
    await until('gpu 1 missing', () => source!.missing().has(1));
    expect(source.stats().failedSamples).toBe(0);
  });
});
