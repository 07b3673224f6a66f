/**
 * A render's dependencies in-process, without the daemon (what `gance render` runs on): the
 * catalogue, network manager, pool and latents service built from a config's synthesis section
 * the way the synthesis subsystem builds them, plus extra network folders (the folders of ONNX
 * files named on the command line). `close` stops the workers and the analysis threads.
 */
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import type { Config } from '../config/schema.ts';
import { createLatentsService } from '../latents/service.ts';
import { checkSynthesisConfig, poolOptions } from '../synthesis/config.ts';
import { createSynthesisMetrics } from '../synthesis/metrics.ts';
import { BUNDLED_NETWORKS_DIR, NetworkCatalogue } from '../synthesis/networks/catalogue.ts';
import { NetworkManager } from '../synthesis/networks/manager.ts';
import { SynthesisPool } from '../synthesis/pool/pool.ts';
import type { RenderDeps } from './types.ts';

export interface LocalRenderer {
  deps: RenderDeps;
  /** starts the workers and the first network's load (done at once unless `deferStart`); idempotent */
  start(): void;
  close(): Promise<void>;
}

export interface LocalOptions {
  config: Config;
  log: Logger;
  /** folders searched for networks besides the config's */
  extraDirs?: string[];
  /** network loaded first (the render's first), instead of synthesis.networks.default */
  firstNetwork?: string;
  ffmpeg?: string;
  testHooks?: boolean;
  /** no workers until `start()`: the caller checks its inputs first (a refusal then starts nothing) */
  deferStart?: boolean;
}

export function createLocalRenderer(o: LocalOptions): LocalRenderer {
  const cfg = o.config.synthesis;
  const issues = checkSynthesisConfig(cfg);
  if (issues.length > 0) throw new Error(`invalid synthesis config: ${issues.join('; ')}`);
  if (!cfg.enabled) throw new Error('synthesis.enabled is false in the config: a render needs inference workers');
  const registry = new Registry();
  const metrics = createSynthesisMetrics(registry);
  const latents = createLatentsService({ config: cfg.latents, logger: o.log, registry });
  // a folder listed twice would offer each of its networks twice (refused as duplicates)
  const known = new Set([...cfg.networks.dirs, ...(cfg.networks.bundled ? [BUNDLED_NETWORKS_DIR] : [])].map((d) => resolve(d)));
  const extra = [...new Set((o.extraDirs ?? []).map((d) => resolve(d)))].filter((d) => !known.has(d));
  const catalogue = new NetworkCatalogue({ dirs: [...cfg.networks.dirs, ...extra], ...(cfg.networks.bundled ? { bundledDir: BUNDLED_NETWORKS_DIR } : {}), log: o.log });
  catalogue.scan();
  const manager = new NetworkManager({
    catalogue,
    createPool: () =>
      new SynthesisPool({ ...poolOptions(cfg, { nvidiaSmiPath: o.config.thermal.sensors.nvidiaSmiPath }), log: o.log, metrics, testHooks: o.testHooks ?? false }),
    output: cfg.output,
    defaultNetwork: o.firstNetwork ?? cfg.networks.default,
    log: o.log,
  });
  // the manager loads its default network as it starts; a network the catalogue does not offer
  // would only log a failed load before the render refuses it (naming it) anyway
  let started = false;
  const start = () => {
    if (started) return;
    started = true;
    const first = catalogue.get(o.firstNetwork ?? cfg.networks.default);
    if (first && !first.error) manager.start();
  };
  if (!o.deferStart) start();
  return {
    deps: { networks: manager, latents, log: o.log, ...(o.ffmpeg ? { ffmpeg: o.ffmpeg } : {}) },
    start,
    async close() {
      await Promise.all([manager.stop(), latents.close()]);
    },
  };
}
