import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/api/app.ts';
import { resolveConfig } from '../../src/config/load.ts';
import type { Cooler } from '../../src/cooler/cooler.ts';
import { ServiceRegistry, type DaemonContext } from '../../src/subsystem.ts';
import { createEventBus } from '../../src/events.ts';
import { Supervisor } from '../../src/lifecycle/supervisor.ts';
import { createRegistry } from '../../src/metrics.ts';
import { OnnxGraph } from '../../src/synthesis/onnx/graph.ts';
import { createSynthesis, type Synthesis } from '../../src/synthesis/subsystem.ts';
import { BUNDLED_NETWORKS_DIR } from '../../src/synthesis/networks/catalogue.ts';
import type { NetworkView } from '../../src/synthesis/networks/manager.ts';
import { captureLog, sample } from './pool/helpers.ts';
import { tinyNetBytes } from './pool/tiny-net.ts';
import { DEMO_ID, demoSidecar, placeNetwork, tempDir } from './networks/fixtures.ts';

/** Declares the demo's inputs and outputs but cannot be run: its only op does not exist. */
function unloadableModel(): Uint8Array {
  const s = demoSidecar();
  const g = new OnnxGraph('unloadable');
  for (const i of s.inputs) g.input(i.name, i.dtype, i.shape);
  for (const o of s.outputs) {
    g.rename(g.node('NoSuchOperator', [s.inputs[0]!.name]), o.name);
    g.output(o.name, o.dtype, o.shape);
  }
  return g.toBytes();
}

function baseConfig(synthesis: unknown) {
  return resolveConfig({
    cooler: { driver: 'simulated', fans: [{ id: 'f0', channel: 0 }] },
    thermal: { sensors: { source: 'simulated' }, zones: [{ id: 'z0', gpus: [0], fans: ['f0'], mode: 'pid', pid: { setpoint: 75 } }] },
    synthesis,
  });
}

function context(synthesis: unknown, log = captureLog().log): DaemonContext {
  return { config: baseConfig(synthesis), log, registry: createRegistry(), cooler: {} as Cooler, events: createEventBus(), services: new ServiceRegistry() };
}

