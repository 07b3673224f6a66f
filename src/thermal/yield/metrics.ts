/** Yield series, filled at scrape time from the yield state (nothing per tick). */
import { Counter, Gauge, type Registry } from 'prom-client';
import { METRIC_PREFIX } from '../../metrics.ts';
import type { ThermalYield } from './controller.ts';

export function registerYieldMetrics(registry: Registry, y: ThermalYield): void {
  const registers = [registry];
  new Gauge({
    name: `${METRIC_PREFIX}render_thermal_yield_ratio`,
    help: 'Share of synthesis speed given up on a GPU to stay under its zone critical temperature (0: full speed, 1: renders paused)',
    labelNames: ['gpu', 'zone'],
    registers,
    collect() {
      this.reset();
      for (const z of y.view().zones) for (const g of z.gpus) this.set({ gpu: String(g), zone: z.zone }, 1 - z.speed);
    },
  });
  new Gauge({
    name: `${METRIC_PREFIX}thermal_yield_step`,
    help: 'Yield step of a zone (0: not yielding)',
    labelNames: ['zone'],
    registers,
    collect() {
      this.reset();
      for (const z of y.view().zones) this.set({ zone: z.zone }, z.step);
    },
  });
  new Gauge({
    name: `${METRIC_PREFIX}gpu_power_limit_watts`,
    help: 'GPU power limit as yielding set it or read it (the default while not yielding); only GPUs whose limit yielding manages',
    labelNames: ['gpu'],
    registers,
    collect() {
      this.reset();
      for (const p of y.powerLimits()) this.set({ gpu: String(p.gpu) }, p.watts);
    },
  });
  const reported = new Map<string, number>();
  new Counter({
    name: `${METRIC_PREFIX}render_thermal_paused_seconds_total`,
    help: 'Seconds renders on a zone were paused by yielding',
    labelNames: ['zone'],
    registers,
    collect() {
      for (const z of y.view().zones) {
        const d = z.pausedSeconds - (reported.get(z.zone) ?? 0);
        if (d > 0) this.inc({ zone: z.zone }, d);
        else this.inc({ zone: z.zone }, 0);
        reported.set(z.zone, Math.max(z.pausedSeconds, reported.get(z.zone) ?? 0));
      }
    },
  });
}
