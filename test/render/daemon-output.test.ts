/**
 * What happens at a render's output while it runs (the whole daemon, embedded config, a CPU
 * synthesis worker, real ffmpeg, /v1/renders in-process). Its name taken: the file put there
 * stays, the job fails naming it, and its finished video, kept beside it under another name, is
 * the job's `output` and is served by GET /v1/renders/{id}/output (Range requests too), not left
 * unreachable on the daemon. Its folder removed: the job fails as bad-input saying so.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfigFile } from '../../src/config/load.ts';
import { createDaemon, type Daemon } from '../../src/daemon.ts';
import type { RenderJobView } from '../../src/render/view.ts';
import { tempDir, tone, writeWav } from '../audio/wav.ts';
import { spawnCli } from '../helpers/daemon-process.ts';

let daemon: Daemon;
let root: string;
let address: string;
afterAll(async () => daemon?.stop());

beforeAll(async () => {
  root = tempDir('gance-render-output-');
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
  daemon = await createDaemon({ config, log: pino({ level: 'silent' }), onListening: (a) => (address = a) });
  await daemon.start();
  await vi.waitFor(() => expect(daemon.supervisor.notReady()).toEqual([]), { timeout: 60_000, interval: 50 });
}, 120_000);

/** Submits a render of short.wav to `path`; `onRendering` runs once, as the render enters its rendering stage. Resolves with the job once it has ended. */
async function renderTo(path: string, onRendering: () => void): Promise<RenderJobView> {
  const d = daemon;
  let once = false;
  const scheduler = d.services.get('renders').scheduler;
  const listener = (j: { stage: string }) => {
    if (j.stage !== 'rendering' || once) return;
    once = true;
    onRendering();
  };
  scheduler.on('job', listener);
  try {
    const r = await d.app.inject({ method: 'POST', url: '/v1/renders', payload: { audio: ['short.wav'], networks: ['demo-64'], latents: { fps: 12 }, output: { path, preset: 'ultrafast' } } });
    expect(r.statusCode, r.body).toBe(202);
    const id = r.json<RenderJobView>().id;
    const job = async () => (await d.app.inject(`/v1/renders/${id}`)).json<RenderJobView>();
    await vi.waitFor(async () => expect((await job()).state).not.toMatch(/^(queued|running)$/), { timeout: 120_000, interval: 100 });
    return await job();
  } finally {
    scheduler.off('job', listener);
  }
}

describe('a render whose output changes under it', () => {
  it('its name taken while it ran: fails naming it, leaves it as it was, and serves its finished video kept under another name', { timeout: 180_000 }, async () => {
    const d = daemon;
    const target = join(root, 'out', 'song.mp4');
    // someone writes the output name once the render is under way (it was free when submitted)
    const failed = await renderTo('song.mp4', () => writeFileSync(target, 'not a render', { flag: 'wx' }));
    const id = failed.id;
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

describe('gance render --remote, the daemon\'s output name taken while it rendered', () => {
  it('downloads the kept video beside --out (not at it), says where, and exits non-zero', { timeout: 180_000 }, async () => {
    const scheduler = daemon.services.get('renders').scheduler;
    // the remote render's output on the daemon is ID.mp4: someone writes that name once it renders
    let taken: string | null = null;
    const listener = (j: { stage: string; spec: { output: { path: string } } }) => {
      if (j.stage !== 'rendering' || taken !== null) return;
      taken = j.spec.output.path;
      writeFileSync(taken, 'not a render', { flag: 'wx' });
    };
    scheduler.on('job', listener);
    const local = join(root, 'cli');
    mkdirSync(local);
    const out = join(local, 'song.mp4');
    try {
      const cli = spawnCli(['render', join(root, 'media', 'short.wav'), '--out', out, '--network', 'demo-64', '--fps', '12', '--preset', 'ultrafast', '--remote', address, '--no-progress']);
      const { code } = await cli.exited;
      expect(code).toBe(1);
      const id = /render ([0-9a-f]+) queued/.exec(cli.stderr)![1]!;
      const job = (await daemon.app.inject(`/v1/renders/${id}`)).json<RenderJobView>();
      expect(job).toMatchObject({ state: 'failed', reason: 'bad-input', output: expect.stringMatching(/\.kept-[0-9a-f]{8}\.mp4$/) });
      // --out stays free (the render failed); the video is beside it under a kept name, the daemon's bytes
      expect(existsSync(out)).toBe(false);
      const kept = readdirSync(local).filter((n) => /^song\.kept-[0-9a-f]{8}\.mp4$/.test(n));
      expect(readdirSync(local)).toEqual(kept);
      expect(kept).toHaveLength(1);
      expect(readFileSync(join(local, kept[0]!)).equals(readFileSync(join(root, 'out', job.output!)))).toBe(true);
      const frames = spawnSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', join(local, kept[0]!)], { encoding: 'utf8' }).stdout.trim();
      expect(frames).toBe(String(job.framesTotal));
      expect(cli.stderr).toMatch(new RegExp(`^gance: render ${id} failed \\(bad-input\\): .*something was put there while the render ran.*; its finished video was downloaded beside --out as ${join(local, kept[0]!).replace(/[.]/g, '\\.')}\n$`, 'm'));
      expect(readFileSync(taken!, 'utf8')).toBe('not a render');
    } finally {
      scheduler.off('job', listener);
    }
  });
});

describe('a render whose output folder is removed while it runs', () => {
  it('fails as bad-input saying the folder is no longer there, not as an internal error', { timeout: 180_000 }, async () => {
    mkdirSync(join(root, 'out', 'set'), { recursive: true });
    const failed = await renderTo('set/song.mp4', () => rmSync(join(root, 'out', 'set'), { recursive: true }));
    expect(failed).toMatchObject({ state: 'failed', reason: 'bad-input', output: null, outputUrl: null });
    expect(failed.error).toBe('output folder set: is no longer there (removed while the render ran)');
  });
});
