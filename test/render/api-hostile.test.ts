/** /v1/renders against what a hostile or careless client sends: each is a 4xx naming what is wrong, and the daemon renders on. */
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RenderJobView } from '../../src/render/view.ts';
import { multipartBody, rendersApp } from './api-setup.ts';
import { fakeRunner, Gate } from './fake-runner.ts';
import { tempDir, until } from './job-helpers.ts';

const apps: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const a of apps.splice(0)) await a.close();
});
async function setup(...args: Parameters<typeof rendersApp>) {
  const s = await rendersApp(...args);
  apps.push(s);
  return s;
}
const spec = JSON.stringify({ audio: ['a.wav'], networks: ['demo-64'] });

describe('/v1/renders, hostile input', () => {
  it('a body that is neither JSON nor multipart is 415 naming the content types it takes, never a 500', async () => {
    const s = await setup(fakeRunner({ frames: 4, batch: 4 }));
    for (const type of ['text/plain', 'text/plain; charset=utf-8']) {
      const res = await s.app.inject({ method: 'POST', url: '/v1/renders', headers: { 'content-type': type }, payload: spec });
      expect({ type, code: res.statusCode }).toEqual({ type, code: 415 });
      expect(res.json().message).toMatch(/application\/json or multipart\/form-data/);
    }
    expect((await s.app.inject({ method: 'POST', url: '/v1/renders', headers: { 'content-type': 'application/json' }, payload: spec })).statusCode).toBe(202);
  });

  it('a malformed multipart body is 400 (not 500) and leaves no upload folder behind', async () => {
    const s = await setup(fakeRunner({ frames: 4, batch: 4 }));
    const good = multipartBody([{ name: 'spec', value: JSON.stringify({ networks: ['demo-64'] }) }, { name: 'audio', value: 'RIFF', filename: 'a.wav' }]);
    const bodies: Array<[string, Buffer | string]> = [
      ['multipart/form-data', 'xx'],
      ['multipart/form-data; boundary=zz', 'xx'],
      // cut off in the middle of the file part
      [good.headers['content-type'], good.payload.subarray(0, good.payload.length - 40)],
    ];
    for (const [type, payload] of bodies) {
      const res = await s.app.inject({ method: 'POST', url: '/v1/renders', headers: { 'content-type': type }, payload });
      expect({ type, code: res.statusCode }).toEqual({ type, code: 400 });
      expect(res.json().message).toMatch(/^body: malformed multipart\/form-data/);
    }
    expect(readdirSync(s.uploadRoot)).toEqual([]);
    expect(s.queue.list({ limit: 50 })).toEqual([]);
    const ok = await s.app.inject({ method: 'POST', url: '/v1/renders', ...good });
    expect(ok.statusCode).toBe(202);
    await until(s.scheduler, ok.json<RenderJobView>().id, (j) => j.state === 'done');
  });

  it('says what a union field takes (output.size: an even integer 16..8192 or null), in JSON and in an upload spec', async () => {
    const s = await setup(fakeRunner({ frames: 4, batch: 4 }));
    for (const size of [65, -64, 99999999999, '512']) {
      const res = await s.app.inject({ method: 'POST', url: '/v1/renders', payload: { audio: ['a.wav'], networks: ['demo-64'], output: { size } } });
      expect({ size, code: res.statusCode }).toEqual({ size, code: 400 });
      expect(res.json().message).toBe('body/output/size must be one of: an integer from 16 to 8192, a multiple of 2; null');
    }
    const up = await s.app.inject({
      method: 'POST',
      url: '/v1/renders',
      ...multipartBody([{ name: 'spec', value: JSON.stringify({ networks: ['demo-64'], truncationPsi: 'high' }) }, { name: 'audio', value: 'RIFF', filename: 'a.wav' }]),
    });
    expect(up.statusCode).toBe(400);
    expect(up.json().message).toBe('body/spec/truncationPsi must be one of: a number from -10 to 10; null');
  });

  it('two submissions at once naming one output: exactly one is queued, the other 409 (JSON with a debug video, and uploads)', async () => {
    const gate = new Gate();
    const s = await setup(fakeRunner({ frames: 4, batch: 4, beforeBatch: gate.wait }));
    const json = await Promise.all(
      [1, 2, 3].map((i) => s.app.inject({ method: 'POST', url: '/v1/renders', payload: { audio: ['a.wav'], networks: ['demo-64'], output: { path: 'same.mp4', debugPath: `dbg${i}.mp4` } } })),
    );
    expect(json.map((r) => r.statusCode).sort()).toEqual([202, 409, 409]);
    const uploads = await Promise.all(
      [1, 2, 3].map(() =>
        s.app.inject({
          method: 'POST',
          url: '/v1/renders',
          ...multipartBody([{ name: 'spec', value: JSON.stringify({ networks: ['demo-64'], output: { path: 'up.mp4' } }) }, { name: 'audio', value: 'RIFF', filename: 'a.wav' }]),
        }),
      ),
    );
    expect(uploads.map((r) => r.statusCode).sort()).toEqual([202, 409, 409]);
    for (const r of [...json, ...uploads].filter((r) => r.statusCode === 409)) expect(r.json().message).toMatch(/^body\/output\/path: "(same|up).mp4" is the output of a render that is queued or running/);
    // the refused uploads left nothing; the accepted one keeps its files until it ends
    expect(readdirSync(s.uploadRoot)).toHaveLength(1);
    expect(s.queue.list({ limit: 50 })).toHaveLength(2);
    gate.release();
    await s.scheduler.idle();
  });
});

