/**
 * A render that can only fail as bad-input is refused at the door (422 naming the field), with the
 * real network catalogue and real ffprobe, instead of a 202 and a job that fails a moment later.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config/load.ts';
import { limitAdmission, renderAdmission } from '../../src/render/admit.ts';
import { checkAudio } from '../../src/render/preflight.ts';
import { RenderFailure } from '../../src/render/types.ts';
import type { RenderJobView } from '../../src/render/view.ts';
import { BUNDLED_NETWORKS_DIR, NetworkCatalogue } from '../../src/synthesis/networks/catalogue.ts';
import { writeProjectionFile } from '../helpers/projection.ts';
import { tempDir, tone, writeWav } from '../audio/wav.ts';
import { W_NET_ROWS, writeWIndexNetwork } from './helpers.ts';
import { multipartBody, rendersApp } from './api-setup.ts';
import { fakeRunner } from './fake-runner.ts';
import { until } from './job-helpers.ts';

const apps: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const a of apps.splice(0)) await a.close();
});

async function setup() {
  const catalogue = new NetworkCatalogue({ dirs: [], bundledDir: BUNDLED_NETWORKS_DIR, log: pino({ level: 'silent' }) });
  const admit = renderAdmission({ catalogue, latents: loadConfigFile().synthesis.latents });
  const s = await rendersApp(fakeRunner({ frames: 4, batch: 4 }), {}, { admit });
  apps.push(s);
  writeWav(join(s.mediaRoot, 'tone.wav'), 22050, 1, tone(22050, 0.5, [440]));
  writeWav(join(s.mediaRoot, 'tone-44k.wav'), 44100, 1, tone(44100, 0.5, [440]));
  writeFileSync(join(s.mediaRoot, 'empty.wav'), '');
  writeFileSync(join(s.mediaRoot, 'text.wav'), 'hello, not audio\n');
  writeWav(join(s.mediaRoot, 'silent.wav'), 22050, 2, new Int16Array(2 * 22050));
  // a float file whose loudest sample is below one 16-bit step (-96 dBFS): nothing a 16-bit file could hold either
  writeWav(join(s.mediaRoot, 'hiss.wav'), 22050, 1, new Float32Array(22050).map((_, i) => (i % 2 ? 1 : -1) * 2 ** -16));
  return s;
}

type Setup = Awaited<ReturnType<typeof setup>>;

/** Each payload gets a 422 whose message matches, without the daemon's own paths, and nothing is queued. */
async function expectRefused(s: Setup, cases: Array<[Record<string, unknown>, RegExp]>): Promise<void> {
  for (const [payload, message] of cases) {
    const res = await s.app.inject({ method: 'POST', url: '/v1/renders', payload });
    expect({ payload, code: res.statusCode }).toEqual({ payload, code: 422 });
    expect(res.json().message).toMatch(message);
    expect(res.json().message).not.toContain(s.mediaRoot);
  }
  expect(s.queue.list({ limit: 50 })).toEqual([]);
}

/** Digital silence through ffmpeg's own generator, as a client would make it. */
function anullsrc(path: string, rate: number, seconds: number): void {
  const r = spawnSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', `anullsrc=r=${rate}:cl=stereo`, '-t', String(seconds), path]);
  if (r.status !== 0) throw new Error(`ffmpeg anullsrc: ${r.stderr.toString()}`);
}

