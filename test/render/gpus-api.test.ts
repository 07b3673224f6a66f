/**
 * /v1/renders/gpus: the operator's pause and rate limit per GPU through the real app (fastify
 * inject, the app's validation and error handler), a real scheduler and throttle, a fake runner
 * that awaits the throttle before each batch. Thermal yielding's layer is set as its controller
 * sets it (throttle.setYield); the operator's changes during a yield wait for it to lift.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RenderGpuView } from '../../src/render/gpus.ts';
import type { GpuThrottle, RenderDevice } from '../../src/render/throttle.ts';
import type { RenderJobView } from '../../src/render/view.ts';
import { rendersApp } from './api-setup.ts';
import { fakeRunner } from './fake-runner.ts';
import { until } from './job-helpers.ts';

const apps: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const a of apps.splice(0)) await a.close();
});

/** resolves at the next time a render is held by a pause (the throttle's hold event) */
function nextHold(t: GpuThrottle): Promise<{ gpus: RenderDevice[]; reason: string }> {
  return new Promise((resolve) => {
    const off = t.onHold((h) => {
      off();
      resolve(h);
    });
  });
}

const idle = (gpu: RenderDevice): RenderGpuView => ({ gpu, paused: false, maxFps: null, maxFpsFrom: null, reason: null, operator: { paused: false, maxFps: null }, yield: null });

async function setup(gpus: number[] = [0, 1], frames = 8) {
  const s = await rendersApp(fakeRunner({ frames, batch: 4 }), {}, { gpus });
  apps.push(s);
  const patch = async (gpu: number | string, body: unknown) => {
    const r = await s.app.inject({ method: 'PATCH', url: `/v1/renders/gpus/${gpu}`, headers: { 'content-type': 'application/json' }, payload: typeof body === 'string' ? body : JSON.stringify(body) });
    return { status: r.statusCode, body: r.json<RenderGpuView & { message?: string }>() };
  };
  const get = async (url: string) => {
    const r = await s.app.inject(url);
    return { status: r.statusCode, body: r.json<Record<string, unknown>>() };
  };
  const submit = async (path: string) => {
    const r = await s.app.inject({ method: 'POST', url: '/v1/renders', payload: { audio: ['a.wav'], networks: ['demo-64'], output: { path } } });
    expect(r.statusCode, r.body).toBe(202);
    return r.json<RenderJobView>().id;
  };
  return { ...s, throttle: s.scheduler.throttle, patch, get, submit };
}

