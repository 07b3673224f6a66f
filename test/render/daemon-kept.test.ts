/**
 * A render whose output name was taken while it ran (the whole daemon, embedded config, a CPU
 * synthesis worker, real ffmpeg, /v1/renders in-process): the file put there stays, the job fails
 * naming it, and its finished video, kept beside it under another name, is the job's `output` and
 * is served by GET /v1/renders/{id}/output (Range requests too), not left unreachable on the daemon.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { loadConfigFile } from '../../src/config/load.ts';
import { createDaemon, type Daemon } from '../../src/daemon.ts';
import type { RenderJobView } from '../../src/render/view.ts';
import { tempDir, tone, writeWav } from '../audio/wav.ts';

let daemon: Daemon | undefined;
afterAll(async () => daemon?.stop());

describe('a render whose output name was taken while it ran', () => {
  it('fails naming it, leaves it as it was, and serves its finished video kept under another name', { timeout: 180_000 }, async () => {
    const root = tempDir('gance-render-kept-');
    mkdirSync(join(root, 'media'));
    writeWav(join(root, 'media', 'short.wav'), 22050, 1, tone(22050, 1, [220, 330]));
    const config = loadConfigFile();
    config.server.port = 0;
    config.stateDir = join(root, 'state');
    config.synthesis.workers = [{ ...config.synthesis.workers[0]!, intraOpThreads: 1 }];
    config.synthesis.latents.analysisThreads = 1;
    config.render.mediaRoot = join(root, 'media');
    config.render.outputRoot = join(root, 'out');
    config.render.progressIntervalMs = 0;
    daemon = await createDaemon({ config, log: pino({ level: 'silent' }) });
    const d = daemon;
    await d.start();
    await vi.waitFor(() => expect(d.supervisor.notReady()).toEqual([]), { timeout: 60_000, interval: 50 });

    const target = join(root, 'out', 'song.mp4');
    // someone writes the output name once the render is under way (it was free when submitted)
    let written = false;
    d.services.get('renders').scheduler.on('job', (j) => {
      if (j.stage !== 'rendering' || written) return;
      written = true;
      writeFileSync(target, 'not a render', { flag: 'wx' });
    });
    const r = await d.app.inject({ method: 'POST', url: '/v1/renders', payload: { audio: ['short.wav'], networks: ['demo-64'], latents: { fps: 12 }, output: { path: 'song.mp4', preset: 'ultrafast' } } });
    expect(r.statusCode, r.body).toBe(202);
    const id = r.json<RenderJobView>().id;
    const job = async () => (await d.app.inject(`/v1/renders/${id}`)).json<RenderJobView>();
    await vi.waitFor(async () => expect((await job()).state).not.toMatch(/^(queued|running)$/), { timeout: 120_000, interval: 100 });

    const failed = await job();
    expect(failed).toMatchObject({ state: 'failed', reason: 'bad-input' });
    expect(readFileSync(target, 'utf8')).toBe('not a render');
    expect(failed.output).toMatch(/^song\.kept-[0-9a-f]{8}\.mp4$/);
    expect(failed.error).toContain(`output song.mp4: something was put there while the render ran; it was left as it is and the finished video was kept as ${failed.output}`);
    expect(failed.outputUrl).toBe(`/v1/renders/${id}/output`);

    const kept = join(root, 'out', failed.output!);
    const whole = await d.app.inject(failed.outputUrl!);
    expect(whole.statusCode).toBe(200);
    expect(whole.headers['content-type']).toBe('video/mp4');
    expect(whole.rawPayload.equals(readFileSync(kept))).toBe(true);
    const frames = spawnSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', kept], { encoding: 'utf8' }).stdout.trim();
    expect(frames).toBe(String(failed.framesTotal));
    const part = await d.app.inject({ url: failed.outputUrl!, headers: { range: 'bytes=0-99' } });
    expect(part.statusCode).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes 0-99/${statSync(kept).size}`);
    // the one in the list says the same
    const listed = (await d.app.inject('/v1/renders')).json<{ renders: RenderJobView[] }>().renders.find((j) => j.id === id);
    expect(listed).toMatchObject({ output: failed.output, outputUrl: failed.outputUrl });
  });
});
