/**
 * Networks a render loads go when it ends, through the whole daemon (embedded config, CPU worker,
 * the real render pipeline, /v1/renders, /v1/networks and /v1/live in-process): a network only a
 * render asked for is unloaded once the render is done or cancelled; one the operator loaded, one
 * a live session uses and one another render still holds stay (the session's until it ends); a held network cannot be unloaded
 * by hand, and one hot-swapped away while a render draws with it goes when the render ends. The first render also writes a debug video, served by GET /v1/renders/{id}/debug.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { loadConfigFile } from '../../src/config/load.ts';
import { createDaemon, type Daemon } from '../../src/daemon.ts';
import type { RenderJobView } from '../../src/render/view.ts';
import type { NetworkView } from '../../src/synthesis/networks/manager.ts';
import { tempDir, tone, writeWav } from '../audio/wav.ts';
import { seededNetwork } from '../live/helpers.ts';

let daemon: Daemon | undefined;
afterAll(async () => daemon?.stop());

describe('render networks in the daemon', () => {
  it('unloads what a render loaded when it ends, unless the operator, a live session or another render uses it', { timeout: 300_000 }, async () => {
    const root = tempDir('gance-render-nets-');
    const nets = join(root, 'nets');
    mkdirSync(nets);
    for (const [id, seed] of [['other-a', 11], ['other-b', 12], ['other-c', 13]] as const) seededNetwork(nets, id, seed);
    mkdirSync(join(root, 'media'));
    writeWav(join(root, 'media', 'short.wav'), 22050, 1, tone(22050, 1, [220, 330]));
    writeWav(join(root, 'media', 'long.wav'), 22050, 1, tone(22050, 8, [220, 330]));
    const config = loadConfigFile();
    config.server.port = 0;
    config.stateDir = join(root, 'state');
    config.synthesis.workers = [{ ...config.synthesis.workers[0]!, gpu: 0, intraOpThreads: 1 }];
    config.synthesis.networks.dirs = [nets];
    config.synthesis.latents.analysisThreads = 1;
    config.render.mediaRoot = join(root, 'media');
    config.render.outputRoot = join(root, 'out');
    config.render.concurrency = 2;
    config.render.progressIntervalMs = 0;
    daemon = await createDaemon({ config, log: pino({ level: 'silent' }) });
    const d = daemon;
    await d.start();
    await vi.waitFor(() => expect(d.supervisor.notReady()).toEqual([]), { timeout: 60_000, interval: 50 });
    const inject = async (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown) => {
      const r = await d.app.inject({ method, url, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
      return { status: r.statusCode, body: r.json<Record<string, unknown>>() };
    };
    const state = async (id: string) => ((await inject('GET', '/v1/networks')).body.networks as NetworkView[]).find((n) => n.id === id)!.state;
    const job = async (id: string) => (await inject('GET', `/v1/renders/${id}`)).body as unknown as RenderJobView;
    const waitJob = (id: string, pred: (j: RenderJobView) => boolean) => vi.waitFor(async () => expect(pred(await job(id)), JSON.stringify(await job(id))).toBe(true), { timeout: 120_000, interval: 100 });
    const render = async (network: string, name: string, extra: Record<string, unknown> = {}, audio = 'short.wav') => {
      const r = await inject('POST', '/v1/renders', { audio: [audio], networks: [network], latents: { fps: 12 }, output: { path: name, preset: 'ultrafast', ...extra } });
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      return r.body.id as string;
    };
    const throttle = d.services.get('renders').throttle;

    expect(await state('demo-64')).toBe('loaded');
    expect(await state('other-a')).toBe('available');

    // 1. only this render asks for other-a: loaded for it, held while it runs, unloaded once it is done
    throttle.pause(0, 'test holds the render');
    const one = await render('other-a', 'one.mp4', { debugPath: 'one.debug.mp4' });
    await waitJob(one, (j) => j.stage === 'rendering');
    expect(await state('other-a')).toBe('loaded');
    const held = await inject('POST', '/v1/networks/other-a/unload');
    expect(held.status).toBe(409);
    expect(held.body.message).toMatch(/network "other-a" is in use by render one\.mp4#[0-9a-f]+; unload it once they have finished/);
    throttle.resume(0);
    await waitJob(one, (j) => j.state === 'done');
    expect(await state('other-a')).toBe('available');
    expect(await state('demo-64')).toBe('loaded');
    // its debug video, downloaded: the output's frames
    const done = await job(one);
    expect(done.debugUrl).toBe(`/v1/renders/${one}/debug`);
    const dl = await d.app.inject(done.debugUrl!);
    expect(dl.statusCode).toBe(200);
    const file = join(root, 'downloaded.debug.mp4');
    writeFileSync(file, dl.rawPayload);
    const count = (f: string) => spawnSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', f], { encoding: 'utf8' }).stdout.trim();
    expect(count(file)).toBe(String(done.framesTotal));
    expect(count(join(root, 'out', done.output!))).toBe(String(done.framesTotal));

    // 2. loaded by the operator before the render: it stays
    expect((await inject('POST', '/v1/networks/other-b/load')).status).toBe(202);
    await vi.waitFor(async () => expect(await state('other-b')).toBe('loaded'), { timeout: 60_000, interval: 50 });
    const two = await render('other-b', 'two.mp4');
    await waitJob(two, (j) => j.state === 'done');
    expect(await state('other-b')).toBe('loaded');

    // 3. loaded for a render, then a live session takes it up while the render runs: it stays
    throttle.pause(0, 'test holds the render');
    const three = await render('other-a', 'three.mp4');
    await waitJob(three, (j) => j.stage === 'rendering');
    const live = await inject('POST', '/v1/live', { audio: { kind: 'file', path: join(root, 'media', 'long.wav') }, networks: ['other-a'] });
    expect(live.status, JSON.stringify(live.body)).toBe(201);
    throttle.resume(0);
    await waitJob(three, (j) => j.state === 'done');
    expect(await state('other-a')).toBe('loaded');
    // the session held it too: loaded for the render, it goes when the session, its last holder, ends
    expect((await inject('DELETE', `/v1/live/${live.body.id as string}`)).status).toBe(200);
    await vi.waitFor(async () => expect(await state('other-a')).toBe('available'), { timeout: 60_000, interval: 50 });

    // 4. two renders hold other-c: the first to end leaves it to the second; the second's cancel lets it go
    throttle.pause(0, 'test holds the renders');
    const four = await render('other-c', 'four.mp4');
    const five = await render('other-c', 'five.mp4', {}, 'long.wav');
    await waitJob(four, (j) => j.stage === 'rendering');
    await waitJob(five, (j) => j.stage === 'rendering');
    throttle.resume(0);
    await waitJob(four, (j) => j.state === 'done');
    expect((await job(five)).state).toBe('running');
    expect(await state('other-c')).toBe('loaded');
    expect((await inject('DELETE', `/v1/renders/${five}`)).status).toBe(200);
    await vi.waitFor(async () => expect(await state('other-c')).toBe('available'), { timeout: 60_000, interval: 50 });
    expect(await state('other-b')).toBe('loaded');
    expect(await state('demo-64')).toBe('loaded');

    // 5. the active network, hot-swapped away while a render draws with it: unloaded when the render ends, not under it
    throttle.pause(0, 'test holds the render');
    const six = await render('demo-64', 'six.mp4');
    await waitJob(six, (j) => j.stage === 'rendering');
    expect((await inject('POST', '/v1/networks/other-b/load?replace=true')).status).toBe(200);
    expect(((await inject('GET', '/v1/networks')).body as { active: string }).active).toBe('other-b');
    expect(await state('demo-64')).toBe('loaded');
    throttle.resume(0);
    await waitJob(six, (j) => j.state === 'done');
    await vi.waitFor(async () => expect(await state('demo-64')).toBe('available'), { timeout: 60_000, interval: 50 });
    expect(await state('other-b')).toBe('loaded');
  });
});