describe('/v1/renders/gpus', () => {
  it('lists the GPUs renders run on; a PATCH pauses a running render, resumes it and limits its rate', async () => {
    const s = await setup();
    expect(await s.get('/v1/renders/gpus')).toEqual({ status: 200, body: { gpus: [idle(0), idle(1)] } });

    const paused = await s.patch(1, { paused: true, reason: 'quiet hours' });
    expect(paused).toEqual({ status: 200, body: { ...idle(1), paused: true, reason: 'quiet hours', operator: { paused: true, maxFps: null } } });
    expect((await s.get('/v1/renders/gpus/1')).body).toEqual(paused.body);
    // the render runs on GPUs 0 and 1: GPU 1's pause holds it before its first batch
    const held = nextHold(s.throttle);
    const id = await s.submit('a.mp4');
    expect(await held).toEqual({ gpus: [0, 1], reason: 'gpu 1: quiet hours' });
    expect(s.scheduler.view(id)).toMatchObject({ state: 'running', framesDone: 0 });

    expect((await s.patch(1, { paused: false })).body).toEqual(idle(1));
    expect(await until(s.scheduler, id, (j) => j.state === 'done')).toMatchObject({ framesDone: 8 });

    // a rate: from the operator, with a reason saying so; null lifts it (the GPU as it was)
    expect((await s.patch(0, { maxFps: 1000 })).body).toEqual({ ...idle(0), maxFps: 1000, maxFpsFrom: 'operator', reason: 'held to 1000 fps by the operator', operator: { paused: false, maxFps: 1000 } });
    const id2 = await s.submit('b.mp4');
    await until(s.scheduler, id2, (j) => j.state === 'done');
    // pause and rate in one change; absent keys keep their value
    expect((await s.patch(0, { paused: true, maxFps: 5 })).body).toMatchObject({ paused: true, maxFps: 5, reason: 'paused by the operator', operator: { paused: true, maxFps: 5 } });
    expect((await s.patch(0, { paused: false })).body).toMatchObject({ paused: false, maxFps: 5, reason: 'held to 5 fps by the operator', operator: { paused: false, maxFps: 5 } });
    expect((await s.patch(0, { maxFps: null })).body).toEqual(idle(0));
  });

  it('stays under thermal yielding: an operator change made during a yield applies once the yield lifts', async () => {
    const s = await setup([0]);
    s.throttle.setYield(0, { paused: true, fps: null }, 'thermal yield (zone gpu0, step 3/3)');
    const held = nextHold(s.throttle);
    const id = await s.submit('a.mp4');
    await held;

    // the operator lifts their (absent) pause and sets a rate: kept, the render stays held
    const again = nextHold(s.throttle);
    const r = await s.patch(0, { paused: false, maxFps: 500 });
    expect(r).toEqual({
      status: 200,
      body: { gpu: 0, paused: true, maxFps: 500, maxFpsFrom: 'operator', reason: 'thermal yield (zone gpu0, step 3/3)', operator: { paused: false, maxFps: 500 }, yield: { paused: true, maxFps: null } },
    });
    // the change woke the held render, and yielding's pause held it again
    expect(await again).toEqual({ gpus: [0], reason: 'gpu 0: thermal yield (zone gpu0, step 3/3)' });
    expect(s.scheduler.view(id)).toMatchObject({ state: 'running', framesDone: 0 });

    // lifted: the operator's settings made meanwhile are what applies
    s.throttle.setYield(0, null);
    expect((await s.get('/v1/renders/gpus/0')).body).toEqual({ ...idle(0), maxFps: 500, maxFpsFrom: 'operator', reason: 'held to 500 fps by the operator', operator: { paused: false, maxFps: 500 } });
    await until(s.scheduler, id, (j) => j.state === 'done');

    // yielding's lower rate governs while it yields; the operator's higher one is kept for after
    s.throttle.setYield(0, { paused: false, fps: 2 }, 'thermal yield (zone gpu0, step 1/3)');
    expect((await s.patch(0, { maxFps: 100 })).body).toMatchObject({ paused: false, maxFps: 2, maxFpsFrom: 'yield', reason: 'thermal yield (zone gpu0, step 1/3)', operator: { maxFps: 100 }, yield: { paused: false, maxFps: 2 } });
    s.throttle.setYield(0, null);
    expect((await s.get('/v1/renders/gpus/0')).body).toMatchObject({ maxFps: 100, maxFpsFrom: 'operator', yield: null });

    // and an operator pause outlives yielding's
    await s.patch(0, { paused: true });
    s.throttle.setYield(0, { paused: true, fps: null }, 'thermal yield');
    expect((await s.get('/v1/renders/gpus/0')).body).toMatchObject({ paused: true, reason: 'paused by the operator; thermal yield' });
    s.throttle.setYield(0, null);
    expect((await s.get('/v1/renders/gpus/0')).body).toMatchObject({ paused: true, reason: 'paused by the operator', yield: null });
  });

  it('refuses bad bounds with 400 naming the field, unknown GPUs with 404, and changes nothing then', async () => {
    const s = await setup();
    const cases: Array<[string | number, string, number, string | RegExp]> = [
      [0, '{"maxFps":0}', 400, 'body/maxFps must be > 0'],
      [0, '{"maxFps":-1}', 400, 'body/maxFps must be > 0'],
      [0, '{"maxFps":10001}', 400, 'body/maxFps must be <= 10000'],
      [0, '{"maxFps":1e309}', 400, /^body\/maxFps must be/],
      [0, '{"maxFps":"fast"}', 400, 'body/maxFps must be number or null'],
      [0, '{"maxFps":[5]}', 400, /^body\/maxFps must be number/],
      [0, '{"paused":"yes"}', 400, 'body/paused must be boolean'],
      [0, '{"paused":1}', 400, /^body\/paused must be boolean/],
      [0, '{"reason":""}', 400, 'body/reason must NOT have fewer than 1 characters'],
      [0, '{}', 400, 'body must NOT have fewer than 1 properties'],
      [0, '{"fps":3}', 400, 'body must NOT have additional properties (got "fps")'],
      [-1, '{"paused":true}', 400, 'params/gpu must be >= 0'],
      ['1.5', '{"paused":true}', 400, 'params/gpu must be integer or "cpu"'],
      ['abc', '{"paused":true}', 400, 'params/gpu must be integer or "cpu"'],
      [2, '{"paused":true}', 404, 'no GPU 2: renders run on GPU 0, 1 (synthesis.workers[].gpu)'],
    ];
    for (const [gpu, payload, status, message] of cases) {
      const r = await s.patch(gpu, payload);
      expect(r.status, `${gpu} ${payload}`).toBe(status);
      if (typeof message === 'string') expect(r.body.message, `${gpu} ${payload}`).toBe(message);
      else expect(r.body.message, `${gpu} ${payload}`).toMatch(message);
    }
    expect((await s.get('/v1/renders/gpus/2')).status).toBe(404);
    expect(await s.get('/v1/renders/gpus')).toEqual({ status: 200, body: { gpus: [idle(0), idle(1)] } });
    expect(s.throttle.state()).toEqual([]);
  });

  it('on a daemon whose renders run on no worker, lists none and says why a PATCH finds nothing', async () => {
    const s = await setup([]);
    expect(await s.get('/v1/renders/gpus')).toEqual({ status: 200, body: { gpus: [] } });
    const r = await s.patch(0, { paused: true });
    expect(r.status).toBe(404);
    expect(r.body.message).toMatch(/^no GPU 0: renders run on no synthesis worker/);
  });

  it('pauses, resumes and limits the renders of CPU workers ("cpu"), as a GPU\'s', async () => {
    // the embedded default: one worker without a gpu
    const s = await setup(['cpu'] as unknown as number[]);
    expect(await s.get('/v1/renders/gpus')).toEqual({ status: 200, body: { gpus: [idle('cpu')] } });
    const paused = await s.patch('cpu', { paused: true, reason: 'the show starts' });
    expect(paused).toEqual({ status: 200, body: { ...idle('cpu'), paused: true, reason: 'the show starts', operator: { paused: true, maxFps: null } } });
    expect((await s.get('/v1/renders/gpus/cpu')).body).toEqual(paused.body);
    const held = nextHold(s.throttle);
    const id = await s.submit('a.mp4');
    expect(await held).toEqual({ gpus: ['cpu'], reason: 'cpu: the show starts' });
    expect(s.scheduler.view(id)).toMatchObject({ state: 'running', framesDone: 0 });
    expect((await s.patch('cpu', { paused: false })).body).toEqual(idle('cpu'));
    expect(await until(s.scheduler, id, (j) => j.state === 'done')).toMatchObject({ framesDone: 8 });
    expect((await s.patch('cpu', { maxFps: 1000 })).body).toMatchObject({ gpu: 'cpu', maxFps: 1000, maxFpsFrom: 'operator' });
    // no GPU here: a GPU index is a 404 that says what renders run on
    const gpu = await s.patch(0, { paused: true });
    expect(gpu.status).toBe(404);
    expect(gpu.body.message).toBe('no GPU 0: renders run on "cpu" (the workers without a gpu) alone: no synthesis worker names a gpu');
    const bad = await s.patch('gpu0', { paused: true });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toBe('params/gpu must be integer or "cpu"');
  });

  it('refuses "cpu" where every worker names a GPU, saying so', async () => {
    const s = await setup([0]);
    const r = await s.patch('cpu', { paused: true });
    expect(r.status).toBe(404);
    expect(r.body.message).toBe('no CPU workers: every synthesis worker names a gpu; renders run on GPU 0 (synthesis.workers[].gpu)');
  });

  it('is in the OpenAPI document with its body schema', async () => {
    const s = await setup();
    const doc = (await s.get('/docs/json')).body as { paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { properties: Record<string, unknown> } }> } }>> };
    expect(Object.keys(doc.paths['/v1/renders/gpus/{gpu}'] ?? {}).sort()).toEqual(['get', 'patch']);
    expect(Object.keys(doc.paths['/v1/renders/gpus/{gpu}']!.patch!.requestBody!.content['application/json']!.schema.properties).sort()).toEqual(['maxFps', 'paused', 'reason']);
    expect(doc.paths['/v1/renders/gpus']).toHaveProperty('get');
  });
});
