/**
 * Live sessions in the daemon: built after synthesis (it takes the networks and latents services),
 * offers the `live` service and /v1/live. Its unit stops every session on the way down.
 */
import type { SubsystemFactory } from '../subsystem.ts';
import { liveApi } from './api.ts';
import { createLiveService } from './service.ts';

export const liveSubsystem: SubsystemFactory = (ctx) => {
  const cfg = ctx.config.synthesis;
  const live = createLiveService({
    networks: ctx.services.get('networks'),
    latents: ctx.services.get('latents'),
    log: ctx.log,
    registry: ctx.registry,
    events: ctx.events,
    // an API client names files as a render's: under the media root, outputs under the output root
    roots: { media: ctx.config.render.mediaRoot, output: ctx.config.render.outputRoot },
    // a recording is not started over a file a queued or running render will write
    renderOutputs: () => ctx.services.find('renders')?.outputs() ?? new Set<string>(),
    // the same GPUs and watts synthesis hints with: a session loads its workers
    loadHint: { gpus: [...new Set(cfg.workers.flatMap((w) => (w.gpu === undefined ? [] : [w.gpu])))], watts: cfg.loadHint.watts, seconds: cfg.loadHint.seconds },
  });
  ctx.services.provide('live', live);
  return {
    units: [{ name: 'live', dependsOn: ['synthesis'], async start() {}, stop: () => live.stopAll() }],
    plugins: [liveApi(live)],
  };
};