describe('render admission under a burst', () => {
  it('checks at most `atOnce` renders at a time with `waiting` more in line; one past that is 429 with Retry-After at once, and the others are queued', async () => {
    let arrived!: () => void;
    let inside = 0;
    let most = 0;
    const two = new Promise<void>((resolve) => (arrived = resolve));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const admit = limitAdmission(
      async () => {
        most = Math.max(most, ++inside);
        if (inside === 2) arrived();
        await gate;
        inside--;
      },
      { atOnce: 2, waiting: 1 },
    );
    const s = await rendersApp(fakeRunner({ frames: 4, batch: 4 }), {}, { admit });
    apps.push(s);
    writeWav(join(s.mediaRoot, 'tone.wav'), 22050, 1, tone(22050, 0.5, [440]));
    const posts = Array.from({ length: 4 }, () => s.app.inject({ method: 'POST', url: '/v1/renders', payload: { audio: ['tone.wav'], networks: ['demo-64'] } }));
    await two;
    // two checking, one waiting: the fourth, whichever it is, is answered while the others are held
    const refused = await Promise.race(posts);
    expect(refused.statusCode).toBe(429);
    expect(refused.headers['retry-after']).toBe('5');
    expect(refused.json().message).toBe('body: 3 renders are being checked before they are queued (at most 2 at once and 1 waiting); send it again in a moment');
    expect({ running: admit.running(), waiting: admit.waiting() }).toEqual({ running: 2, waiting: 1 });
    release();
    const codes = (await Promise.all(posts)).map((r) => r.statusCode).sort();
    expect(codes).toEqual([202, 202, 202, 429]);
    expect(most).toBe(2);
    expect({ running: admit.running(), waiting: admit.waiting() }).toEqual({ running: 0, waiting: 0 });
    expect(s.queue.list({ limit: 10 })).toHaveLength(3);
  });

  it('a check that fails hands its turn on', async () => {
    const admit = limitAdmission(async (spec) => {
      if (spec.output.path.endsWith('bad.mp4')) throw new Error('probe failed');
    }, { atOnce: 1, waiting: 0 });
    const spec = (path: string) => ({ output: { path } }) as Parameters<typeof admit>[0];
    await expect(admit(spec('/o/bad.mp4'), { audio: [] })).rejects.toThrow('probe failed');
    await expect(admit(spec('/o/good.mp4'), { audio: [] })).resolves.toBeUndefined();
    expect(admit.running()).toBe(0);
  });
});

