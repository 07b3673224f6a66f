/**
 * Synthesis in the daemon: the network catalogue and the inference pool as units, /v1/networks
 * as API, and the audio-reactive latents service (`synthesis.latents`; its gance_latents_* series
 * live on the daemon's registry). Synthesis is ready once the default network is loaded and
 * warmed in every worker.
 * Nothing here can stop the daemon: a default network that will not load leaves synthesis
 * not-ready (and says why in the log), while thermal control runs on.
 */
import type { DaemonContext, Subsystem, SubsystemFactory } from '../subsystem.ts';
import type { Unit } from '../lifecycle/unit.ts';
import { networksApi } from './api.ts';
import { checkSynthesisConfig, poolOptions, type SynthesisConfig } from './config.ts';
import { createLatentsService, type LatentsService } from '../latents/service.ts';
import { createSynthesisMetrics } from './metrics.ts';
import { BUNDLED_NETWORKS_DIR, NetworkCatalogue } from './networks/catalogue.ts';
import { NetworkManager } from './networks/manager.ts';
import { SynthesisPool } from './pool/pool.ts';

export interface Synthesis extends Subsystem {
  /** for the render pipeline: `manager.pool` submits frames */
  manager: NetworkManager;
  /** per-frame latents from audio (render jobs, live sessions), configured by synthesis.latents */
  latents: LatentsService;
}

export interface SynthesisOverrides {
  /** folder of bundled networks (tests point it elsewhere) */
  bundledDir?: string;
  testHooks?: boolean;
}

export function createSynthesis(ctx: DaemonContext, overrides: SynthesisOverrides = {}): Synthesis {
  const cfg: SynthesisConfig = ctx.config.synthesis;
  const issues = checkSynthesisConfig(cfg);
  if (issues.length > 0) throw new Error(`invalid synthesis config: ${issues.join('; ')}`);
  const log = ctx.log.child({ unit: 'synthesis' });
  const metrics = createSynthesisMetrics(ctx.registry);
  // needs no workers: latents are plain computation, whether or not inference is enabled
  const latents = createLatentsService({ config: cfg.latents, logger: log, registry: ctx.registry });
  const catalogue = new NetworkCatalogue({
    dirs: cfg.networks.dirs,
    ...(cfg.networks.bundled ? { bundledDir: overrides.bundledDir ?? BUNDLED_NETWORKS_DIR } : {}),
    log,
  });
  // Frames starting after an idle spell: thermal feed-forward leads the load on the workers' GPUs.
  const hintGpus = [...new Set(cfg.workers.flatMap((w) => (w.gpu === undefined ? [] : [w.gpu])))];
  const onBusy =
    hintGpus.length > 0 && cfg.loadHint.watts > 0
      ? () => ctx.events.emit('load-hint', { gpus: hintGpus, watts: cfg.loadHint.watts, seconds: cfg.loadHint.seconds, source: 'synthesis' })
      : undefined;
  const createPool = cfg.enabled
    ? () =>
        new SynthesisPool({
          ...poolOptions(cfg, { nvidiaSmiPath: ctx.config.thermal.sensors.nvidiaSmiPath }),
          log,
          metrics,
          testHooks: overrides.testHooks ?? false,
          busyAfterIdleMs: cfg.loadHint.idleSeconds * 1000,
          ...(onBusy ? { onBusy } : {}),
        })
    : null;
  const manager = new NetworkManager({ catalogue, createPool, output: cfg.output, defaultNetwork: cfg.networks.default, log });

  const networksUnit: Unit = {
    name: 'synthesis-networks',
    async start() {
      const found = catalogue.scan();
      const usable = found.filter((e) => !e.error).map((e) => e.id);
      log.info({ networks: usable, broken: found.length - usable.length }, `networks available: ${usable.join(', ') || 'none'}`);
    },
    async stop() {},
  };
  const poolUnit: Unit = {
    name: 'synthesis',
    dependsOn: ['synthesis-networks'],
    async start() {
      manager.start();
    },
    stop: () => manager.stop(),
    ...(cfg.enabled ? { ready: () => manager.ready() } : {}),
  };
  const latentsUnit: Unit = {
    name: 'synthesis-latents',
    async start() {},
    stop: () => latents.close(),
  };
  ctx.services.provide('networks', manager);
  ctx.services.provide('latents', latents);
  return { units: [networksUnit, poolUnit, latentsUnit], plugins: [networksApi(manager)], manager, latents };
}

export const synthesisSubsystem: SubsystemFactory = (ctx) => createSynthesis(ctx);
