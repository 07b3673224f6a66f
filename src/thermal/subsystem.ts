/**
 * Thermal control as a daemon subsystem: sensors (nvidia-smi, or the simulated GPUs through the
 * fake nvidia-smi), the control loop unit, its API under /v1/thermal and its metrics.
 */
import { resolve } from 'node:path';
import type { SubsystemFactory } from '../subsystem.ts';
import { SimulatedCooler } from '../cooler/simulated.ts';
import { thermalApi } from './api.ts';
import { registerThermalMetrics } from './metrics.ts';
import { NvidiaSmiSource } from './sensors/nvidia-smi.ts';
import { SimulatedSmiSource } from './sensors/simulated.ts';
import { SystemInformationFallback, querySystemInformation, toGpuInfo } from './sensors/systeminformation.ts';
import type { GpuSensorSource } from './sensors/types.ts';
import { ThermalService } from './service/service.ts';
import { SimRig, plantConfigFor } from './sim/rig.ts';
import { effectiveFans, loadFanReportSync } from './tuning/fan-measure.ts';
import { yieldUnit } from './yield/unit.ts';

export const thermalSubsystem: SubsystemFactory = (ctx) => {
  const { config, events } = ctx;
  const t = config.thermal;
  const log = ctx.log.child({ unit: 'thermal' });
  const s = t.sensors;
  const common = {
    intervalMs: s.intervalMs,
    silentAfterMs: s.silentAfterMs ?? s.staleAfterMs,
    restartMinMs: s.restartMinMs,
    restartMaxMs: s.restartMaxMs,
    log: log.child({ part: 'sensors' }),
  };

  let source: GpuSensorSource;
  const discovered = new Map<number, { name: string; driverVersion?: string }>();
  let rig: SimRig | undefined;
  if (s.source === 'simulated') {
    // The config check refuses "simulated" with any other cooler.driver (src/config/cross-check.ts);
    // this stays for a cooler handed in that was not built from the config, and to reach attachPlant.
    if (!(ctx.cooler instanceof SimulatedCooler)) {
      throw new Error('thermal.sensors.source: "simulated" needs cooler.driver "simulated" (the simulated GPUs are cooled by the simulated fans); use "nvidia-smi" with a real cooler');
    }
    rig = new SimRig({ plant: plantConfigFor(config.cooler.fans, t.zones, s.simulation.ambientC, s.simulation.gpu), profile: s.simulation.profile });
    ctx.cooler.attachPlant(rig);
    source = new SimulatedSmiSource(rig, common);
  } else {
    const smi = new NvidiaSmiSource({ ...common, command: s.nvidiaSmiPath });
    source = smi;
    if (s.fallback === 'systeminformation') {
      new SystemInformationFallback({ source: smi, log: log.child({ part: 'systeminformation' }), intervalMs: Math.max(5000, s.intervalMs) });
    }
    // Names and driver for the API and metrics; off the main thread, once, not awaited.
    querySystemInformation().then(
      (gpus) => {
        for (const g of toGpuInfo(gpus)) discovered.set(g.index, { name: g.name, driverVersion: g.driverVersion });
        log.info({ gpus: toGpuInfo(gpus) }, `GPUs found: ${gpus.map((g, i) => `${i}: ${g.name} (${g.pciBus}, driver ${g.driverVersion})`).join('; ') || 'none'}`);
      },
      (err: Error) => log.warn({ err: err.message }, 'GPU discovery through systeminformation failed; names stay unknown'),
    );
  }

  // Fan figures measured by `gance fans measure` win over the configured ones unless pinned; a
  // broken file is logged and ignored (the configured figures are safe).
  let fans = config.cooler.fans;
  if (t.measuredFans.use) {
    try {
      const eff = effectiveFans(config.cooler.fans, loadFanReportSync(resolve(config.stateDir)), t.measuredFans.pin);
      fans = eff.fans;
      for (const c of eff.changes) log.info(`measured fan figures in use: ${c}`);
    } catch (err) {
      log.warn({ err }, `stored fan characterisation not used: ${(err as Error).message}`);
    }
  }

  const simRig = rig;
  const service = new ThermalService({
    config: t,
    fans,
    cooler: ctx.cooler,
    source,
    log,
    events,
    stateDir: resolve(config.stateDir),
    gpuInfo: simRig ? () => new Map(simRig.plant.gpus().map((g) => [g.index, { name: g.name }])) : () => discovered,
    onLoadHint: simRig ? (gpus, watts, seconds) => simRig.hint(gpus, watts, seconds) : undefined,
    thermistors: config.cooler.thermistors.map((th) => th.id),
  });
  registerThermalMetrics(ctx.registry, service);
  const yielding = yieldUnit(ctx, service, rig);
  return { units: [service.unit(), ...yielding], plugins: [thermalApi(service)] };
};