describe('render admission', () => {
  it('refuses an output size over 4x the network, an empty file, a non-audio file and files of two sample rates with 422 naming the field; queues nothing; renders on', async () => {
    const s = await setup();
    const post = (payload: Record<string, unknown>) => s.app.inject({ method: 'POST', url: '/v1/renders', payload });
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ audio: ['tone.wav'], networks: ['demo-64'], output: { size: 258 } }, /^body\/output\/size: output size 258: more than 4x the network's 64 px \(at most 256\)/],
      [{ audio: ['tone.wav', 'empty.wav'], networks: ['demo-64'] }, /^body\/audio\/1: "empty.wav" is not usable audio \(not a readable audio file/],
      [{ audio: ['text.wav'], networks: ['demo-64'] }, /^body\/audio\/0: "text.wav" is not usable audio/],
      [{ audio: ['tone.wav', 'tone-44k.wav'], networks: ['demo-64'] }, /^body\/audio\/1: "tone-44k.wav" is 44100 Hz, "tone.wav" 22050 Hz: files joined in one render must share one sample rate$/],
      // the projection file by the client's name, not the daemon's path of it
      [{ audio: ['tone.wav'], networks: ['demo-64'], latents: { projectionFile: 'tone.wav' } }, /^body\/latents: projection file "tone.wav": a projection blend makes w latents, but network "demo-64" takes z/],
    ];
    await expectRefused(s, cases);
    // the mode without the file: the missing field by its name, not a projection file "(none)"
    const none = await post({ audio: ['tone.wav'], networks: ['demo-64'], latents: { mode: 'projection-file-blend' } });
    expect(none.json()).toMatchObject({ statusCode: 400, message: expect.stringMatching(/^body\/latents\/projectionFile: is required when latents\.mode is "projection-file-blend" .*; none was given$/) });
    const ok = await post({ audio: ['tone.wav'], networks: ['demo-64'], output: { size: 256 } });
    expect(ok.statusCode).toBe(202);
    await until(s.scheduler, ok.json<RenderJobView>().id, (j) => j.state === 'done');
  });

  it('refuses a track too short for the analysis (under 7 video frames) with 422 naming it, at the render\'s fps; one just long enough is queued', async () => {
    const s = await setup();
    writeWav(join(s.mediaRoot, 'blip.wav'), 22050, 1, tone(22050, 0.005, [440]));
    writeWav(join(s.mediaRoot, 'eighth.wav'), 22050, 1, tone(22050, 0.125, [440]));
    await expectRefused(s, [
      [{ audio: ['blip.wav'], networks: ['demo-64'] }, /^body\/audio\/0: "blip.wav" is 0\.005 s: too short for the analysis, which needs at least 7 video frames \(about 0\.117 s at 60 fps\)$/],
      [{ audio: ['blip.wav', 'blip.wav'], networks: ['demo-64'] }, /^body\/audio: "blip.wav" \+ "blip.wav" are 0\.010 s: too short for the analysis/],
      // 0.125 s is 7.5 frames at 60 fps, 3.75 at 30
      [{ audio: ['eighth.wav'], networks: ['demo-64'], latents: { fps: 30 } }, /^body\/audio\/0: "eighth.wav" is 0\.125 s: too short for the analysis, which needs at least 7 video frames \(about 0\.233 s at 30 fps\)$/],
    ]);
    const ok = await s.app.inject({ method: 'POST', url: '/v1/renders', payload: { audio: ['eighth.wav'], networks: ['demo-64'] } });
    expect(ok.statusCode, ok.body).toBe(202);
  });

  it('refuses silent audio with 422 naming the audio and why (peak below -90.3 dBFS, one 16-bit step); a silent file joined to one with sound is queued', async () => {
    const s = await setup();
    anullsrc(join(s.mediaRoot, 'nothing.flac'), 22050, 1);
    const post = (payload: Record<string, unknown>) => s.app.inject({ method: 'POST', url: '/v1/renders', payload });
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ audio: ['silent.wav'], networks: ['demo-64'] }, /^body\/audio\/0: audio is silent: "silent.wav" has only zero samples \(below -90.3 dBFS, one 16-bit step\): nothing for the video to react to$/],
      [{ audio: ['nothing.flac'], networks: ['demo-64'] }, /^body\/audio\/0: audio is silent: "nothing.flac" has only zero samples/],
      [{ audio: ['hiss.wav'], networks: ['demo-64'] }, /^body\/audio\/0: audio is silent: "hiss.wav" peaks at -96.3 dBFS \(below -90.3 dBFS, one 16-bit step\)/],
      [{ audio: ['silent.wav', 'hiss.wav'], networks: ['demo-64'] }, /^body\/audio: audio is silent: "silent.wav" \+ "hiss.wav" peak at -96.3 dBFS \(below -90.3 dBFS/],
    ];
    await expectRefused(s, cases);
    // a silent intro before the music is a track with something to react to
    const joined = await post({ audio: ['silent.wav', 'tone.wav'], networks: ['demo-64'] });
    expect(joined.statusCode).toBe(202);
    await until(s.scheduler, joined.json<RenderJobView>().id, (j) => j.state === 'done');
  });

  it('refuses a track too sparse for the analysis (one faint click in silence) with the same 422, at the render\'s fps', async () => {
    const s = await setup();
    const x = new Float32Array(22050 * 20);
    x[22050 * 12] = 2 ** -11; // a peak at -66 dBFS, twelve seconds in
    writeWav(join(s.mediaRoot, 'click.wav'), 22050, 1, x);
    await expectRefused(s, [
      [
        { audio: ['click.wav'], networks: ['demo-64'], latents: { fps: 30 } },
        /^body\/audio\/0: audio is silent: "click.wav" peaks at -66\.2 dBFS, but its loudest video frame \(1\/30 s\) is at -\d+\.\d dBFS RMS \(below -90\.3 dBFS, one 16-bit step\): too sparse for the video to react to$/,
      ],
      [{ audio: ['silent.wav', 'click.wav'], networks: ['demo-64'] }, /^body\/audio: audio is silent: "silent.wav" \+ "click.wav" peak at -66\.2 dBFS, but their loudest video frame \(1\/60 s\)/],
    ]);
  });

  it('reads at most scanSeconds of a track at the door: a longer silent one is queued, and the job\'s preflight refuses it with the same reason', async () => {
    const catalogue = new NetworkCatalogue({ dirs: [], bundledDir: BUNDLED_NETWORKS_DIR, log: pino({ level: 'silent' }) });
    const latents = loadConfigFile().synthesis.latents;
    const s = await rendersApp(fakeRunner({ frames: 4, batch: 4 }), {}, { admit: renderAdmission({ catalogue, latents, scanSeconds: 2 }) });
    apps.push(s);
    anullsrc(join(s.mediaRoot, 'short.wav'), 22050, 1.5);
    anullsrc(join(s.mediaRoot, 'long.wav'), 22050, 5);
    await expectRefused(s, [[{ audio: ['short.wav'], networks: ['demo-64'] }, /^body\/audio\/0: audio is silent: "short.wav" has only zero samples/]]);
    const res = await s.app.inject({ method: 'POST', url: '/v1/renders', payload: { audio: ['long.wav'], networks: ['demo-64'] } });
    expect(res.statusCode).toBe(202);
    const err = await checkAudio([join(s.mediaRoot, 'long.wav')], { fps: latents.fps, vectorLength: latents.vectorLength }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RenderFailure);
    expect(err).toMatchObject({ reason: 'bad-input' });
    expect((err as Error).message).toMatch(/^audio is silent: .*long\.wav has only zero samples \(below -90\.3 dBFS, one 16-bit step\)/);
  });

  it('refuses a silent upload (422 naming the part by its file name) and keeps nothing of it', async () => {
    const s = await setup();
    const file = join(s.root, 'quiet.wav');
    anullsrc(file, 44100, 2);
    const res = await s.app.inject({
      method: 'POST',
      url: '/v1/renders',
      ...multipartBody([
        { name: 'spec', value: JSON.stringify({ networks: ['demo-64'] }) },
        { name: 'audio', value: readFileSync(file), filename: 'quiet.wav' },
      ]),
    });
    expect(res.statusCode).toBe(422);
    expect(res.json().message).toMatch(/^body\/audio\/0: audio is silent: "quiet.wav" has only zero samples/);
    expect(res.json().message).not.toContain(s.uploadRoot);
    expect(readdirSync(s.uploadRoot)).toEqual([]);
    expect(s.queue.list({ limit: 50 })).toEqual([]);
  });

  it('refuses an uploaded file that is not audio (422 naming the part by its file name, not the daemon path) and keeps nothing of it', async () => {
    const s = await setup();
    const res = await s.app.inject({
      method: 'POST',
      url: '/v1/renders',
      ...multipartBody([
        { name: 'spec', value: JSON.stringify({ networks: ['demo-64'] }) },
        { name: 'audio', value: '', filename: 'empty.wav' },
      ]),
    });
    expect(res.statusCode).toBe(422);
    expect(res.json().message).toMatch(/^body\/audio\/0: "empty.wav" is not usable audio/);
    expect(res.json().message).not.toContain(s.uploadRoot);
    expect(readdirSync(s.uploadRoot)).toEqual([]);
    expect(s.queue.list({ limit: 50 })).toEqual([]);
  });
});

