/** An app with only /v1/renders, a real store and scheduler, and a fake runner. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { AccessOptions } from '../../src/api/access.ts';
import { buildApp } from '../../src/api/app.ts';
import { createEventBus } from '../../src/events.ts';
import { rendersApi, type RendersApiOptions } from '../../src/render/api.ts';
import { Value } from '@sinclair/typebox/value';
import { RenderConfig } from '../../src/render/config.ts';
import { createRenderMetrics } from '../../src/render/metrics.ts';
import { JobQueue } from '../../src/render/queue.ts';
import { RenderScheduler } from '../../src/render/scheduler.ts';
import { GpuThrottle } from '../../src/render/throttle.ts';
import type { RenderDeps, RunRender } from '../../src/render/types.ts';
import { tempDir } from './job-helpers.ts';

/**
 * `api.gpus`: what renders run on, GPUs and "cpu" (the scheduler's devices, so the throttle holds them; the GPUs are its load hint);
 * `api.access`: the app's access settings (a token, ...)
 */
export async function rendersApp(run: RunRender, over: Partial<RenderConfig> = {}, api: Pick<RendersApiOptions, 'admit' | 'gpus' | 'gpuSettings' | 'liveOutputs'> & Partial<Pick<RendersApiOptions, 'networks'>> & { access?: Partial<AccessOptions> } = {}) {
  const root = tempDir('gance-api-');
  const mediaRoot = join(root, 'media');
  const outputRoot = join(root, 'out');
  mkdirSync(mediaRoot);
  writeFileSync(join(mediaRoot, 'a.wav'), 'RIFF-a');
  writeFileSync(join(mediaRoot, 'b.wav'), 'RIFF-b');
  const config = Value.Default(RenderConfig, { mediaRoot, outputRoot, ...over }) as RenderConfig;
  const queue = new JobQueue({ stateDir: join(root, 'state') });
  const registry = new Registry();
  const log = pino({ level: 'silent' });
  const scheduler: RenderScheduler = new RenderScheduler({
    queue,
    loadRunner: async () => run,
    deps: { log } as unknown as RenderDeps,
    concurrency: config.concurrency,
    progressIntervalMs: 0,
    log,
    events: createEventBus(),
    throttle: new GpuThrottle(),
    ...(api.gpus ? { loadHint: { gpus: api.gpus.filter((g) => typeof g === 'number'), watts: 0, seconds: 0 }, devices: [...api.gpus] } : {}),
    metrics: createRenderMetrics(registry, { counts: () => queue.counts(), fps: () => scheduler.runningFps() }),
  });
  const { access, ...apiOpts } = api;
  const app = await buildApp({
    registry,
    ...(access ? { access } : {}),
    notReady: () => [],
    plugins: [
      rendersApi({
        scheduler,
        config,
        uploadRoot: join(root, 'state', 'uploads'),
        networks: () => [
          { id: 'demo-64', state: 'loaded' },
          { id: 'broken', state: 'invalid', error: 'sidecar does not match the ONNX graph' },
        ],
        ...apiOpts,
      }),
    ],
  });
  scheduler.start();
  return {
    app,
    scheduler,
    queue,
    registry,
    root,
    mediaRoot,
    outputRoot,
    uploadRoot: join(root, 'state', 'uploads'),
    async close() {
      await scheduler.stop();
      await app.close();
      queue.close();
    },
  };
}

/** A multipart/form-data body by hand, so the test controls every byte. */
export function multipartBody(parts: Array<{ name: string; value: string | Buffer; filename?: string }>) {
  const boundary = '----gance-test-boundary';
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disp = `form-data; name="${p.name}"${p.filename ? `; filename="${p.filename}"` : ''}`;
    const type = p.filename ? 'Content-Type: application/octet-stream\r\n' : '';
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disp}\r\n${type}\r\n`), Buffer.from(p.value), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { payload: Buffer.concat(chunks), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}
