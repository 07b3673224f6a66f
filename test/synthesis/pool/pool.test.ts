import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SynthesisPool, type Frame, type FrameRequest } from '../../../src/synthesis/pool/pool.ts';
import { tinyNetworks, tinyW } from './tiny-net.ts';
import { captureLog, metrics, Reference, sample } from './helpers.ts';

/** A process environment in which the Vulkan loader finds no driver, so WebGPU has no adapter. */
const NO_VULKAN = { VK_DRIVER_FILES: '/nonexistent/none.json', VK_ICD_FILENAMES: '/nonexistent/none.json' };

/**
 * One thread worker (CPU) and one process worker (asked for WebGPU first: its process sees no
 * Vulkan driver, so it falls back to CPU in its own process, which is the path a rig without a
 * working GPU driver takes for real).
 */
describe('synthesis pool: thread + process workers', () => {
  const [netA, netB] = tinyNetworks([11, 22]);
  const ref = new Reference();
  const { log, lines } = captureLog();
  const { registry, metrics: m } = metrics();
  let pool: SynthesisPool;

  const frames = (from: number, count: number): FrameRequest[] => Array.from({ length: count }, (_, i) => ({ feeds: { w: tinyW(from + i) } }));

  async function expectReference(frame: Frame, i: number) {
    const net = frame.network === netA!.id ? netA! : netB!;
    const want = (await ref.run(net, { w: tinyW(i) })).image as Uint8Array;
    expect(frame.outputs.image!.dims).toEqual([8, 8, 3]);
    expect(Buffer.from(frame.outputs.image!.data as Uint8Array).equals(Buffer.from(want)), `frame ${i} on ${frame.worker} (${frame.network})`).toBe(true);
  }

  beforeAll(async () => {
    pool = new SynthesisPool({
      workers: [
        { id: 't0', providers: [{ name: 'cpu' }], isolation: 'thread', intraOpThreads: 1 },
        // no Vulkan driver for this process (CI has lavapipe, which onnxruntime's WebGPU provider would take)
        { id: 'p0', providers: [{ name: 'webgpu' }, { name: 'cpu' }], isolation: 'process', intraOpThreads: 1, env: NO_VULKAN },
      ],
      log,
      metrics: m,
      maxBatch: 4,
      restartDelayMs: 20,
      testHooks: true,
    });
    await pool.load(netA!);
    pool.activate(netA!.id);
  });
  afterAll(() => pool.close());

  it('falls back from an unavailable provider with a log line naming it, and reports where the network is loaded', () => {
    const fallback = lines.find((l) => l.level === 40 && /p0: webgpu unavailable .*fell back to cpu/.test(l.msg));
    expect(fallback, lines.map((l) => l.msg).join('\n')).toBeDefined();
    const where = pool.loadedNetworks().get(netA!.id)!;
    expect(where.map((w) => [w.worker, w.provider, w.isolation])).toEqual([
      ['t0', 'cpu', 'thread'],
      ['p0', 'cpu', 'process'],
    ]);
    expect(where[1]!.pid).not.toBe(process.pid);
    // what it tried first and why, for the API and a render's run config
    expect(where[0]!.fallback).toBeUndefined();
    expect(where[1]!.fallback).toEqual([{ provider: 'webgpu', error: expect.stringMatching(/\S/) }]);
    expect(pool.isReady()).toBe(true);
  });

  it('returns the reference pixels, in submit order, batched, from both workers', async () => {
    const got: Frame[] = [];
    for await (const f of pool.stream(frames(0, 48))) got.push(f);
    expect(got.map((f) => f.seq)).toEqual(got.map((_, i) => got[0]!.seq + i));
    for (let i = 0; i < got.length; i++) await expectReference(got[i]!, i);
    expect(new Set(got.map((f) => f.worker))).toEqual(new Set(['t0', 'p0']));
    // each frame says what made it: its worker as loaded, the fallback included
    const where = pool.loadedNetworks().get(netA!.id)!;
    for (const f of got) expect(f.origin).toBe(where.find((w) => w.worker === f.worker));
    expect(Math.max(...got.map((f) => f.batchSize))).toBeGreaterThan(1);
    expect(Math.max(...got.map((f) => f.batchSize))).toBeLessThanOrEqual(4);
    const total = (await sample(registry, 'gance_synthesis_frames_total', { worker: 't0' })) + (await sample(registry, 'gance_synthesis_frames_total', { worker: 'p0' }));
    expect(total).toBe(48);
    expect(await sample(registry, 'gance_synthesis_latency_seconds_count')).toBe(48);
    expect(await sample(registry, 'gance_synthesis_batch_size_sum')).toBe(48);
  });

  it('hands back frame pixels as views on the buffer that came from the worker (no copy per frame)', async () => {
    const got = await Promise.all(frames(100, 8).map((r) => pool.submit(r)));
    const batched = got.filter((f) => f.batchSize > 1);
    expect(batched.length).toBeGreaterThan(0);
    for (const f of batched) {
      const data = f.outputs.image!.data;
      expect(data.buffer.byteLength).toBe(f.batchSize * 8 * 8 * 3);
      const mates = got.filter((g) => g !== f && g.outputs.image!.data.buffer === data.buffer);
      expect(mates.length).toBe(f.batchSize - 1);
    }
  });

  it('keeps submit order when a slower worker answers later', async () => {
    pool.slowWorker('t0', 60);
    const resolvedOrder: number[] = [];
    const requests = frames(200, 16);
    const promises = requests.map((r) => pool.submit(r).then((f) => (resolvedOrder.push(f.seq), f)));
    const streamed: Frame[] = [];
    for await (const f of pool.stream(frames(300, 16))) streamed.push(f);
    await Promise.all(promises);
    pool.slowWorker('t0', 0);
    const sorted = [...resolvedOrder].sort((a, b) => a - b);
    expect(resolvedOrder, 'the fast process worker should have answered some later frames first').not.toEqual(sorted);
    expect(streamed.map((f) => f.seq)).toEqual(streamed.map((_, i) => streamed[0]!.seq + i));
    for (let i = 0; i < streamed.length; i++) await expectReference(streamed[i]!, 300 + i);
  });

  for (const [worker, how] of [
    ['t0', 'exit'],
    ['t0', 'throw'],
    ['p0', 'exit'],
    ['p0', 'abort'],
  ] as const) {
    it(`restarts worker ${worker} after it dies (${how}) mid-batch and retries its frames`, async () => {
      const restartsBefore = await sample(registry, 'gance_synthesis_worker_restarts_total', { worker });
      const pidBefore = pool.workerPid(worker);
      pool.crashWorker(worker, how, true);
      const got: Frame[] = [];
      for await (const f of pool.stream(frames(400, 24))) got.push(f);
      expect(got.map((f) => f.seq)).toEqual(got.map((_, i) => got[0]!.seq + i));
      for (let i = 0; i < got.length; i++) await expectReference(got[i]!, 400 + i);
      expect(await sample(registry, 'gance_synthesis_worker_restarts_total', { worker })).toBe(restartsBefore + 1);
      expect(lines.some((l) => l.level === 50 && l.worker === worker && /died .*restarting it and retrying its frames/.test(l.msg))).toBe(true);
      // wait for the restarted worker, then check it serves again
      await until(() => pool.isReady());
      if (worker === 'p0') expect(pool.workerPid(worker)).not.toBe(pidBefore);
      const after = await Promise.all(frames(500, 8).map((r) => pool.submit(r)));
      for (let i = 0; i < after.length; i++) await expectReference(after[i]!, 500 + i);
    });
  }

  it('swaps networks between two frames: none lost, none mixed, the old one released after', async () => {
    let swap: Promise<void> | undefined;
    let swapped = false;
    let submitted = 0;
    // a paced source that keeps going while the swap (a background load) runs, and 20 frames past it
    async function* source() {
      let after = 0;
      for (let i = 0; after < 20; i++) {
        if (i === 20) swap = pool.swap(netB!).then(() => void (swapped = true));
        if (swapped) after++;
        await new Promise((r) => setTimeout(r, 5));
        submitted++;
        yield { feeds: { w: tinyW(600 + i) } };
      }
    }
    const got: Frame[] = [];
    for await (const f of pool.stream(source(), { window: 4 })) got.push(f);
    await swap;
    expect(got).toHaveLength(submitted);
    expect(got.map((f) => f.seq)).toEqual(got.map((_, i) => got[0]!.seq + i));
    const switchAt = got.findIndex((f) => f.network === netB!.id);
    expect(switchAt, 'the swap should land mid-stream').toBeGreaterThan(20);
    expect(switchAt).toBeLessThan(got.length);
    expect(got.slice(0, switchAt).every((f) => f.network === netA!.id)).toBe(true);
    expect(got.slice(switchAt).every((f) => f.network === netB!.id)).toBe(true);
    for (let i = 0; i < got.length; i++) await expectReference(got[i]!, 600 + i);
    expect(pool.active).toBe(netB!.id);
    expect(pool.isLoaded(netA!.id)).toBe(false);
    expect(await sample(registry, 'gance_synthesis_networks_loaded')).toBe(1);
    // A and B really differ, so the check above could tell them apart
    const a = (await ref.run(netA!, { w: tinyW(0) })).image!;
    const b = (await ref.run(netB!, { w: tinyW(0) })).image!;
    expect(Buffer.from(a as Uint8Array).equals(Buffer.from(b as Uint8Array))).toBe(false);
  });
});