describe('/v1/renders, uploads past their limits', () => {
  it('too many files, too many fields and a repeated spec each say which limit, and keep nothing', async () => {
    const s = await setup(fakeRunner({ frames: 4, batch: 4 }), { maxUploadFiles: 2 });
    const specPart = { name: 'spec', value: JSON.stringify({ networks: ['demo-64'] }) };
    const file = { name: 'audio', value: 'RIFF', filename: 'a.wav' };
    const post = (parts: Parameters<typeof multipartBody>[0]) => s.app.inject({ method: 'POST', url: '/v1/renders', ...multipartBody(parts) });
    const files = await post([specPart, file, file, file]);
    expect(files.statusCode).toBe(413);
    expect(files.json().message).toBe('body/audio: more than 2 files (render.maxUploadFiles)');
    const fields = await post([specPart, ...Array.from({ length: 6 }, (_, k) => ({ name: `f${k}`, value: 'x' })), file]);
    expect(fields.statusCode).toBe(400);
    expect(fields.json().message).toMatch(/^body\/f0: unknown field/);
    const twice = await post([specPart, { name: 'spec', value: JSON.stringify({ networks: ['nope'] }) }, file]);
    expect(twice.statusCode).toBe(400);
    expect(twice.json().message).toBe('body/spec: given more than once (an upload has one "spec" field)');
    expect(readdirSync(s.uploadRoot)).toEqual([]);
    expect(s.queue.list({ limit: 50 })).toEqual([]);
  });
});

describe('/v1/renders, run configs', () => {
  it("a PNG output named as a queued render's run config (NAME.run.json beside NAME.mp4) is 409; a debug video of that name is 400 (not .mp4)", async () => {
    const gate = new Gate();
    const s = await setup(fakeRunner({ frames: 4, batch: 4, beforeBatch: gate.wait }));
    const post = (output: Record<string, unknown>) => s.app.inject({ method: 'POST', url: '/v1/renders', payload: { audio: ['a.wav'], networks: ['demo-64'], output } });
    // a debug video is an mp4: a run config's name is refused by its extension already
    const own = await post({ path: 'x.mp4', debugPath: 'x.run.json' });
    expect(own.statusCode).toBe(400);
    expect(own.json().message).toBe('body/output/debugPath: "x.run.json": the extension ".json" is not one the render writes; an mp4 render\'s file is .mp4');
    expect((await post({ path: 'a.mp4' })).statusCode).toBe(202);
    // PNG frames go to a folder of any name: one named as a queued render's run config is 409
    const asOutput = await post({ format: 'png', path: 'a.run.json' });
    expect(asOutput.statusCode).toBe(409);
    expect(asOutput.json().message).toMatch(/^body\/output\/path: "a.run.json" is the output of a render that is queued or running/);
    const asDebug = await post({ path: 'b.mp4', debugPath: 'a.run.json' });
    expect(asDebug.statusCode).toBe(400);
    expect(asDebug.json().message).toMatch(/^body\/output\/debugPath: "a.run.json": the extension ".json" is not one/);
    expect(s.queue.list({ limit: 50 })).toHaveLength(1);
    gate.release();
    await s.scheduler.idle();
  });
});

