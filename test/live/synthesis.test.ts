/**
 * A live session says what synthesizes its frames (GET /v1/live/{id} `synthesis`, its start line
 * in the log), as a render does: real CPU workers on the bundled demo network, one of them asked
 * for [webgpu, cpu] on a device-select variable that names no GPU (as on a rig whose WebGPU
 * failed), so it falls back to the CPU; the view follows a worker that dies and comes back.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LiveSynthesis } from '../../src/live/synthesis.ts';
import type { RenderNetwork } from '../../src/render/resolve.ts';
import { describeWorker } from '../../src/render/synthesis-record.ts';
import type { Frame, LoadedOn, SynthesisPool } from '../../src/synthesis/pool/pool.ts';
import { api, liveServer, tempDir, toneWav, type LiveServer } from './helpers.ts';
import { fellBackLine, fellBackWorker } from '../helpers/synthesis-fallback.ts';

const cpu = { engine: 'onnx' as const, isolation: 'auto' as const, intraOpThreads: 1 };
const w0 = { id: 'w0', engine: 'onnx', provider: 'cpu', adapter: null, precision: 'f32', precisionNote: null, fallback: [], binding: null };
const p0 = fellBackWorker('p0');
const P0_FELL_BACK = fellBackLine('p0');

describe('live session synthesis', () => {
  let s: LiveServer;
  const lines: Array<{ level: number; msg: string; synthesis?: unknown }> = [];
  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l));
        done();
      },
    });
    s = await liveServer({
      workerSpecs: [
        { id: 'w0', providers: ['cpu'], env: {}, ...cpu },
        { id: 'p0', providers: ['webgpu', 'cpu'], env: { MESA_VK_DEVICE_SELECT: 'ffff:ffff' }, ...cpu },
      ],
      log: pino({ level: 'info' }, sink),
    });
  }, 60_000);
  afterAll(async () => s?.close());

  it('the view shows the workers serving it, the fallback as a warning, the frames each made; the start line says it; a worker that dies and comes back shows as it is', { timeout: 90_000 }, async () => {
    const wav = toneWav(tempDir());
    const r = await api(s.base, 'POST', '/v1/live', { audio: { kind: 'file', path: wav }, networks: ['demo-64'], fps: 15 });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const id = r.body.id as string;
    expect(r.body.synthesis).toEqual({
      workers: [
        { ...w0, frames: expect.any(Number) },
        { ...p0, frames: expect.any(Number) },
      ],
      earlier: [],
      mixed: false,
      warnings: [expect.stringMatching(P0_FELL_BACK)],
    });

    // the start line, and the fallback as a warning of its own
    const start = lines.find((l) => l.msg.startsWith(`live session ${id} started`))!;
    expect(start.msg).toBe(`live session ${id} started; synthesis: w0 onnx/cpu; p0 onnx/cpu`);
    expect(start.synthesis).toEqual([w0, p0]);
    expect(lines.filter((l) => l.level === 40).map((l) => l.msg)).toContainEqual(expect.stringMatching(P0_FELL_BACK));

    // frames are counted by the worker that made them
    await vi.waitFor(
      async () => {
        const v = (await api(s.base, 'GET', `/v1/live/${id}`)).body;
        const made = v.synthesis.workers.reduce((n: number, w: { frames: number }) => n + w.frames, 0);
        expect(made).toBeGreaterThanOrEqual(5);
        expect(made).toBeLessThanOrEqual(v.frames.started);
      },
      { timeout: 30_000, interval: 100 },
    );

    // w0 dies: while it restarts the session is served by p0 alone, and the view says so
    s.render.networks.pool!.crashWorker('w0', 'exit');
    await vi.waitFor(
      async () => {
        const v = (await api(s.base, 'GET', `/v1/live/${id}`)).body;
        expect(v.synthesis.workers.map((w: { id: string }) => w.id)).toEqual(['p0']);
        expect(v.synthesis.warnings).toEqual([expect.stringMatching(P0_FELL_BACK), 'synthesis worker w0: serves none of the showing networks (down, restarting, or its load failed)']);
      },
      { timeout: 10_000, interval: 10 },
    );
    // back: serving again, on the same kind (its frames go on counting in its entry)
    await vi.waitFor(
      async () => {
        const v = (await api(s.base, 'GET', `/v1/live/${id}`)).body;
        expect(v.synthesis.workers.map((w: { id: string }) => w.id)).toEqual(['w0', 'p0']);
        expect(v.synthesis.warnings).toEqual([expect.stringMatching(P0_FELL_BACK)]);
        expect(v.synthesis.earlier).toEqual([]);
      },
      { timeout: 30_000, interval: 50 },
    );
    const stopped = await api(s.base, 'DELETE', `/v1/live/${id}`);
    expect(stopped.status).toBe(200);
    expect(stopped.body.synthesis.workers.map((w: { id: string }) => w.id)).toEqual(['w0', 'p0']);

    // the API document shows it (the view's schema is the one the reply is serialized with)
    const doc = (await api(s.base, 'GET', '/docs/json')).body;
    const shown = JSON.stringify(doc.paths['/v1/live/{id}'].get.responses['200'].content['application/json'].schema.properties.synthesis);
    for (const field of ['workers', 'earlier', 'mixed', 'warnings', 'fallback', 'binding', 'frames']) expect(shown).toContain(`"${field}"`);
  });
});

/**
 * A worker that comes back another way (its GPU gone after a restart: the CPU): the GPU cases the
 * CPU workers above cannot reach, from what the pool reports (LoadedOn), as synthesis-record.test.ts does.
 */
