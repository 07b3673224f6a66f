/**
 * Constants for one GK210 GPU of a Tesla K80 (no fans of its own) under a shroud with three
 * 40x40x28 mm fans, and a rig builder. Chosen from physics, not to favour any controller:
 *
 * - heat capacity 400 J/K: the K80's heatsink is ~0.8-1 kg of aluminium fins on copper for two
 *   GPUs; per GPU ~0.4 kg Al (900 J/kg/K) + ~0.1 kg Cu (385 J/kg/K) ~ 400 J/K.
 * - G_full 4.3 W/K (0.23 K/W junction to air at full airflow): 150 W settles at 30 + 150/4.3
 *   = 65 C with 30 C air, in the 60s like a well-fed passive Tesla heatsink.
 * - G_still 0.8 W/K (1.25 K/W): natural convection through a horizontal fin stack in a closed
 *   case; 30 W idle with the fans stopped settles near 68 C, 150 W would pass 90 C in minutes.
 * - n = 0.6: fin-channel convection sits between laminar (h ~ v^0.5) and turbulent (v^0.8).
 *   All three fans at 20% (x = 0.2): G = 2.1 W/K, 150 W -> ~100 C: weak cooling cooks the card.
 * - Thermal slowdown at 92 C (nvidia cuts clocks; modelled as power x 0.6), like Kepler parts.
 * - Fan: 9000 rpm, 40 dBA at full (Delta FFB0412-class), rpm lag 1 s; it stalls below 12% and
 *   needs 30% to start from standstill (configured margins: minDuty 0.2, startDuty 0.5).
 */
import type { FanConfig } from '../../cooler/config.ts';
import type { GpuParams, PlantConfig, PlantFanParams } from './model.ts';

export const K80_GPU: Omit<GpuParams, 'index' | 'fans'> = {
  heatCapacityJPerK: 400,
  conductanceStillWPerK: 0.8,
  conductanceFullWPerK: 4.3,
  airflowExponent: 0.6,
  slowdownC: 92,
  throttlePowerShare: 0.6,
};

export const FAN_40MM: Omit<PlantFanParams, 'id'> = {
  maxRpm: 9000,
  maxDba: 40,
  stallDuty: 0.12,
  startDuty: 0.3,
  rpmTauSeconds: 1,
  tachResolutionRpm: 30,
};

export interface RigOptions {
  gpus?: number;
  fansPerGpu?: number;
  ambientC?: number;
  seed?: number;
  powerNoiseW?: number;
  /** fan id for GPU g, fan k; default `gpu${g}-${'abcdefgh'[k]}` */
  fanId?: (gpu: number, k: number) => string;
}

export function fanIdDefault(gpu: number, k: number): string {
  return `gpu${gpu}-${'abcdefgh'[k] ?? String(k)}`;
}

/** A K80-like rig: `gpus` GPUs, each with its own `fansPerGpu` 40 mm fans. */
export function k80Rig(opts: RigOptions = {}): PlantConfig {
  const n = opts.gpus ?? 1;
  const perGpu = opts.fansPerGpu ?? 3;
  const id = opts.fanId ?? fanIdDefault;
  const fans: PlantFanParams[] = [];
  const gpus: GpuParams[] = [];
  for (let g = 0; g < n; g++) {
    const ids: string[] = [];
    for (let k = 0; k < perGpu; k++) {
      ids.push(id(g, k));
      fans.push({ id: id(g, k), ...FAN_40MM });
    }
    gpus.push({ index: g, ...K80_GPU, fans: ids });
  }
  return { ambientC: opts.ambientC ?? 30, gpus, fans, seed: opts.seed ?? 1, powerNoiseW: opts.powerNoiseW ?? 0 };
}

/** cooler.fans entries matching a plant config (channels in order). */
export function fanConfigsFor(plant: PlantConfig, overrides: Partial<Pick<FanConfig, 'minDuty' | 'startDuty'>> = {}): FanConfig[] {
  return plant.fans.map((f, k) => ({
    id: f.id,
    channel: k,
    maxRpm: f.maxRpm,
    maxDba: f.maxDba,
    minDuty: overrides.minDuty ?? 0.2,
    startDuty: overrides.startDuty ?? 0.5,
  }));
}