describe('render admission of a projection file', () => {
  const projection = (path: string, rows: number, count: number) => writeProjectionFile(path, rows, count, (i) => new Float32Array(rows * 512).fill(i / 10));

  it('refuses an empty, damaged, misfit or too short projection file with 422 naming it by the client\'s name; a good one is queued', async () => {
    const nets = tempDir('gance-admit-nets-');
    writeWIndexNetwork(nets, 'w-index');
    const catalogue = new NetworkCatalogue({ dirs: [nets], log: pino({ level: 'silent' }) });
    const admit = renderAdmission({ catalogue, latents: loadConfigFile().synthesis.latents });
    const s = await rendersApp(fakeRunner({ frames: 4, batch: 4 }), {}, { admit, networks: () => [{ id: 'w-index', state: 'available' }] });
    apps.push(s);
    writeWav(join(s.mediaRoot, 'tone.wav'), 22050, 1, tone(22050, 2, [440]));
    mkdirSync(join(s.mediaRoot, 'p'));
    await projection(join(s.mediaRoot, 'p', 'empty.h5'), W_NET_ROWS, 0);
    await projection(join(s.mediaRoot, 'p', 'misfit.h5'), W_NET_ROWS + 2, 4);
    // 2 latents at 2 projected frames a second, rendered at 2 fps: 2 video frames
    await projection(join(s.mediaRoot, 'p', 'short.h5'), W_NET_ROWS, 2);
    await projection(join(s.mediaRoot, 'p', 'good.h5'), W_NET_ROWS, 4);
    writeFileSync(join(s.mediaRoot, 'p', 'garbage.h5'), 'not hdf5 at all');
    const body = (projectionFile: string, fps = 24) => ({ audio: ['tone.wav'], networks: ['w-index'], latents: { fps, projectionFile, blendDepth: 2 } });
    await expectRefused(s, [
      [body('p/empty.h5'), /^body\/latents\/projectionFile: "p\/empty\.h5": projection file holds no final latents$/],
      [body('p/garbage.h5'), /^body\/latents\/projectionFile: "p\/garbage\.h5": not an HDF5 file/],
      [body('p/misfit.h5'), /^body\/latents\/projectionFile: "p\/misfit\.h5": latents have 6 w rows but the network takes 4/],
      [body('p/short.h5', 2), /^body\/latents\/projectionFile: "p\/short\.h5": 2 projection latents at 2 fps give 2 video frames; GANce's smoothing needs at least 7$/],
    ]);
    const ok = await s.app.inject({ method: 'POST', url: '/v1/renders', payload: body('p/good.h5') });
    expect(ok.statusCode).toBe(202);
    await until(s.scheduler, ok.json<RenderJobView>().id, (j) => j.state === 'done');
  });
});