async function until(cond: () => boolean, timeoutMs = 15_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * A live session's frames and a render's on the same workers: the order frames are dispatched in,
 * counted (the one worker returns them in that order, pipelineDepth 1, batches of 1).
 */
describe('synthesis pool: live frames ahead of render frames', () => {
  const [net] = tinyNetworks([33]);
  let pool: SynthesisPool;
  beforeAll(async () => {
    pool = new SynthesisPool({
      workers: [{ id: 't0', providers: [{ name: 'cpu' }], isolation: 'thread', intraOpThreads: 1 }],
      log: captureLog().log,
      maxBatch: 1,
      pipelineDepth: 1,
    });
    await pool.load(net!);
    pool.activate(net!.id);
  });
  afterAll(() => pool.close());

  it('a live frame waits for the frame in the worker only, not for the render frames queued before it; the render resumes after, in its order', async () => {
    const order: string[] = [];
    const submit = (label: string, i: number, live: boolean) =>
      pool.submit({ feeds: { w: tinyW(i) }, live }).then((f) => {
        order.push(label);
        return f;
      });
    const render = Array.from({ length: 12 }, (_, i) => submit(`r${i}`, i, false));
    const live = [submit('L0', 50, true), submit('L1', 51, true)];
    const later = submit('r12', 12, false);
    const liveAfter = submit('L2', 52, true);
    await Promise.all([...render, ...live, later, liveAfter]);
    // r0 was in the worker when the live frames came (pipelineDepth 1)
    expect(order).toEqual(['r0', 'L0', 'L1', 'L2', ...Array.from({ length: 12 }, (_, i) => `r${i + 1}`)]);
  });

  it('a live frame is not batched with render frames; render frames still batch together', async () => {
    const batched = new SynthesisPool({ workers: [{ id: 't1', providers: [{ name: 'cpu' }], isolation: 'thread', intraOpThreads: 1 }], log: captureLog().log, maxBatch: 4, pipelineDepth: 1 });
    try {
      await batched.load(net!);
      batched.activate(net!.id);
      const first = batched.submit({ feeds: { w: tinyW(0) } });
      const render = Array.from({ length: 6 }, (_, i) => batched.submit({ feeds: { w: tinyW(i + 1) } }));
      const live = batched.submit({ feeds: { w: tinyW(60) }, live: true });
      const frames = await Promise.all([first, ...render, live]);
      expect(frames.at(-1)!.batchSize).toBe(1);
      expect(Math.max(...frames.slice(1, -1).map((f) => f.batchSize))).toBeGreaterThan(1);
    } finally {
      await batched.close();
    }
  });
});

/**
 * A live session on (holdLive): a worker gets one render batch at a time, so a live frame waits for
 * one, not pipelineDepth (2 here); off again, render batches fill the pipeline. Counted in the order
 * the one worker answers (batches of 1), not timed.
 */
describe('synthesis pool: render batches while a live session is on', () => {
  const [net] = tinyNetworks([44]);
  let pool: SynthesisPool;
  beforeAll(async () => {
    pool = new SynthesisPool({ workers: [{ id: 't0', providers: [{ name: 'cpu' }], isolation: 'thread', intraOpThreads: 1 }], log: captureLog().log, maxBatch: 1, pipelineDepth: 2 });
    await pool.load(net!);
    pool.activate(net!.id);
  });
  afterAll(() => pool.close());

  /** 6 render frames, then `between()`, then one live frame: the labels in the order they are answered. */
  async function order(between: () => void = () => {}): Promise<string[]> {
    const got: string[] = [];
    const submit = (label: string, i: number, live: boolean) => pool.submit({ feeds: { w: tinyW(i) }, live }).then(() => void got.push(label));
    const render = Array.from({ length: 6 }, (_, i) => submit(`r${i}`, i, false));
    between();
    await Promise.all([...render, submit('L', 50, true)]);
    return got;
  }
  const renderAfter = (from: number) => Array.from({ length: 6 - from }, (_, i) => `r${from + i}`);

  it('with no live session the worker holds 2 render frames, and a live frame waits for both', async () => {
    expect(await order()).toEqual(['r0', 'r1', 'L', ...renderAfter(2)]);
  });

  it('while a live session holds the pool, a live frame waits for the one render frame in the worker', async () => {
    const release = pool.holdLive();
    try {
      expect(await order()).toEqual(['r0', 'L', ...renderAfter(1)]);
    } finally {
      release();
    }
  });

  it('released, the render refills the pipeline at once, with render frames already queued', async () => {
    const release = pool.holdLive();
    // r0 in the worker, r1..r5 queued; the release hands r1 over before the live frame comes
    expect(await order(release)).toEqual(['r0', 'r1', 'L', ...renderAfter(2)]);
  });

  it('two sessions: the render stays held until both let go; a release called twice counts once', async () => {
    const a = pool.holdLive();
    const b = pool.holdLive();
    a();
    a();
    expect(await order()).toEqual(['r0', 'L', ...renderAfter(1)]);
    b();
    expect(await order()).toEqual(['r0', 'r1', 'L', ...renderAfter(2)]);
  });
});