describe('/v1/renders, output names the file system cannot take as they are', () => {
  const post = (s: Awaited<ReturnType<typeof setup>>, output: Record<string, unknown>) =>
    s.app.inject({ method: 'POST', url: '/v1/renders', payload: { audio: ['a.wav'], networks: ['demo-64'], output } });

  it('a name through a file (song.mp4/x.mp4, the debug video too) is 409 naming the file, not a 500', async () => {
    const s = await setup(fakeRunner({ frames: 4, batch: 4 }));
    mkdirSync(s.outputRoot, { recursive: true });
    writeFileSync(join(s.outputRoot, 'song.mp4'), 'a video');
    for (const [output, field] of [
      [{ path: 'song.mp4/x.mp4' }, 'body/output/path'],
      [{ path: 'ok.mp4', debugPath: 'song.mp4/deeper/d.mp4' }, 'body/output/debugPath'],
    ] as const) {
      const res = await post(s, output);
      expect({ output, code: res.statusCode }).toEqual({ output, code: 409 });
      expect(res.json().message).toMatch(new RegExp(`^${field}: ".*": song\\.mp4 is a file under the output root, not a folder$`));
    }
    expect(s.queue.list({ limit: 50 })).toEqual([]);
  });

  it("a name under a queued render's output (song.mp4/x.mp4, its run config, a PNG folder; the debug video too) is 409, and that render still finishes", async () => {
    const gate = new Gate();
    const s = await setup(fakeRunner({ frames: 4, batch: 4, beforeBatch: gate.wait }));
    const first = await post(s, { path: 'song.mp4' });
    expect(first.statusCode).toBe(202);
    const frames = await post(s, { format: 'png', path: 'frames' });
    expect(frames.statusCode).toBe(202);
    for (const [output, field, name, taken] of [
      [{ path: 'song.mp4/x.mp4' }, 'body/output/path', 'song.mp4/x.mp4', 'song.mp4'],
      [{ path: 'song.run.json/deeper/x.mp4' }, 'body/output/path', 'song.run.json/deeper/x.mp4', 'song.run.json'],
      [{ path: './frames//x.mp4' }, 'body/output/path', './frames//x.mp4', 'frames'],
      [{ path: 'ok.mp4', debugPath: 'song.mp4/d.mp4' }, 'body/output/debugPath', 'song.mp4/d.mp4', 'song.mp4'],
    ] as const) {
      const res = await post(s, output);
      expect({ output, code: res.statusCode }).toEqual({ output, code: 409 });
      expect(res.json().message).toBe(`${field}: "${name}" lies under ${taken}, an output of a render that is queued or running`);
    }
    // it made song.mp4 a folder at once, and the render writing song.mp4 failed ("is a folder")
    expect(existsSync(join(s.outputRoot, 'song.mp4'))).toBe(false);
    expect(s.queue.list({ limit: 50 })).toHaveLength(2);
    gate.release();
    expect((await until(s.scheduler, first.json<RenderJobView>().id, (j) => j.state === 'done' || j.state === 'failed')).state).toBe('done');
    await until(s.scheduler, frames.json<RenderJobView>().id, (j) => j.state === 'done' || j.state === 'failed');
  });

  it('a name a running live session records to (its file not there yet), or one under it, is 409', async () => {
    let live = new Set<string>();
    const s = await setup(fakeRunner({ frames: 4, batch: 4 }), {}, { liveOutputs: () => live });
    live = new Set([join(s.outputRoot, 'show', 'rec.mp4')]);
    for (const [output, field, message] of [
      [{ path: 'show/rec.mp4' }, 'body/output/path', '"show/rec.mp4" is recorded by a live session that is running'],
      [{ path: 'show/rec.mp4/x.mp4' }, 'body/output/path', '"show/rec.mp4/x.mp4" lies under show/rec.mp4, recorded by a live session that is running'],
      [{ path: 'ok.mp4', debugPath: 'show/rec.mp4' }, 'body/output/debugPath', '"show/rec.mp4" is recorded by a live session that is running'],
    ] as const) {
      const res = await post(s, output);
      expect({ output, code: res.statusCode }).toEqual({ output, code: 409 });
      expect(res.json().message).toBe(`${field}: ${message}`);
    }
    expect(s.queue.list({ limit: 50 })).toEqual([]);
    expect(existsSync(join(s.outputRoot, 'show'))).toBe(false);
    const ok = await post(s, { path: 'show/other.mp4' });
    expect(ok.statusCode, ok.body).toBe(202);
    await until(s.scheduler, ok.json<RenderJobView>().id, (j) => j.state === 'done');
  });

  it('a symlink under the output root that leads out is 403 and nothing is made at its far end', async () => {
    const s = await setup(fakeRunner({ frames: 4, batch: 4 }));
    const elsewhere = tempDir('gance-elsewhere-');
    mkdirSync(s.outputRoot, { recursive: true });
    symlinkSync(elsewhere, join(s.outputRoot, 'link'));
    symlinkSync(join(elsewhere, 'gone'), join(s.outputRoot, 'dangling'));
    for (const path of ['link/sub/deeper/x.mp4', 'link/x.mp4', 'dangling/sub/x.mp4']) {
      const res = await post(s, { path });
      expect({ path, code: res.statusCode }).toEqual({ path, code: 403 });
      expect(res.json().message).toBe(`body/output/path: "${path}" leads outside the output root (symlink)`);
    }
    expect(readdirSync(elsewhere)).toEqual([]);
  });

  it('a file name longer than the render can write beside (200 bytes) is 400 before anything runs; folders under the root still work', async () => {
    const s = await setup(fakeRunner({ frames: 4, batch: 4 }));
    for (const path of [`${'a'.repeat(240)}.mp4`, `x/${'é'.repeat(110)}.mp4`]) {
      const res = await post(s, { path });
      expect({ path, code: res.statusCode }).toEqual({ path, code: 400 });
      expect(res.json().message).toMatch(/^body\/output\/path: file name ".*\.\.\." is \d+ bytes; at most 200 \(the render writes longer names of its own beside it\)$/);
    }
    const folder = await post(s, { path: `${'f'.repeat(300)}/x.mp4` });
    expect(folder.statusCode).toBe(400);
    expect(folder.json().message).toMatch(/^body\/output\/path: ".*": a folder name in it is too long for the file system$/);
    expect(s.queue.list({ limit: 50 })).toEqual([]);
    const ok = await post(s, { path: `set/one/${'b'.repeat(190)}.mp4` });
    expect(ok.statusCode, ok.body).toBe(202);
    await until(s.scheduler, ok.json<RenderJobView>().id, (j) => j.state === 'done');
    expect(existsSync(join(s.outputRoot, 'set', 'one'))).toBe(true);
  });
});