async function until(cond: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('/v1/networks with the synthesis subsystem', () => {
  const dir = tempDir();
  const { log, lines } = captureLog();
  let ctx: DaemonContext;
  let syn: Synthesis;
  let sup: Supervisor;
  let app: FastifyInstance;

  const list = async () => (await app.inject('/v1/networks')).json() as { active: string | null; networks: NetworkView[] };
  const net = async (id: string) => (await list()).networks.find((n) => n.id === id)!;

  beforeAll(async () => {
    placeNetwork(dir, 'second');
    placeNetwork(dir, 'mismatch', { onnx: tinyNetBytes(3) });
    placeNetwork(dir, 'unloadable', { onnx: unloadableModel() });
    ctx = context({ networks: { dirs: [dir] }, workers: [{ id: 'cpu0', providers: ['cpu'], intraOpThreads: 1 }] }, log);
    syn = createSynthesis(ctx);
    sup = new Supervisor(syn.units, log);
    app = await buildApp({ registry: ctx.registry, plugins: syn.plugins, notReady: () => sup.notReady() });
    await sup.start();
  });
  afterAll(async () => {
    await app?.close();
    await sup?.stop();
  });

  it('becomes ready once the default network is loaded and warmed, and lists every network with its state', async () => {
    expect(sup.notReady()).toContain('synthesis');
    await until(() => sup.notReady().length === 0);
    const body = await list();
    expect(body.active).toBe(DEMO_ID);
    const demo = body.networks.find((n) => n.id === DEMO_ID)!;
    const sidecar = demoSidecar();
    expect(demo).toMatchObject({
      state: 'loaded',
      active: true,
      bundled: true,
      path: join(BUNDLED_NETWORKS_DIR, `${DEMO_ID}.onnx`),
      resolution: 64,
      numWs: sidecar.numWs,
      zDim: sidecar.zDim,
      dtype: sidecar.dtype,
      loaded: [{ worker: 'cpu0', provider: 'cpu', isolation: 'thread', pid: process.pid }],
    });
    expect(body.networks.find((n) => n.id === 'second')).toMatchObject({ state: 'available', bundled: false, loaded: [] });
    const mismatch = body.networks.find((n) => n.id === 'mismatch')!;
    expect(mismatch.state).toBe('invalid');
    expect(mismatch.error).toMatch(/input 'z' .* is missing from the ONNX model; it has 'w'/);
    expect(await sample(ctx.registry, 'gance_synthesis_networks_loaded')).toBe(1);
  });

  it('renders the demo network through the workers exactly as a direct session does', async () => {
    const pool = syn.manager.pool!;
    const z = Float32Array.from({ length: 512 }, (_, i) => Math.sin(i * 0.37) * 1.3);
    const psi = Float32Array.of(0.7);
    const frame = await pool.submit({ feeds: { z, psi } });
    expect(frame.outputs.frames!.dims).toEqual([64, 64, 3]);
    expect(Object.keys(frame.outputs)).toEqual(['frames']);
    const session = await ort.InferenceSession.create(join(BUNDLED_NETWORKS_DIR, `${DEMO_ID}.onnx`));
    const want = await session.run({ z: new ort.Tensor('float32', z, [1, 512]), psi: new ort.Tensor('float32', psi, [1]) }, ['frames']);
    expect(Buffer.from(frame.outputs.frames!.data as Uint8Array).equals(Buffer.from(want.frames!.data as Uint8Array))).toBe(true);
    expect(await sample(ctx.registry, 'gance_synthesis_frames_total', { worker: 'cpu0' })).toBeGreaterThanOrEqual(1);
  });

  it('answers 404 for an unknown network and 422 with the reason for an invalid one', async () => {
    const unknown = await app.inject({ method: 'POST', url: '/v1/networks/nope/load' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().message).toMatch(/no network "nope" \(known: .*demo-64.*second/);
    const invalid = await app.inject({ method: 'POST', url: '/v1/networks/mismatch/load' });
    expect(invalid.statusCode).toBe(422);
    expect(invalid.json()).toMatchObject({ statusCode: 422, error: 'Unprocessable Entity' });
    expect(invalid.json().message).toMatch(/mismatch\.onnx does not match its sidecar/);
  });

  it('loads a network in the background (202), then lists it as loaded; loading it again is 200', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/networks/second/load' });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ id: 'second', state: 'loading' });
    expect((await net('second')).state).toBe('loading');
    await until(async () => (await net('second')).state === 'loaded');
    expect((await net('second')).loaded).toEqual([{ worker: 'cpu0', provider: 'cpu', engine: 'onnx', isolation: 'thread', pid: process.pid }]);
    expect((await list()).active).toBe(DEMO_ID);
    const again = await app.inject({ method: 'POST', url: '/v1/networks/second/load' });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual({ id: 'second', state: 'loaded' });
    expect(await sample(ctx.registry, 'gance_synthesis_networks_loaded')).toBe(2);
  });

  it('reports a load that fails in the workers, and keeps rendering with the networks it had', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/networks/unloadable/load' });
    expect(res.statusCode).toBe(202);
    await until(async () => (await net('unloadable')).state === 'failed');
    const failed = await net('unloadable');
    expect(failed.error).toMatch(/network "unloadable" .* could not be loaded: worker cpu0: no execution provider could load .*unloadable\.onnx \(cpu: .*NoSuchOperator/);
    expect(lines.some((l) => l.level === 50 && /network "unloadable" failed to load/.test(l.msg))).toBe(true);
    const body = await list();
    expect(body.active).toBe(DEMO_ID);
    expect(body.networks.filter((n) => n.state === 'loaded').map((n) => n.id).sort()).toEqual([DEMO_ID, 'second']);
    const frame = await syn.manager.pool!.submit({ feeds: { z: new Float32Array(512), psi: Float32Array.of(1) } });
    expect(frame.network).toBe(DEMO_ID);
    expect(sup.notReady()).toEqual([]);
  });

  it('makes a loaded network active on request', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/networks/second/load?activate=true' });
    expect(res.statusCode).toBe(200);
    const body = await list();
    expect(body.active).toBe('second');
    expect(body.networks.find((n) => n.id === 'second')!.active).toBe(true);
    expect(body.networks.find((n) => n.id === DEMO_ID)!.active).toBe(false);
    const frame = await syn.manager.pool!.submit({ feeds: { z: new Float32Array(512), psi: Float32Array.of(1) } });
    expect(frame.network).toBe('second');
  });

  it('hot-swaps with replace: the new network becomes active and the one it replaced is unloaded; unload refuses the active one', async () => {
    // 'second' is active (previous test); demo is loaded beside it
    expect((await app.inject({ method: 'POST', url: `/v1/networks/second/unload` })).statusCode).toBe(409);
    const refused = await app.inject({ method: 'POST', url: '/v1/networks/second/unload' });
    expect(refused.json().message).toMatch(/"second" is active; activate another one first/);
    expect((await app.inject({ method: 'POST', url: '/v1/networks/nope/unload' })).statusCode).toBe(404);

    // frames submitted for the active network before the swap still render with it
    const before = syn.manager.pool!.submit({ feeds: { z: new Float32Array(512), psi: Float32Array.of(1) } });
    const swap = await app.inject({ method: 'POST', url: `/v1/networks/${DEMO_ID}/load?replace=true` });
    expect(swap.statusCode).toBe(200);
    expect((await before).network).toBe('second');
    await until(async () => (await net('second')).state === 'available' && (await sample(ctx.registry, 'gance_synthesis_networks_loaded')) === 1);
    const body = await list();
    expect(body.active).toBe(DEMO_ID);
    expect(body.networks.filter((n) => n.state === 'loaded').map((n) => n.id)).toEqual([DEMO_ID]);
    expect(await sample(ctx.registry, 'gance_synthesis_networks_loaded')).toBe(1);
    expect((await syn.manager.pool!.submit({ feeds: { z: new Float32Array(512), psi: Float32Array.of(1) } })).network).toBe(DEMO_ID);
    expect(sup.notReady()).toEqual([]);

    // a swap to a network that is not loaded yet: loads in the background, then replaces
    const bg = await app.inject({ method: 'POST', url: '/v1/networks/second/load?replace=true' });
    expect(bg.statusCode).toBe(202);
    await until(async () => (await list()).active === 'second' && (await net(DEMO_ID)).state === 'available');
    // the default network unloaded: still ready, since a network is loaded and active
    expect(sup.notReady()).toEqual([]);
    // and a plain unload of a loaded, inactive network
    expect((await app.inject({ method: 'POST', url: `/v1/networks/${DEMO_ID}/load` })).statusCode).toBe(202);
    await until(async () => (await net(DEMO_ID)).state === 'loaded');
    const un = await app.inject({ method: 'POST', url: `/v1/networks/${DEMO_ID}/unload` });
    expect(un.statusCode).toBe(200);
    expect(un.json()).toEqual({ id: DEMO_ID, state: 'available' });
    expect((await net(DEMO_ID)).state).toBe('available');
    expect(await sample(ctx.registry, 'gance_synthesis_networks_loaded')).toBe(1);
  });

  it('documents the routes in the OpenAPI spec, and its metrics pass promtool', async () => {
    const spec = (await app.inject('/docs/json')).json() as { paths: Record<string, unknown> };
    expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining(['/v1/networks/', '/v1/networks/{id}/load', '/v1/networks/{id}/unload']));
    const body = await ctx.registry.metrics();
    for (const name of ['gance_synthesis_frames_total', 'gance_synthesis_latency_seconds', 'gance_synthesis_batch_size', 'gance_synthesis_worker_restarts_total', 'gance_synthesis_networks_loaded']) {
      expect(body).toContain(`# TYPE ${name}`);
    }
    const file = join(tempDir(), 'metrics.txt');
    writeFileSync(file, body);
    execFileSync('sh', ['-c', `promtool check metrics < ${file}`]);
  });
});