describe('live synthesis when a worker comes back on another provider', () => {
  it('its GPU frames go to `earlier`, the CPU ones count under it as it is now, mixed, the fallback a warning, and the change said in the log', () => {
    const net = { id: 'n', sidecar: { dtype: 'float32' } } as unknown as RenderNetwork;
    const h200 = { vendor: 'nvidia', architecture: 'hopper', device: '', description: 'NVIDIA H200', precision: 'f32' as const };
    const onGpu: LoadedOn = { worker: 'gpu0', provider: 'webgpu', engine: 'onnx', adapter: h200, pid: 1, isolation: 'process' };
    const onCpu: LoadedOn = { worker: 'gpu0', provider: 'cpu', engine: 'onnx', fallback: [{ provider: 'webgpu', error: 'no adapter' }], pid: 2, isolation: 'process' };
    let now = onGpu;
    const pool = { workerIds: ['gpu0'], loadedNetworks: () => new Map([['n', [now]]]) } as unknown as SynthesisPool;
    const said: string[] = [];
    const log = pino({ level: 'info' }, new Writable({ write: (c: Buffer, _e, done) => (said.push(JSON.parse(c.toString()).msg), done()) }));
    const live = new LiveSynthesis([net], log);
    const frame = (origin: LoadedOn) => ({ network: 'n', origin }) as Frame;

    expect(live.starting(pool, [net]).map(describeWorker)).toEqual(['gpu0 onnx/webgpu']);
    live.frame(frame(onGpu));
    live.frame(frame(onGpu));
    expect(live.view(pool, [net])).toMatchObject({ workers: [{ id: 'gpu0', provider: 'webgpu', frames: 2 }], earlier: [], mixed: false, warnings: [] });
    // restarted, on the CPU now
    now = onCpu;
    expect(live.view(pool, [net])).toMatchObject({ workers: [{ id: 'gpu0', provider: 'cpu', frames: 0 }], earlier: [{ id: 'gpu0', provider: 'webgpu', frames: 2 }], mixed: false, warnings: ['synthesis worker gpu0: webgpu unavailable (no adapter); fell back to cpu'] });
    live.frame(frame(onCpu));
    expect(live.view(pool, [net])).toMatchObject({ workers: [{ id: 'gpu0', provider: 'cpu', frames: 1 }], earlier: [{ provider: 'webgpu', frames: 2 }], mixed: true });
    expect(said).toEqual(['synthesis: frames now also from gpu0 onnx/cpu', 'synthesis worker gpu0: webgpu unavailable (no adapter); fell back to cpu']);
    // no pool (the workers not running): nothing to say
    expect(live.view(undefined, [net])).toBeNull();
  });
});
