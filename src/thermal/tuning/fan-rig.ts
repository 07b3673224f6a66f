/**
 * FanRigs for measureFans(): any Cooler driver (the real one through the serial or Firmata
 * driver, or the simulated one), and the simulated rig in simulated time.
 */
import type { Cooler } from '../../cooler/cooler.ts';
import type { CoolerConfig } from '../../cooler/config.ts';
import { SimulatedCooler } from '../../cooler/simulated.ts';
import type { ZoneConfig } from '../config.ts';
import { createPlant, type Plant } from '../plant/index.ts';
import { plantConfigFor } from '../sim/rig.ts';
import type { FanRig } from './fan-measure.ts';

/** setpoint + this is the measuring abort (issue 15) */
export const MEASURE_ABORT_MARGIN_C = 5;

/** A FanRig on a cooler driver; `wait` is real time unless given. */
export function coolerFanRig(cooler: Cooler, o: { guard: () => Promise<string | null>; wait?: (s: number) => Promise<void> }): FanRig {
  return {
    fans: cooler.info.fans,
    thermistors: cooler.info.thermistors,
    setDuties: (d) => cooler.setDuties(d),
    read: () => cooler.read(),
    wait: o.wait ?? ((s) => new Promise((r) => setTimeout(r, s * 1000))),
    async failsafe(reason) {
      await cooler.failsafe(reason).catch(() => undefined);
    },
    guard: o.guard,
  };
}

/** Zone GPUs past their setpoint + 5 C, as a guard's answer. */
export function overSetpoint(zones: ReadonlyArray<Pick<ZoneConfig, 'gpus' | 'pid'>>, temperature: (gpu: number) => number | null): string | null {
  for (const z of zones) {
    for (const g of z.gpus) {
      const t = temperature(g);
      const limit = z.pid.setpoint + MEASURE_ABORT_MARGIN_C;
      if (t === null) return `GPU ${g} has no temperature reading`;
      if (t > limit) return `GPU ${g} at ${t.toFixed(1)} C, over its zone setpoint ${z.pid.setpoint} C + ${MEASURE_ABORT_MARGIN_C} C`;
    }
  }
  return null;
}

/**
 * The daemon's config on the plant simulator in simulated time, through the real simulated cooler
 * driver: wait() steps the plant. `plant` is exposed for tests (load, faults).
 */
export async function simulatedFanRig(cooler: Pick<CoolerConfig, 'fans' | 'thermistors'>, zones: ReadonlyArray<ZoneConfig>, o: { ambientC?: number; watts?: number } = {}): Promise<FanRig & { plant: Plant; close(): Promise<void> }> {
  const plant = createPlant(plantConfigFor(cooler.fans, zones, o.ambientC ?? 30));
  plant.setLoad('all', o.watts ?? 30);
  const sim = new SimulatedCooler({ fans: cooler.fans, thermistors: cooler.thermistors, watchdogSeconds: 60 });
  sim.attachPlant({
    advance: () => undefined,
    plant,
    heatsinkC: (ch) => {
      try {
        const g = plant.gpu(ch);
        return g.temperatureC - 0.08 * g.powerW;
      } catch {
        return null;
      }
    },
  });
  await sim.open();
  const rig = coolerFanRig(sim, {
    wait: async (s) => plant.step(s),
    guard: async () => overSetpoint(zones, (g) => plant.gpu(g).temperatureC),
  });
  return { ...rig, plant, close: () => sim.close() };
}