describe('/v1/renders, latents settings the float32 latents cannot hold', () => {
  it('a noise range beyond +-1000 (1e308 made every latent NaN: a black video, accepted) is 400 naming the end, as fftAmplitudeRange is', async () => {
    const s = await setup(fakeRunner({ frames: 4, batch: 4 }));
    for (const [range, at] of [[[-1e308, 1e308], 0], [[-4, 1e30], 1], [[-1001, 0], 0]] as const) {
      const res = await s.app.inject({ method: 'POST', url: '/v1/renders', payload: { audio: ['a.wav'], networks: ['demo-64'], latents: { noise: { range } } } });
      expect({ range, code: res.statusCode }).toEqual({ range, code: 400 });
      expect(res.json().message).toMatch(new RegExp(`^body/latents/noise/range/${at} Expected number to be (greater|less) or equal to -?1000$`));
    }
    expect(s.queue.list({ limit: 50 })).toEqual([]);
    const ok = await s.app.inject({ method: 'POST', url: '/v1/renders', payload: { audio: ['a.wav'], networks: ['demo-64'], latents: { noise: { range: [-1000, 1000] } } } });
    expect(ok.statusCode, ok.body).toBe(202);
    await until(s.scheduler, ok.json<RenderJobView>().id, (j) => j.state === 'done');
  });
});
