/**
 * Yielding as a daemon unit, and the simulated GPUs' synthesis load: built by the thermal
 * subsystem, started after thermal control (it restores a power limit an earlier run left
 * lowered), stopped before it (full speed and default power limits back).
 */
import type { Unit } from '../../lifecycle/unit.ts';
import type { DaemonContext } from '../../subsystem.ts';
import type { ThermalService } from '../service/service.ts';
import type { SimRig } from '../sim/rig.ts';
import { SynthesisLoad } from '../sim/synthesis-load.ts';
import { ThermalYield } from './controller.ts';
import { registerYieldMetrics } from './metrics.ts';
import { nvidiaSmiPowerLimiter, simulatedPowerLimiter } from './power-limit.ts';

export function yieldUnit(ctx: DaemonContext, service: ThermalService, rig: SimRig | undefined): Unit[] {
  const t = ctx.config.thermal;
  const log = ctx.log.child({ unit: 'thermal-yield' });
  const units: Unit[] = [];
  if (rig && t.sensors.simulation.profile === 'synthesis') {
    const workerGpu = new Map(ctx.config.synthesis.workers.flatMap((w) => (w.gpu === undefined ? [] : [[w.id, w.gpu] as const])));
    const load = new SynthesisLoad({ registry: ctx.registry, workerGpu });
    rig.setActivity(load.activity);
    units.push({ name: 'thermal-sim-load', dependsOn: ['thermal'], start: async () => load.start(), stop: async () => load.stop() });
  }
  const y = t.yield;
  if (!y.enabled) return units;
  const pl = y.powerLimit;
  // the plain default runs the nvidia-smi the sensors use
  const command = pl.command.length === 1 && pl.command[0] === 'nvidia-smi' ? [t.sensors.nvidiaSmiPath] : pl.command;
  const limiter = !pl.enabled ? null : rig ? simulatedPowerLimiter(rig) : nvidiaSmiPowerLimiter(command);
  const yielder = new ThermalYield(
    y,
    {
      renders: () => {
        const r = ctx.services.find('renders');
        return r ? { throttle: r.throttle, runningFps: () => r.scheduler.runningFps() } : undefined;
      },
      live: () => ctx.services.find('live'),
    },
    limiter,
    log,
  );
  service.attachYield(yielder);
  registerYieldMetrics(ctx.registry, yielder);
  const gpus = [...new Set(t.zones.flatMap((z) => z.gpus))];
  units.push({
    name: 'thermal-yield',
    dependsOn: ['thermal'],
    start: () => yielder.start(gpus),
    stop: () => yielder.stop(),
  });
  return units;
}
