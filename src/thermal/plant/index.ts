/**
 * Simulated GPU + fan plant (no I/O, deterministic). Used by tests, the embedded default daemon
 * (behind a fake nvidia-smi and the simulated cooler) and the thermal benchmark.
 *
 *   const plant = createPlant(k80Rig({ gpus: 2 }));
 *   plant.setLoad('all', standardBenchmarkProfile());
 *   plant.setDuty('gpu0-a', 0.4);
 *   plant.step(0.2);
 *   plant.gpu(0).temperatureC; plant.fan('gpu0-a').rpm; plant.noiseDba();
 */
export { createPlant, conductance, rng, SW_THERMAL_SLOWDOWN } from './model.ts';
export type { Plant, PlantConfig, GpuParams, PlantFanParams, GpuReading, PlantFanReading, FanFault } from './model.ts';
export { profile, constant, bursts, standardBenchmarkProfile } from './profiles.ts';
export type { LoadProfile, LoadSegment, LoadHint } from './profiles.ts';
export { k80Rig, fanConfigsFor, fanIdDefault, K80_GPU, FAN_40MM } from './k80.ts';
export type { RigOptions } from './k80.ts';
