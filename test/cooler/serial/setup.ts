/** Shared bits of the serial driver tests: a quiet logger and a config for the simulated board. */
import pino from 'pino';
import type { Registry } from 'prom-client';
import type { CoolerConfig } from '../../../src/cooler/config.ts';

export const quietLog = pino({ level: process.env.GANCE_TEST_LOG ?? 'silent' });

export function serialConfig(path: string, over: Partial<CoolerConfig> = {}): CoolerConfig {
  return {
    driver: 'serial',
    path,
    baudRate: 115200,
    watchdogSeconds: 3,
    failsafeDuty: 1,
    fans: [
      { id: 'gpu0-a', channel: 0, maxRpm: 9000, minDuty: 0.2, startDuty: 0.5, maxDba: 40 },
      { id: 'gpu0-b', channel: 2, maxRpm: 9000, minDuty: 0.2, startDuty: 0.5, maxDba: 40 },
    ],
    thermistors: [{ id: 'gpu0-sink', channel: 1 }],
    ...over,
  };
}

/** Polls `pred` every 10 ms until it holds or `ms` of wall time pass. */
export async function eventually(pred: () => boolean | Promise<boolean>, ms: number, what = 'condition'): Promise<void> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    if (await pred()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  if (!(await pred())) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

/**
 * The counters of a registry as they are now: `at(name, labels)` sums the series of `name` whose
 * labels include `labels` (0 when there is none).
 */
export async function countersNow(registry: Registry): Promise<(name: string, labels?: Record<string, string>) => number> {
  const json = structuredClone(await registry.getMetricsAsJSON()); // prom-client hands out its live series objects
  return (name, labels = {}) =>
    (json.find((m) => m.name === name)?.values ?? [])
      .filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want))
      .reduce((sum, v) => sum + v.value, 0);
}
