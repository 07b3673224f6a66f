/** /v1/renders through app.inject with a real store and scheduler and a fake runner. */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RequestError } from '../../src/render/submit.ts';
import type { RenderJobView } from '../../src/render/view.ts';
import { rendersApp, multipartBody } from './api-setup.ts';
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

const body = (over: Record<string, unknown> = {}) => ({ audio: ['a.wav'], networks: ['demo-64'], ...over });

describe('/v1/renders', () => {
  it('queues a render (202), shows it while it runs and once done, and lists it', async () => {
    const gate = new Gate();
    const s = await setup(fakeRunner({ frames: 8, batch: 4, beforeBatch: gate.wait }));
    const res = await s.app.inject({ method: 'POST', url: '/v1/renders', payload: body({ audio: ['a.wav', join(s.mediaRoot, 'b.wav')], priority: 3, output: { path: 'clips/one.mp4', crf: 20 } }) });
    expect(res.statusCode).toBe(202);
    const job = res.json<RenderJobView>();
    expect(res.headers.location).toBe(`/v1/renders/${job.id}`);
    expect(job).toMatchObject({ state: 'running', priority: 3, framesDone: 0, outputUrl: null });
    // files by the names the client gave them (an absolute one under the media root by its name there)
    expect(job.spec.audio).toEqual(['a.wav', 'b.wav']);
    expect(job.spec.output).toMatchObject({ path: 'clips/one.mp4', crf: 20, format: 'mp4', preset: 'medium' });
    // null is the network's own psi, not 0 (a coercing validator made it 0)
    expect(job.spec.truncationPsi).toBeNull();
    await gate.arrived;
    const running = (await s.app.inject(`/v1/renders/${job.id}`)).json<RenderJobView>();
    expect(running).toMatchObject({ state: 'running', stage: 'analysing' });
    gate.release();
    await until(s.scheduler, job.id, (j) => j.state === 'done');
    const done = (await s.app.inject(`/v1/renders/${job.id}`)).json<RenderJobView>();
    expect(done).toMatchObject({ state: 'done', stage: 'done', framesDone: 8, framesTotal: 8, progress: 1, etaSeconds: 0, reason: null, outputUrl: `/v1/renders/${job.id}/output`, attempts: 1 });
    expect(Date.parse(done.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(done.createdAt));
    const second = (await s.app.inject({ method: 'POST', url: '/v1/renders', payload: body() })).json<RenderJobView>();
    expect(second.spec.output.path).toBe(`${second.id}.mp4`);
    await until(s.scheduler, second.id, (j) => j.state === 'done');
    const list = (await s.app.inject('/v1/renders')).json<{ renders: RenderJobView[] }>();
    expect(list.renders.map((r) => r.id)).toEqual([second.id, job.id]);
    expect((await s.app.inject('/v1/renders?state=queued')).json()).toEqual({ renders: [] });
    expect((await s.app.inject('/v1/renders?limit=1')).json<{ renders: RenderJobView[] }>().renders.map((r) => r.id)).toEqual([second.id]);
    expect((await s.app.inject('/v1/renders?limit=0')).statusCode).toBe(400);
    expect((await s.app.inject('/v1/renders?limit=501')).statusCode).toBe(400);
    expect((await s.app.inject('/v1/renders?state=sleeping')).statusCode).toBe(400);
  });

  it('shows what renders a job while it runs (frames not yet counted) and, once done, what rendered it, as its run config says', async () => {
    const gate = new Gate();
    const gpu0 = {
      id: 'gpu0',
      engine: 'webgpu' as const,
      provider: 'webgpu',
      adapter: { vendor: 'nvidia', architecture: 'hopper', device: '', description: 'NVIDIA H200' },
      precision: 'f32' as const,
      precisionNote: null,
      fallback: [],
      binding: { source: 'gpu' as const, gpu: 0, busId: '00000000:00:06.0', env: { DRI_PRIME: 'pci-0000_00_06_0', MESA_VK_DEVICE_SELECT_FORCE_DEFAULT_DEVICE: '1' } },
    };
    const record = { workers: [{ ...gpu0, frames: 8 }], resumed: null, mixed: false };
    const s = await setup(fakeRunner({ frames: 8, batch: 4, beforeBatch: gate.wait, synthesis: { workers: [gpu0], record } }));
    const job = (await s.app.inject({ method: 'POST', url: '/v1/renders', payload: body() })).json<RenderJobView>();
    expect(job.synthesis).toBeNull();
    await gate.arrived;
    const running = (await s.app.inject(`/v1/renders/${job.id}`)).json<RenderJobView>();
    expect(running.synthesis).toEqual({ workers: [{ ...gpu0, frames: null }], resumed: null, mixed: null });
    gate.release();
    await until(s.scheduler, job.id, (j) => j.state === 'done');
    expect((await s.app.inject(`/v1/renders/${job.id}`)).json<RenderJobView>().synthesis).toEqual(record);
    expect((await s.app.inject('/v1/renders')).json<{ renders: RenderJobView[] }>().renders[0]!.synthesis).toEqual(record);
  });

  it('refuses bad input with a 4xx naming the field, and renders on afterwards', async () => {
    const s = await setup(fakeRunner({ frames: 4, batch: 4 }));
    const outside = tempDir('gance-outside-');
    writeFileSync(join(outside, 'secret.wav'), 'x');
    symlinkSync(join(outside, 'secret.wav'), join(s.mediaRoot, 'link.wav'));
    mkdirSync(join(s.mediaRoot, 'dir'));
    const post = (payload: unknown) => s.app.inject({ method: 'POST', url: '/v1/renders', payload: payload as Record<string, unknown> });
    const cases: Array<[unknown, number, RegExp]> = [
      [body({ networks: ['nope'] }), 422, /^body\/networks\/0: unknown network "nope" \(available: demo-64, broken\)/],
      [body({ networks: ['demo-64', 'broken'] }), 422, /^body\/networks\/1: network "broken" cannot be used: sidecar does not match/],
      [body({ audio: ['../x.wav'] }), 400, /^body\/audio\/0: "..\/x.wav": ".." is not allowed/],
      [body({ audio: ['a.wav', 'sub/../../b.wav'] }), 400, /^body\/audio\/1: /],
      [body({ audio: [join(outside, 'secret.wav')] }), 403, /^body\/audio\/0: ".*secret.wav" is outside the media root/],
      [body({ audio: ['link.wav'] }), 403, /^body\/audio\/0: "link.wav" leads outside the media root \(symlink\)/],
      [body({ audio: ['missing.wav'] }), 422, /^body\/audio\/0: "missing.wav" does not exist/],
      [body({ audio: ['dir'] }), 422, /^body\/audio\/0: "dir" is not a file/],
      [body({ latents: { projectionFile: join(outside, 'secret.wav') } }), 403, /^body\/latents\/projectionFile: .* outside the media root/],
      [body({ output: { path: '/tmp/x.mp4' } }), 400, /^body\/output\/path: "\/tmp\/x.mp4" must be a name under the output root/],
      [body({ output: { path: '../x.mp4' } }), 400, /^body\/output\/path: /],
      [body({ priority: 1000 }), 400, /^body\/priority Expected integer to be less or equal to 100/],
      [body({ priority: '5' }), 400, /^body\/priority Expected integer/],
      [body({ audio: [] }), 400, /^body\/audio Expected array length to be greater or equal to 1/],
      [body({ colour: 'red' }), 400, /^body\/colour Unexpected property/],
      [{ networks: ['demo-64'] }, 400, /^body\/audio Expected required property/],
      // the name says what is written there: an mp4 named x.exe is refused, as the CLI's --out is
      [body({ output: { path: 'x.exe' } }), 400, /^body\/output\/path: "x.exe": the extension ".exe" is not one the render writes; an mp4 render's file is \.mp4$/],
      [body({ output: { path: 'clip' } }), 400, /^body\/output\/path: "clip": has no extension; an mp4 render's file is \.mp4$/],
      [body({ output: { path: 'x.mp4', debugPath: 'x.debug.mkv' } }), 400, /^body\/output\/debugPath: "x.debug.mkv": the extension ".mkv" is not one/],
      [body({ latents: { fftAmplitudeRange: [1, -1] } }), 400, /^body\/latents\/fftAmplitudeRange: must be \[min, max\] with min <= max, got \[1, -1\]/],
      [body({ latents: { noise: { range: [4, -4] } } }), 400, /^body\/latents\/noise\/range: must be \[min, max\] with min <= max, got \[4, -4\]/],
    ];
    for (const [payload, code, message] of cases) {
      const res = await post(payload);
      expect({ payload, code: res.statusCode }).toEqual({ payload, code });
      expect(res.json()).toMatchObject({ statusCode: code, message: expect.stringMatching(message) });
    }
    // an output that is already there, or that a queued render will write, belongs to someone else
    mkdirSync(s.outputRoot, { recursive: true });
    writeFileSync(join(s.outputRoot, 'taken.mp4'), 'x');
    expect((await post(body({ output: { path: 'taken.mp4' } }))).json()).toMatchObject({ statusCode: 409, message: expect.stringMatching(/^body\/output\/path: "taken.mp4" already exists/) });
    // the run config the render writes beside it at the end would be replaced: refused now (a render never overwrites a file)
    writeFileSync(join(s.outputRoot, 'notes.run.json'), 'x');
    expect((await post(body({ output: { path: 'notes.mp4' } }))).json()).toMatchObject({ statusCode: 409, message: 'body/output/path: "notes.mp4": its run config notes.run.json already exists beside it under the output root' });
    for (const id of ['nope', 'x'.repeat(64)]) {
      for (const url of [`/v1/renders/${id}`, `/v1/renders/${id}/output`, `/v1/renders/${id}/events`]) expect((await s.app.inject(url)).statusCode).toBe(404);
      expect((await s.app.inject({ method: 'DELETE', url: `/v1/renders/${id}` })).statusCode).toBe(404);
    }
    expect(s.queue.counts()).toMatchObject({ queued: 0, running: 0, done: 0 });
    const ok = await post(body());
    expect(ok.statusCode).toBe(202);
    expect((await until(s.scheduler, ok.json<RenderJobView>().id, (j) => j.state === 'done')).framesDone).toBe(4);
  });

  it('a refused request leaves no folder under the output root; an accepted one gets its folders; one there before stays', async () => {
    const s = await setup(fakeRunner({ frames: 4, batch: 4 }), {}, {
      // the daemon's admission (audio probed, networks fitted) refuses after the names are resolved
      admit: async (spec) => {
        if (spec.latents.alpha === 7) throw new RequestError(422, 'body/latents: refused by admission');
        // while it is checked, a file takes the name of the debug video's folder
        if (spec.latents.alpha === 8) writeFileSync(join(s.outputRoot, 'm2'), 'x');
      },
    });
    const post = (payload: Record<string, unknown>) => s.app.inject({ method: 'POST', url: '/v1/renders', payload });
    // the output root itself is not made for a refused request either
    expect(existsSync(s.outputRoot)).toBe(false);
    expect((await post(body({ networks: ['nope'], output: { path: 'n0/x.mp4' } }))).statusCode).toBe(422);
    expect((await post(body({ latents: { alpha: 7 } }))).statusCode).toBe(422);
    expect(existsSync(s.outputRoot)).toBe(false);
    mkdirSync(join(s.outputRoot, 'kept'), { recursive: true });
    const refused: Array<[Record<string, unknown>, number]> = [
      [body({ networks: ['nope'], output: { path: 'n1/deep/x.mp4' } }), 422],
      [body({ output: { path: 'n2/x.mp4', debugPath: 'n2/x.mp4' } }), 409],
      [body({ output: { path: 'n3/x.mp4', debugPath: 'n4/x.debug.mp4' } }), 202],
      [body({ latents: { alpha: 7 }, output: { path: 'n5/a/x.mp4', debugPath: 'n6/d.mp4' } }), 422],
      [body({ latents: { alpha: 7 }, output: { path: 'kept/x.mp4' } }), 422],
    ];
    for (const [payload, code] of refused) expect((await post(payload)).statusCode, JSON.stringify(payload)).toBe(code);
    // the folders are made last; one that cannot be made undoes those made before it (m1)
    const late = await post(body({ latents: { alpha: 8 }, output: { path: 'm1/x.mp4', debugPath: 'm2/sub/d.mp4' } }));
    expect(late.json()).toMatchObject({ statusCode: 409, message: 'body/output/debugPath: "m2/sub/d.mp4": m2 is a file under the output root, not a folder' });
    rmSync(join(s.outputRoot, 'm2'));
    const up = multipartBody([
      { name: 'spec', value: JSON.stringify({ networks: ['demo-64'], latents: { alpha: 7 }, output: { path: 'n7/up.mp4' } }) },
      { name: 'audio', value: Buffer.alloc(100, 1), filename: 'a.wav' },
    ]);
    expect((await s.app.inject({ method: 'POST', url: '/v1/renders', ...up })).statusCode).toBe(422);
    await s.scheduler.idle();
    // the accepted one (n3, and its debug video's n4) made its folders; the refused ones made none
    expect(readdirSync(s.outputRoot).sort()).toEqual(['kept', 'n3', 'n4']);
    expect(readdirSync(join(s.outputRoot, 'kept'))).toEqual([]);
  });

  it('cancels queued and running renders (200); a finished one is 409; two renders never share an output', async () => {
    const gate = new Gate();
    const s = await setup(fakeRunner({ frames: 8, batch: 4, beforeBatch: gate.wait }));
    const a = (await s.app.inject({ method: 'POST', url: '/v1/renders', payload: body({ output: { path: 'a.mp4' } }) })).json<RenderJobView>();
    const b = (await s.app.inject({ method: 'POST', url: '/v1/renders', payload: body({ output: { path: 'b.mp4' } }) })).json<RenderJobView>();
    expect(b.state).toBe('queued');
    const clash = await s.app.inject({ method: 'POST', url: '/v1/renders', payload: body({ output: { path: 'b.mp4' } }) });
    expect(clash.json()).toMatchObject({ statusCode: 409, message: expect.stringMatching(/^body\/output\/path: "b.mp4" is the output of a render that is queued or running/) });
    await gate.arrived;
    const cancelB = await s.app.inject({ method: 'DELETE', url: `/v1/renders/${b.id}` });
    expect(cancelB.statusCode).toBe(200);
    expect(cancelB.json()).toMatchObject({ id: b.id, state: 'cancelled', reason: 'cancelled' });
    const cancelA = await s.app.inject({ method: 'DELETE', url: `/v1/renders/${a.id}` });
    expect(cancelA.json()).toMatchObject({ id: a.id, state: 'cancelled' });
    gate.release();
    await s.scheduler.idle();
    const again = await s.app.inject({ method: 'DELETE', url: `/v1/renders/${a.id}` });
    expect(again.statusCode).toBe(409);
    expect(again.json().message).toMatch(/already cancelled/);
    expect(existsSync(join(s.outputRoot, 'a.mp4'))).toBe(false);
    expect((await s.app.inject(`/v1/renders/${a.id}/output`)).statusCode).toBe(409);
  });

  it('takes a multipart upload: files in order as the audio, the spec as a field; removed once done', async () => {
    const s = await setup(fakeRunner({ frames: 4, batch: 4 }), { uploadMaxBytes: 4096 });
    const mp = multipartBody([
      { name: 'audio', value: Buffer.alloc(3000, 1), filename: 'first track.wav' },
      { name: 'spec', value: JSON.stringify({ networks: ['demo-64'], output: { path: 'up.mp4' } }) },
      { name: 'audio', value: Buffer.alloc(10, 2), filename: '../../evil.wav' },
    ]);
    const res = await s.app.inject({ method: 'POST', url: '/v1/renders', ...mp });
    expect(res.statusCode).toBe(202);
    const job = res.json<RenderJobView>();
    const dir = join(s.uploadRoot, job.id);
    // the names they were sent under, as far as they were kept (the store holds the daemon's copies)
    expect(job.spec.audio).toEqual(['first_track.wav', 'evil.wav']);
    expect(s.scheduler.view(job.id)!.spec.audio).toEqual([join(dir, '00-first_track.wav'), join(dir, '01-evil.wav')]);
    await until(s.scheduler, job.id, (j) => j.state === 'done');
    expect(existsSync(dir)).toBe(false);
  });

  it('refuses an upload over the size limit (413) and keeps nothing of it', async () => {
    const s = await setup(fakeRunner({ frames: 4, batch: 4 }), { uploadMaxBytes: 2048 });
    const big = multipartBody([
      { name: 'spec', value: JSON.stringify({ networks: ['demo-64'] }) },
      { name: 'audio', value: Buffer.alloc(2049, 1), filename: 'big.wav' },
    ]);
    const res = await s.app.inject({ method: 'POST', url: '/v1/renders', ...big });
    expect(res.statusCode).toBe(413);
    expect(res.json().message).toMatch(/^body\/audio: request file too large \(render.uploadMaxBytes 2048/);
    expect(existsSync(s.uploadRoot) ? readdirSync(s.uploadRoot) : []).toEqual([]);
    const noSpec = await s.app.inject({ method: 'POST', url: '/v1/renders', ...multipartBody([{ name: 'audio', value: 'x', filename: 'a.wav' }]) });
    expect(noSpec.json()).toMatchObject({ statusCode: 400, message: expect.stringMatching(/^body\/spec: an upload needs a "spec" field/) });
    const badSpec = await s.app.inject({ method: 'POST', url: '/v1/renders', ...multipartBody([{ name: 'spec', value: '{"networks": ["demo-64"], "priority": "high"}' }, { name: 'audio', value: 'x', filename: 'a.wav' }]) });
    expect(badSpec.json()).toMatchObject({ statusCode: 400, message: expect.stringMatching(/^body\/spec\/priority /) });
    const unknownNet = await s.app.inject({ method: 'POST', url: '/v1/renders', ...multipartBody([{ name: 'spec', value: '{"networks": ["nope"]}' }, { name: 'audio', value: 'x', filename: 'a.wav' }]) });
    expect(unknownNet.statusCode).toBe(422);
    expect(readdirSync(s.uploadRoot)).toEqual([]);
    expect(s.queue.counts().queued + s.queue.counts().running + s.queue.counts().done).toBe(0);
    // the daemon is fine: the next upload within the limit renders
    const ok = await s.app.inject({ method: 'POST', url: '/v1/renders', ...multipartBody([{ name: 'spec', value: '{"networks": ["demo-64"]}' }, { name: 'audio', value: Buffer.alloc(2048, 1), filename: 'a.wav' }]) });
    expect(ok.statusCode).toBe(202);
    await until(s.scheduler, ok.json<RenderJobView>().id, (j) => j.state === 'done');
  });

  it('serves the finished mp4 with Range requests as RFC 9110 says: 200, 206 (start-end, open end, suffix, joined), 416 for valid ranges outside it, an invalid Range ignored', async () => {
    const s = await setup(fakeRunner({ frames: 12, batch: 4 }));
    const job = (await s.app.inject({ method: 'POST', url: '/v1/renders', payload: body({ output: { path: 'r.mp4' } }) })).json<RenderJobView>();
    const done = await until(s.scheduler, job.id, (j) => j.state === 'done');
    const file = readFileSync(done.output!);
    const size = file.length;
    expect(size).toBeGreaterThan(50);
    const url = `/v1/renders/${job.id}/output`;
    const full = await s.app.inject(url);
    expect(full.statusCode).toBe(200);
    expect(full.headers).toMatchObject({ 'content-type': 'video/mp4', 'accept-ranges': 'bytes', 'content-length': String(size) });
    expect(full.rawPayload.equals(file)).toBe(true);
    const part = await s.app.inject({ url, headers: { range: 'bytes=10-19' } });
    expect(part.statusCode).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes 10-19/${size}`);
    expect(part.rawPayload.equals(file.subarray(10, 20))).toBe(true);
    const open = await s.app.inject({ url, headers: { range: `bytes=${size - 5}-` } });
    expect(open.statusCode).toBe(206);
    expect(open.rawPayload.equals(file.subarray(size - 5))).toBe(true);
    const suffix = await s.app.inject({ url, headers: { range: 'bytes=-7' } });
    expect(suffix.statusCode).toBe(206);
    expect(suffix.headers['content-range']).toBe(`bytes ${size - 7}-${size - 1}/${size}`);
    expect(suffix.rawPayload.equals(file.subarray(size - 7))).toBe(true);
    const beyond = await s.app.inject({ url, headers: { range: `bytes=${size}-${size + 10}` } });
    expect(beyond.statusCode).toBe(416);
    expect(beyond.headers['content-range']).toBe(`bytes */${size}`);
    // RFC 9110 14.2: a Range that is not bytes, does not parse, or holds an invalid range-spec (last before
    // first) is ignored: the whole file. Several disjoint ranges may be ignored likewise (no multipart/byteranges)
    for (const range of ['bytes=abc', 'bytes=', 'bytes=5', 'bytes=--1', 'items=0-5', 'abc', 'bytes=5-2', 'bytes=10-1', 'bytes=0-1, 5-2', 'bytes=99999999999999999999-99999999999999999998', 'bytes=0-1,x', 'bytes 0-1', 'bytes=0-1,20-29']) {
      const ignored = await s.app.inject({ url, headers: { range } });
      expect({ range, status: ignored.statusCode }).toEqual({ range, status: 200 });
      expect(ignored.headers['content-range']).toBeUndefined();
      expect(ignored.rawPayload.equals(file)).toBe(true);
    }
    // valid, and none of it in the file: 416 with the size
    for (const range of [`bytes=${size}-`, `bytes=${size + 100}-${size + 200}`, 'bytes=-0', `bytes=-0, ${size}-`, 'bytes=99999999999999999999-']) {
      const missed = await s.app.inject({ url, headers: { range } });
      expect({ range, status: missed.statusCode }).toEqual({ range, status: 416 });
      expect(missed.headers['content-range']).toBe(`bytes */${size}`);
    }
    // one range once the satisfiable ones are joined: 206 (the unit in any case, OWS and empty elements in the list)
    const one: Array<[string, number, number]> = [
      ['Bytes=10-19', 10, 19],
      ['bytes=10-14, 15-19', 10, 19],
      ['bytes= 12-19 ,10-15,', 10, 19],
      [`bytes=-0, 10-19, ${size}-`, 10, 19],
      [`bytes=-${size + 1000}`, 0, size - 1],
      [`bytes=${size - 3}-99999999999999999999`, size - 3, size - 1],
    ];
    for (const [range, from, to] of one) {
      const r = await s.app.inject({ url, headers: { range } });
      expect({ range, status: r.statusCode, contentRange: r.headers['content-range'] }).toEqual({ range, status: 206, contentRange: `bytes ${from}-${to}/${size}` });
      expect(r.rawPayload.equals(file.subarray(from, to + 1))).toBe(true);
    }
  });

  it('a debug video: its name under the output root, refused where it clashes, served once done (Range requests), 404 for a render without one', async () => {
    const gate = new Gate();
    const s = await setup(fakeRunner({ frames: 8, batch: 4, beforeBatch: async ({ framesDone }) => (framesDone >= 4 ? gate.wait() : undefined) }));
    const post = (b: unknown) => s.app.inject({ method: 'POST', url: '/v1/renders', payload: b as Record<string, unknown> });
    const res = await post(body({ output: { path: 'd/main.mp4', debugPath: 'd/main.debug.mp4' } }));
    expect(res.statusCode).toBe(202);
    const job = res.json<RenderJobView>();
    expect(job.spec.output.debugPath).toBe('d/main.debug.mp4');
    expect(job.debugUrl).toBeNull();
    await gate.arrived;
    expect((await s.app.inject(`/v1/renders/${job.id}/debug`)).json()).toMatchObject({ statusCode: 409, message: expect.stringMatching(/is running: its debug video is there once it is done/) });
    // while it runs, neither its output nor its debug video can be another render's
    const clashes: Array<[unknown, number, RegExp]> = [
      [body({ output: { path: 'd/main.debug.mp4' } }), 409, /^body\/output\/path: "d\/main.debug.mp4" is the output of a render that is queued or running/],
      [body({ output: { path: 'other.mp4', debugPath: 'd/main.debug.mp4' } }), 409, /^body\/output\/debugPath: "d\/main.debug.mp4" is an output of a render that is queued or running/],
      [body({ output: { path: 'other.mp4', debugPath: 'd/main.mp4' } }), 409, /^body\/output\/debugPath: "d\/main.mp4" is an output of a render/],
      [body({ output: { path: 'same.mp4', debugPath: 'same.mp4' } }), 409, /^body\/output\/debugPath: "same.mp4" is the render's own output/],
      [body({ output: { path: 'x.mp4', debugPath: '../x.debug.mp4' } }), 400, /^body\/output\/debugPath: .*"\.\." is not allowed/],
      [body({ output: { path: 'x.mp4', debugPath: '/tmp/x.debug.mp4' } }), 400, /^body\/output\/debugPath: .*must be a name under the output root/],
      [body({ output: { path: 'x.mp4', debugPath: 7 } }), 400, /output\/debugPath/],
    ];
    for (const [b, status, message] of clashes) {
      const r = await post(b);
      expect(r.statusCode, JSON.stringify(b)).toBe(status);
      expect(r.json<{ message: string }>().message).toMatch(message);
    }
    gate.release();
    const done = await until(s.scheduler, job.id, (j) => j.state === 'done');
    const view = (await s.app.inject(`/v1/renders/${job.id}`)).json<RenderJobView>();
    expect(view.debugUrl).toBe(`/v1/renders/${done.id}/debug`);
    const file = readFileSync(join(s.outputRoot, 'd', 'main.debug.mp4'));
    expect(file.toString('utf8')).toMatch(/^debug of\nframe 0\n/);
    const full = await s.app.inject(view.debugUrl!);
    expect(full.statusCode).toBe(200);
    expect(full.headers).toMatchObject({ 'content-type': 'video/mp4', 'accept-ranges': 'bytes' });
    expect(full.rawPayload.equals(file)).toBe(true);
    const part = await s.app.inject({ url: view.debugUrl!, headers: { range: 'bytes=0-4' } });
    expect(part.statusCode).toBe(206);
    expect(part.body).toBe('debug');
    const malformed = await s.app.inject({ url: view.debugUrl!, headers: { range: 'bytes=abc' } });
    expect(malformed.statusCode).toBe(200);
    expect(malformed.rawPayload.equals(file)).toBe(true);
    const unsatisfiable = await s.app.inject({ url: view.debugUrl!, headers: { range: `bytes=${file.length}-` } });
    expect(unsatisfiable.statusCode).toBe(416);
    expect(unsatisfiable.headers['content-range']).toBe(`bytes */${file.length}`);

    const plain = (await post(body({ output: { path: 'plain.mp4' } }))).json<RenderJobView>();
    await until(s.scheduler, plain.id, (j) => j.state === 'done');
    expect((await s.app.inject(`/v1/renders/${plain.id}`)).json<RenderJobView>().debugUrl).toBeNull();
    expect((await s.app.inject(`/v1/renders/${plain.id}/debug`)).json()).toMatchObject({ statusCode: 404, message: expect.stringMatching(/has no debug video/) });
    expect((await s.app.inject('/v1/renders/nope/debug')).statusCode).toBe(404);
  });

  it('no render response names a daemon path: spec, output and error as the client named them, in the list, the events, a cancel, a 404 of a removed output', async () => {
    const s = await setup(fakeRunner({ frames: 4, batch: 2 }));
    const daemon = dirname(s.mediaRoot);
    writeFileSync(join(s.mediaRoot, 'p.h5'), 'HDF');
    writeFileSync(join(s.mediaRoot, 'fail-encoder.wav'), 'RIFF');
    const leaks = (text: string) => expect(text.includes(daemon), text).toBe(false);
    const post = async (b: Record<string, unknown>) => (await s.app.inject({ method: 'POST', url: '/v1/renders', payload: b })).json<RenderJobView>();
    const done = await post(body({ audio: ['a.wav', join(s.mediaRoot, 'b.wav')], latents: { projectionFile: 'p.h5' }, output: { path: 'x/done.mp4', debugPath: 'x/done.debug.mp4' } }));
    const failed = await post(body({ audio: ['fail-encoder.wav'], output: { path: 'x/failed.mp4' } }));
    await until(s.scheduler, done.id, (j) => j.state === 'done');
    await until(s.scheduler, failed.id, (j) => j.state === 'failed');
    const view = (await s.app.inject(`/v1/renders/${done.id}`)).json<RenderJobView>();
    expect(view.spec.audio).toEqual(['a.wav', 'b.wav']);
    expect(view.spec.latents.projectionFile).toBe('p.h5');
    expect(view.spec.output).toMatchObject({ path: 'x/done.mp4', debugPath: 'x/done.debug.mp4' });
    expect(view.output).toBe('x/done.mp4');
    // the store keeps the daemon's paths: the runner and a restart need them
    expect(s.scheduler.view(done.id)!.output).toBe(join(s.outputRoot, 'x', 'done.mp4'));
    const upload = multipartBody([{ name: 'spec', value: JSON.stringify({ networks: ['demo-64'] }) }, { name: 'audio', value: 'RIFF', filename: 'take.wav' }]);
    const uploaded = (await s.app.inject({ method: 'POST', url: '/v1/renders', ...upload })).json<RenderJobView>();
    expect(uploaded.spec.audio).toEqual(['take.wav']);
    await until(s.scheduler, uploaded.id, (j) => j.state === 'done');
    const queued = await post(body({ output: { path: 'x/cancelled.mp4' } }));
    const answers = [
      await s.app.inject(`/v1/renders/${done.id}`),
      await s.app.inject(`/v1/renders/${failed.id}`),
      await s.app.inject('/v1/renders'),
      await s.app.inject(`/v1/renders/${done.id}/events`),
      await s.app.inject({ method: 'DELETE', url: `/v1/renders/${queued.id}` }),
    ];
    for (const a of answers) leaks(a.body);
    rmSync(join(s.outputRoot, 'x', 'done.mp4'));
    const gone = await s.app.inject(`/v1/renders/${done.id}/output`);
    expect([gone.statusCode, gone.json().message]).toEqual([404, `render "${done.id}": its output x/done.mp4 is no longer there`]);
  });

  it('documents every route with its schemas in the OpenAPI document', async () => {
    const s = await setup(fakeRunner());
    const doc = (await s.app.inject('/docs/json')).json<{ paths: Record<string, Record<string, { description?: string; requestBody?: { content: Record<string, { schema: { properties?: Record<string, unknown> } }> }; responses: Record<string, unknown> }>> }>();
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/v1/renders')).sort()).toEqual([
      '/v1/renders/',
      '/v1/renders/gpus',
      '/v1/renders/gpus/{gpu}',
      '/v1/renders/{id}',
      '/v1/renders/{id}/debug',
      '/v1/renders/{id}/events',
      '/v1/renders/{id}/output',
    ]);
    const post = doc.paths['/v1/renders/']!.post!;
    expect(Object.keys(post.requestBody!.content).sort()).toEqual(['application/json', 'multipart/form-data']);
    expect(Object.keys(post.requestBody!.content['application/json']!.schema.properties!)).toEqual(expect.arrayContaining(['audio', 'networks', 'latents', 'output', 'priority']));
    expect(Object.keys(post.responses).sort()).toEqual(['202', '400', '403', '409', '413', '415', '422', '429', '507']);
    expect(post.description).toContain('render.maxQueued');
    expect(Object.keys(doc.paths['/v1/renders/{id}']!.get!.responses).sort()).toEqual(['200', '404']);
    expect(Object.keys(doc.paths['/v1/renders/{id}']!.delete!.responses).sort()).toEqual(['200', '404', '409', '507']);
    expect(Object.keys(doc.paths['/v1/renders/{id}/output']!.get!.responses).sort()).toEqual(['200', '206', '404', '409', '416']);
    expect(Object.keys(doc.paths['/v1/renders/{id}/debug']!.get!.responses).sort()).toEqual(['200', '206', '404', '409', '416']);
  });
});

describe('/v1/renders queue bound (render.maxQueued)', () => {
  it('refuses a render past maxQueued waiting with 429 naming the bound, before its upload is stored; one leaving the queue makes room', async () => {
    const gate = new Gate();
    const s = await setup(fakeRunner({ frames: 4, batch: 4, beforeBatch: gate.wait }), { maxQueued: 2, uploadMaxBytes: 4096 });
    const post = (payload: Record<string, unknown>) => s.app.inject({ method: 'POST', url: '/v1/renders', payload });
    const upload = (name: string) =>
      s.app.inject({
        method: 'POST',
        url: '/v1/renders',
        ...multipartBody([
          { name: 'spec', value: JSON.stringify({ networks: ['demo-64'], output: { path: `${name}.mp4` } }) },
          { name: 'audio', value: Buffer.alloc(1000, 1), filename: `${name}.wav` },
        ]),
      });
    // the running one (concurrency 1) is not waiting: it does not count
    const running = await post(body());
    expect(running.json<RenderJobView>().state).toBe('running');
    await gate.arrived;
    expect((await post(body())).statusCode).toBe(202);
    const second = await upload('second');
    expect(second.statusCode).toBe(202);
    expect(s.queue.queuedCount()).toBe(2);
    const uploadsBefore = readdirSync(s.uploadRoot).sort();

    for (const refused of [await post(body()), await upload('third')]) {
      expect(refused.statusCode).toBe(429);
      expect(refused.headers['retry-after']).toBe('60');
      expect(refused.json().message).toBe('body: 2 renders are waiting to run (render.maxQueued 2); send it again once one has started or is cancelled');
    }
    // nothing of the refused upload was kept, and nothing was queued
    expect(readdirSync(s.uploadRoot).sort()).toEqual(uploadsBefore);
    expect(s.queue.counts()).toMatchObject({ queued: 2, running: 1 });

    expect((await s.app.inject({ method: 'DELETE', url: `/v1/renders/${second.json<RenderJobView>().id}` })).statusCode).toBe(200);
    const third = await upload('third');
    expect(third.statusCode).toBe(202);
    expect((await post(body())).statusCode).toBe(429);
    gate.release();
    await until(s.scheduler, third.json<RenderJobView>().id, (j) => j.state === 'done');
  });

  it('counts renders still being received and checked: a burst cannot all pass the bound together', async () => {
    const checking = new Gate();
    let inAdmission = 0;
    const s = await setup(fakeRunner({ frames: 4, batch: 4 }), { maxQueued: 2 }, {
      // the first two wait in admission; a third let through would be checked and queued at once
      admit: async () => {
        if (++inAdmission <= 2) await checking.wait();
      },
    });
    const post = () => s.app.inject({ method: 'POST', url: '/v1/renders', payload: body() });
    const first = [post(), post()];
    await checking.arrived;
    // both are past the bound's check (in admission), none queued yet
    while (inAdmission < 2) await new Promise((r) => setImmediate(r));
    expect(s.queue.queuedCount()).toBe(0);
    const late = await post();
    expect(late.statusCode).toBe(429);
    expect(late.json().message).toMatch(/^body: 2 renders are waiting to run \(render\.maxQueued 2\)/);
    checking.release();
    expect((await Promise.all(first)).map((r) => r.statusCode)).toEqual([202, 202]);
    expect(inAdmission).toBe(2);
  });

  it('documents the bound in the config schema', async () => {
    const { RenderConfig } = await import('../../src/render/config.ts');
    expect(RenderConfig.properties.maxQueued).toMatchObject({ default: 32, minimum: 1 });
  });
});

describe('/v1/renders output folders of a render that does not finish', () => {
  it('removes the empty folders its acceptance made when it is cancelled (queued or running) or fails; never one there before, holding files, or another render needs', async () => {
    const gate = new Gate();
    const s = await setup(fakeRunner({ frames: 8, batch: 4, beforeBatch: gate.wait }));
    writeFileSync(join(s.mediaRoot, 'fail-bad-input.wav'), 'RIFF-f');
    const post = async (payload: Record<string, unknown>) => {
      const res = await s.app.inject({ method: 'POST', url: '/v1/renders', payload });
      expect(res.statusCode, res.body).toBe(202);
      return res.json<RenderJobView>();
    };
    const cancel = async (id: string) => expect((await s.app.inject({ method: 'DELETE', url: `/v1/renders/${id}` })).statusCode).toBe(200);
    const out = (p: string) => join(s.outputRoot, p);

    // running (concurrency 1), held at its first batch
    const running = await post(body({ output: { path: 'run/deep/x.mp4' } }));
    await gate.arrived;
    mkdirSync(out('before'));
    const queued = await post(body({ output: { path: 'flood/x.mp4', debugPath: 'dbg/d.mp4' } }));
    const inBefore = await post(body({ output: { path: 'before/new/x.mp4' } }));
    const shared = await post(body({ output: { path: 'shared/a.mp4' } }));
    await post(body({ output: { path: 'shared/b.mp4' } }));
    const holding = await post(body({ output: { path: 'holding/x.mp4' } }));
    writeFileSync(out('holding/someone-elses.txt'), 'x');
    for (const p of ['flood', 'dbg', 'before/new', 'shared', 'holding']) expect(existsSync(out(p)), p).toBe(true);

    await cancel(queued.id);
    expect(existsSync(out('flood'))).toBe(false);
    expect(existsSync(out('dbg'))).toBe(false);
    await cancel(inBefore.id);
    // the folder it made goes; the one that was there stays
    expect(existsSync(out('before/new'))).toBe(false);
    expect(existsSync(out('before'))).toBe(true);
    // another queued render writes in it
    await cancel(shared.id);
    expect(existsSync(out('shared'))).toBe(true);
    // it holds someone else's file
    await cancel(holding.id);
    expect(readdirSync(out('holding'))).toEqual(['someone-elses.txt']);

    // a running one: once its runner has let go
    await cancel(running.id);
    await until(s.scheduler, running.id, (j) => j.state === 'cancelled');
    // the next queued one then runs through
    gate.release();
    await s.scheduler.idle();
    expect(existsSync(out('run'))).toBe(false);
    expect(existsSync(out('shared/b.mp4'))).toBe(true);

    // a failed one
    const failing = await post(body({ audio: ['fail-bad-input.wav'], output: { path: 'failed/deep/x.mp4' } }));
    expect((await until(s.scheduler, failing.id, (j) => j.state === 'failed')).reason).toBe('bad-input');
    await s.scheduler.idle();
    expect(existsSync(out('failed'))).toBe(false);
    // a done one keeps its folder
    const done = await post(body({ output: { path: 'kept/x.mp4' } }));
    await until(s.scheduler, done.id, (j) => j.state === 'done');
    expect(existsSync(out('kept/x.mp4'))).toBe(true);
  });
});
