/**
 * Render jobs in the daemon: the durable queue in stateDir, the scheduler as a unit (it starts
 * after synthesis and stops before it, pausing the running render so the next start resumes it),
 * /v1/renders, gance_render_* metrics, and the `renders` service (queue, scheduler, per-GPU
 * throttle) for the other subsystems.
 */
import { readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Unit } from '../lifecycle/unit.ts';
import type { DaemonContext, Subsystem } from '../subsystem.ts';
import { limitAdmission, renderAdmission } from './admit.ts';
import { rendersApi } from './api.ts';
import { encodeParallel } from './encode-args.ts';
import { createRenderMetrics } from './metrics.ts';
import { JobQueue } from './queue.ts';
import { RenderScheduler } from './scheduler.ts';
import { runConfigPath } from './run-config.ts';
import { name, operatorSettingsFile, restoreOperatorSettings } from './gpus.ts';
import { CPU, GpuThrottle, type RenderDevice } from './throttle.ts';
import type { RunRender } from './types.ts';

export interface RenderService {
  queue: JobQueue;
  scheduler: RenderScheduler;
  /** pause(gpu), resume(gpu), setRate(gpu, fps): holds or slows the renders on a GPU */
  throttle: GpuThrottle;
  /** the files queued and running renders will write: outputs, debug videos, run configs */
  outputs: () => Set<string>;
}

export interface RenderOverrides {
  /** the runner (tests inject one); default: the render pipeline in ./run.ts */
  loadRunner?: () => Promise<RunRender>;
}

// the pipeline (ffmpeg, pixels, segments) is loaded at the first render, not with the daemon
async function loadPipeline(): Promise<RunRender> {
  return (await import('./run.ts')).runRender;
}

/**
 * Upload folders no queued or running job holds: a daemon killed while a file was arriving, or
 * while it was checked before the job was queued, or between a job's end and the removal of its
 * audio, left them (each up to render.uploadMaxBytes per file) and nothing else removes them.
 * Run before the API serves, so no upload is in flight.
 */
export function removeOrphanUploads(uploadRoot: string, queue: JobQueue, log: Logger): void {
  let names: string[];
  try {
    names = readdirSync(uploadRoot);
  } catch {
    return;
  }
  const keep = queue.activeUploads();
  const removed: string[] = [];
  for (const n of names) {
    const path = join(uploadRoot, n);
    if (keep.has(path)) continue;
    try {
      rmSync(path, { recursive: true, force: true });
      removed.push(n);
    } catch (err) {
      log.warn({ err, path }, `cannot remove the orphaned upload ${path}`);
    }
  }
  if (removed.length > 0) log.info({ uploadRoot, removed }, `removed ${removed.length} upload(s) of renders that were never queued or have ended (an interrupted upload or a crash)`);
}

export function createRender(ctx: DaemonContext, overrides: RenderOverrides = {}): Subsystem & { service: RenderService } {
  const cfg = ctx.config.render;
  const log = ctx.log.child({ unit: 'render' });
  const networks = ctx.services.get('networks');
  const latents = ctx.services.get('latents');
  const stateDir = resolve(ctx.config.stateDir);
  const queue = new JobQueue({ stateDir, ...(cfg.workDir === null ? {} : { workRoot: resolve(cfg.workDir) }) });
  if (queue.setAside) {
    const { path, reason } = queue.setAside;
    log.error({ file: path, reason }, `render queue ${queue.file} could not be read (${reason}): set aside as ${path}; the jobs it held are not in the queue, which starts empty`);
  }
  removeOrphanUploads(join(stateDir, 'uploads'), queue, log);
  const throttle = new GpuThrottle();
  throttle.onHold((h) => log.info(h, `renders on ${h.gpus.map(name).join(', ')} held: ${h.reason}`));
  const synthesis = ctx.config.synthesis;
  const gpus = [...new Set(synthesis.workers.flatMap((w) => (w.gpu === undefined ? [] : [w.gpu])))];
  // what the operator can pause: those GPUs, and the CPU when a worker without a gpu makes frames too
  const devices: RenderDevice[] = synthesis.workers.some((w) => w.gpu === undefined) ? [...gpus, CPU] : gpus;
  // the operator's pauses and rates from before a restart, before any render can start
  const gpuSettings = operatorSettingsFile(join(stateDir, 'render-gpus.json'), log);
  restoreOperatorSettings(throttle, devices, gpuSettings, log);
  let scheduler: RenderScheduler | undefined = undefined;
  const metrics = createRenderMetrics(ctx.registry, { counts: () => queue.counts(), fps: () => scheduler?.runningFps() ?? [] });
  scheduler = new RenderScheduler({
    queue,
    loadRunner: overrides.loadRunner ?? loadPipeline,
    deps: { networks, latents, log },
    concurrency: cfg.concurrency,
    progressIntervalMs: cfg.progressIntervalMs,
    segmentFrames: cfg.segmentFrames,
    encodeParallel: encodeParallel(cfg.encodeParallel),
    ...(cfg.framesAhead === null ? {} : { framesAhead: cfg.framesAhead }),
    encodeQueueFrames: cfg.encodeQueueFrames,
    log,
    events: ctx.events,
    throttle,
    metrics,
    loadHint: { gpus, watts: synthesis.loadHint.watts, seconds: synthesis.loadHint.seconds },
    devices,
  });
  const sched = scheduler;
  const unit: Unit = {
    name: 'render',
    dependsOn: ['synthesis', 'synthesis-latents'],
    async start() {
      sched.start();
    },
    // the store stays open for the API until the HTTP server closes after this (onClose below)
    stop: () => sched.stop(),
  };
  const service: RenderService = { queue, scheduler: sched, throttle, outputs: () => new Set([...queue.activeOutputs()].flatMap((p) => [p, runConfigPath(p)])) };
  ctx.services.provide('renders', service);
  const plugin = rendersApi({
    scheduler: sched,
    config: cfg,
    uploadRoot: join(stateDir, 'uploads'),
    networks: () => networks.list().networks,
    gpus: devices,
    gpuSettings,
    // live is built after render: asked for at each submission
    liveOutputs: () => ctx.services.find('live')?.outputs() ?? new Set<string>(),
    admit: limitAdmission(renderAdmission({ catalogue: networks.catalogue, latents: latents.config })),
    onClose: () => queue.close(),
  });
  return { units: [unit], plugins: [plugin], service };
}


