import { Registry, collectDefaultMetrics } from 'prom-client';

export const METRIC_PREFIX = 'gance_';

/** One registry per app instance (tests build many apps in one process), default process metrics included. */
export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  // prom-client names these gauges *_total, which Prometheus reserves for counters (promtool flags it);
  // the same counts remain, by type, in the un-suffixed gauges beside them.
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
    registry.removeSingleMetric(METRIC_PREFIX + name);
  }
  return registry;
}
