import { Registry, collectDefaultMetrics } from 'prom-client';

export const METRIC_PREFIX = 'gance_';

/** One registry per app instance (tests build many apps in one process), default process metrics included. */
export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  return registry;
}