describe('synthesis subsystem edge cases', () => {
  it('stays not ready, says why, and serves the API when the default network does not exist', async () => {
    const { log, lines } = captureLog();
    const ctx = context({ networks: { default: 'missing-net' }, workers: [{ id: 'cpu0', providers: ['cpu'] }] }, log);
    const syn = createSynthesis(ctx);
    const sup = new Supervisor(syn.units, log);
    await sup.start();
    try {
      expect(sup.notReady()).toEqual(['synthesis']);
      expect(lines.some((l) => l.level === 50 && /default network "missing-net" cannot be loaded: no network "missing-net" \(known: .*demo-64/.test(l.msg))).toBe(true);
      const app = await buildApp({ registry: ctx.registry, plugins: syn.plugins, notReady: () => sup.notReady() });
      expect((await app.inject('/readyz')).statusCode).toBe(503);
      expect((await app.inject('/v1/networks')).json().active).toBeNull();
      await app.close();
    } finally {
      await sup.stop();
    }
  });

  it('a stop while the default network loads logs no load failure (the pool closing ends the load; nothing failed)', async () => {
    const { log, lines } = captureLog();
    const ctx = context({ workers: [{ id: 'cpu0', providers: ['cpu'] }] }, log);
    const syn = createSynthesis(ctx);
    const sup = new Supervisor(syn.units, log);
    await sup.start();
    // at once: the worker is still starting and the load waits for it
    await sup.stop();
    await new Promise((r) => setImmediate(r));
    expect(lines.filter((l) => l.level >= 50).map((l) => l.msg)).toEqual([]);
  });

  it('answers 409 to loads when synthesis is disabled, and still lists the networks', async () => {
    const ctx = context({ enabled: false });
    const syn = createSynthesis(ctx);
    const sup = new Supervisor(syn.units, ctx.log);
    await sup.start();
    const app = await buildApp({ registry: ctx.registry, plugins: syn.plugins, notReady: () => sup.notReady() });
    try {
      expect(sup.notReady()).toEqual([]);
      const res = await app.inject({ method: 'POST', url: `/v1/networks/${DEMO_ID}/load` });
      expect(res.statusCode).toBe(409);
      expect(res.json().message).toBe('synthesis is disabled (synthesis.enabled: false)');
      expect((await app.inject('/v1/networks')).json().networks.find((n: NetworkView) => n.id === DEMO_ID).state).toBe('available');
    } finally {
      await app.close();
      await sup.stop();
    }
  });

  it('rejects a configuration it cannot run, naming the field', () => {
    expect(() => createSynthesis(context({ workers: [{ id: 'a' }, { id: 'a' }] }))).toThrow(/synthesis\.workers\[1\]\.id: duplicate worker id "a"/);
    expect(() => createSynthesis(context({ workers: [{ id: 'g', providers: ['webgpu', 'cpu'], isolation: 'thread' }] }))).toThrow(
      /synthesis\.workers\[0\]\.isolation: webgpu needs a process per GPU/,
    );
  });
});

describe('/v1/networks with a webgpu worker asking for precision auto', () => {
  let sup: Supervisor | undefined;
  let app: FastifyInstance | undefined;
  afterAll(async () => {
    await app?.close();
    await sup?.stop();
  });

  it('shows the adapter and the f16 arithmetic it got (lavapipe has shader-f16)', async () => {
    const log = captureLog().log;
    const ctx = context({ workers: [{ id: 'gpu0', engine: 'webgpu', adapter: { precision: 'auto' } }] }, log);
    const syn = createSynthesis(ctx);
    sup = new Supervisor(syn.units, log);
    app = await buildApp({ registry: ctx.registry, plugins: syn.plugins, notReady: () => sup!.notReady() });
    await sup.start();
    await until(() => sup!.notReady().length === 0, 60_000);
    const body = (await app.inject('/v1/networks')).json() as { networks: NetworkView[] };
    const loaded = body.networks.find((n) => n.id === DEMO_ID)!.loaded;
    expect(loaded).toHaveLength(1);
    expect(loaded[0]).toMatchObject({ worker: 'gpu0', engine: 'webgpu', adapter: { precision: 'f16', description: expect.stringMatching(/llvmpipe/) } });
    expect(loaded[0]!.adapter).not.toHaveProperty('precisionNote');
  }, 90_000);
});
