/**
 * The operator's pause through the whole daemon (embedded config, a CPU synthesis worker on GPU 0,
 * the real render pipeline, /v1/renders in-process): a render paused by PATCH holds in its
 * rendering stage; while thermal yielding pauses the GPU too (its layer set as its controller
 * sets it) the operator's resume is kept but does not release the render; once yielding lets go
 * the render finishes with every frame in its mp4.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { loadConfigFile } from '../../src/config/load.ts';
import { createDaemon, type Daemon } from '../../src/daemon.ts';
import type { RenderGpuView } from '../../src/render/gpus.ts';
import type { RenderJobView } from '../../src/render/view.ts';
import { tempDir, tone, writeWav } from '../audio/wav.ts';

let daemon: Daemon | undefined;
afterAll(async () => daemon?.stop());

describe('render GPU pause in the daemon', () => {
  it('PATCH /v1/renders/gpus/0 holds a real render; under a yield pause the resume waits for the yield to lift', { timeout: 180_000 }, async () => {
    const root = tempDir('gance-render-gpus-');
    mkdirSync(join(root, 'media'));
    writeWav(join(root, 'media', 'short.wav'), 22050, 1, tone(22050, 1, [220, 330]));
    const config = loadConfigFile();
    config.server.port = 0;
    config.stateDir = join(root, 'state');
    config.synthesis.workers = [{ ...config.synthesis.workers[0]!, gpu: 0, intraOpThreads: 1 }];
    config.synthesis.latents.analysisThreads = 1;
    config.render.mediaRoot = join(root, 'media');
    config.render.outputRoot = join(root, 'out');
    config.render.progressIntervalMs = 0;
    daemon = await createDaemon({ config, log: pino({ level: 'silent' }) });
    const d = daemon;
    await d.start();
    await vi.waitFor(() => expect(d.supervisor.notReady()).toEqual([]), { timeout: 60_000, interval: 50 });
    const throttle = d.services.get('renders').throttle;
    const holds: string[] = [];
    throttle.onHold((h) => holds.push(h.reason));
    const patch = async (body: unknown) => {
      const r = await d.app.inject({ method: 'PATCH', url: '/v1/renders/gpus/0', payload: body as Record<string, unknown> });
      expect(r.statusCode, r.body).toBe(200);
      return r.json<RenderGpuView>();
    };
    const job = async (id: string) => (await d.app.inject(`/v1/renders/${id}`)).json<RenderJobView>();

    expect((await d.app.inject('/v1/renders/gpus')).json()).toEqual({ gpus: [{ gpu: 0, paused: false, maxFps: null, maxFpsFrom: null, reason: null, operator: { paused: false, maxFps: null }, yield: null }] });
    expect((await d.app.inject({ method: 'PATCH', url: '/v1/renders/gpus/1', payload: { paused: true } })).statusCode).toBe(404);
    await patch({ paused: true, reason: 'soundcheck' });
    const r = await d.app.inject({ method: 'POST', url: '/v1/renders', payload: { audio: ['short.wav'], networks: ['demo-64'], latents: { fps: 12 }, output: { path: 'a.mp4', preset: 'ultrafast' } } });
    expect(r.statusCode, r.body).toBe(202);
    const id = r.json<RenderJobView>().id;
    await vi.waitFor(() => expect(holds).toContain('gpu 0: soundcheck'), { timeout: 120_000, interval: 50 });
    await vi.waitFor(async () => expect((await job(id)).stage).toBe('rendering'), { timeout: 10_000, interval: 20 });
    expect(await job(id)).toMatchObject({ state: 'running', framesDone: 0 });

    // yielding pauses GPU 0 as well; the operator's resume is kept, and the render is held again by yielding
    throttle.setYield(0, { paused: true, fps: null }, 'thermal yield (test)');
    const held = holds.length;
    expect(await patch({ paused: false })).toMatchObject({ paused: true, reason: 'thermal yield (test)', operator: { paused: false }, yield: { paused: true } });
    await vi.waitFor(() => expect(holds.slice(held)).toContain('gpu 0: thermal yield (test)'), { timeout: 10_000, interval: 20 });
    expect(await job(id)).toMatchObject({ state: 'running', framesDone: 0 });

    throttle.setYield(0, null);
    await vi.waitFor(async () => expect((await job(id)).state).toBe('done'), { timeout: 120_000, interval: 100 });
    const done = await job(id);
    const frames = spawnSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', join(root, 'out', done.output!)], { encoding: 'utf8' }).stdout.trim();
    expect(frames).toBe(String(done.framesTotal));
    expect(done.framesTotal).toBe(12);
  });
});
