import { writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetworkLoadError, SynthesisPool, type Frame, type FrameRequest } from '../../../src/synthesis/pool/pool.ts';
import { tinyNetworks, tinyW } from './tiny-net.ts';
import { captureLog, metrics, Reference, sample } from './helpers.ts';

const frames = (from: number, count: number): FrameRequest[] => Array.from({ length: count }, (_, i) => ({ feeds: { w: tinyW(from + i) } }));

describe('synthesis pool: cancellation, bad input, failed loads', () => {
  const [net, other] = tinyNetworks([5, 6]);
  const { log, lines } = captureLog();
  const { registry, metrics: m } = metrics();
  let pool: SynthesisPool;

  beforeAll(async () => {
    // one worker, one frame per call, one call at a time: what is queued vs running is predictable
    pool = new SynthesisPool({
      workers: [{ id: 'solo', providers: [{ name: 'cpu' }], isolation: 'thread', intraOpThreads: 1 }],
      log,
      metrics: m,
      maxBatch: 1,
      pipelineDepth: 1,
      maxAttempts: 1,
      restartDelayMs: 20,
      testHooks: true,
    });
    await pool.load(net!);
    pool.activate(net!.id);
  });
  afterAll(() => pool.close());

  it('cancels queued frames on abort: they reject with the reason and never reach a worker', async () => {
    pool.slowWorker('solo', 40);
    const before = await sample(registry, 'gance_synthesis_frames_total');
    const ac = new AbortController();
    const kept = frames(0, 4).map((r) => pool.submit(r));
    const cancelled = frames(4, 4).map((r) => pool.submit(r, { signal: ac.signal }));
    await kept[0];
    ac.abort(new Error('user skipped ahead'));
    const results = await Promise.allSettled(cancelled);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected', 'rejected']);
    expect((results[0] as PromiseRejectedResult).reason.message).toBe('user skipped ahead');
    await Promise.all(kept);
    pool.slowWorker('solo', 0);
    expect((await sample(registry, 'gance_synthesis_frames_total')) - before).toBe(4);
    // an already-aborted signal rejects at once
    await expect(pool.submit(frames(9, 1)[0]!, { signal: AbortSignal.abort() })).rejects.toThrow();
  });

  it('stops rendering the rest of a stream when the consumer stops reading', async () => {
    pool.slowWorker('solo', 20);
    const before = await sample(registry, 'gance_synthesis_frames_total');
    const got: Frame[] = [];
    for await (const f of pool.stream(frames(0, 40), { window: 4 })) {
      got.push(f);
      if (got.length === 3) break;
    }
    await new Promise((r) => setTimeout(r, 150));
    pool.slowWorker('solo', 0);
    const rendered = (await sample(registry, 'gance_synthesis_frames_total')) - before;
    expect(got).toHaveLength(3);
    // the 3 read, plus at most the one that was running when the loop ended
    expect(rendered).toBeLessThanOrEqual(4);
  });

  it('rejects the frames of a worker that keeps dying under them once they have had their tries', async () => {
    pool.crashWorker('solo', 'exit', true);
    const err = await pool.submit(frames(0, 1)[0]!).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/frame \d+: worker solo died 1 times while synthesizing it \(last: thread exited with code 70\)/);
    await until(() => pool.isReady());
    await expect(pool.submit(frames(0, 1)[0]!)).resolves.toMatchObject({ worker: 'solo' });
  });

  it('names what is wrong with a frame: missing, misshaped or unknown inputs, unknown network', async () => {
    await expect(pool.submit({ feeds: {} })).rejects.toThrow(/input "w" is missing \(network "tiny-5" takes w float32\[4, 8\]\)/);
    await expect(pool.submit({ feeds: { w: new Float32Array(3) } })).rejects.toThrow(/input "w": expected a Float32Array of 32 values \(float32 \[4, 8\]\), got Float32Array of 3/);
    await expect(pool.submit({ feeds: { w: new Uint8Array(32) } })).rejects.toThrow(/expected a Float32Array of 32 values .* got Uint8Array of 32/);
    await expect(pool.submit({ feeds: { w: tinyW(0), z: new Float32Array(4) } })).rejects.toThrow(/input "z": network "tiny-5" has no such input/);
    await expect(pool.submit({ feeds: { w: tinyW(0) }, network: 'nope' })).rejects.toThrow(/network "nope" is not loaded \(loaded: tiny-5\)/);
  });

  it('keeps rendering with the networks it had when a load fails', async () => {
    const broken = join(dirname(net!.path), 'broken.onnx');
    writeFileSync(broken, 'this is not a model');
    const err = await pool.load({ ...other!, id: 'broken', path: broken }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(NetworkLoadError);
    expect((err as Error).message).toMatch(/network "broken" \(.*broken\.onnx\) could not be loaded: worker solo: no execution provider could load .*broken\.onnx \(cpu: .*\)/);
    expect(pool.isLoaded('broken')).toBe(false);
    expect(pool.active).toBe(net!.id);
    await expect(pool.submit(frames(0, 1)[0]!)).resolves.toMatchObject({ network: net!.id });
    expect(pool.isReady()).toBe(true);
  });

  it('lets frames queued for the old network finish on it during a swap', async () => {
    pool.slowWorker('solo', 250);
    const ref = new Reference();
    const queued = frames(0, 6).map((r) => pool.submit(r));
    const swapping = pool.swap(other!);
    await expect(pool.submit({ feeds: { w: tinyW(0) }, network: 'nope' })).rejects.toThrow(/not loaded/);
    const done = await Promise.all(queued);
    await swapping;
    expect(done.map((f) => f.network)).toEqual(Array(6).fill(net!.id));
    for (let i = 0; i < done.length; i++) {
      const want = (await ref.run(net!, { w: tinyW(i) })).image as Uint8Array;
      expect(Buffer.from(done[i]!.outputs.image!.data as Uint8Array).equals(Buffer.from(want))).toBe(true);
    }
    expect(pool.isLoaded(net!.id)).toBe(false);
    await expect(pool.submit({ feeds: { w: tinyW(0) }, network: net!.id })).rejects.toThrow(/network "tiny-5" is not loaded \(loaded: tiny-6\)/);
    expect((await pool.submit({ feeds: { w: tinyW(0) } })).network).toBe(other!.id);
    // back to the first network for the tests that follow
    await pool.swap(net!);
  });

  it('unloads only networks that are not active', async () => {
    await pool.load(other!);
    await expect(pool.unload(net!.id)).rejects.toThrow(/network "tiny-5" is active; activate another one first/);
    await pool.unload(other!.id);
    expect(pool.isLoaded(other!.id)).toBe(false);
    expect(lines.some((l) => /network "tiny-6" loaded on cpu and warmed/.test(l.msg))).toBe(true);
  });
});

describe('synthesis pool: large frames from a process worker', () => {
  it('brings back 256 px frames (800 KB messages) intact and in order', async () => {
    const [net] = tinyNetworks([9], 256);
    const { log } = captureLog();
    const pool = new SynthesisPool({ workers: [{ id: 'p', providers: [{ name: 'cpu' }], isolation: 'process', intraOpThreads: 1 }], log, maxBatch: 4 });
    const ref = new Reference();
    try {
      await pool.load(net!);
      pool.activate(net!.id);
      const got: Frame[] = [];
      for await (const f of pool.stream(frames(0, 24))) got.push(f);
      expect(Math.max(...got.map((f) => f.batchSize))).toBeGreaterThan(1);
      for (let i = 0; i < got.length; i++) {
        expect(got[i]!.outputs.image!.dims).toEqual([256, 256, 3]);
        const want = (await ref.run(net!, { w: tinyW(i) })).image as Uint8Array;
        expect(Buffer.from(got[i]!.outputs.image!.data as Uint8Array).equals(Buffer.from(want)), `frame ${i}`).toBe(true);
      }
    } finally {
      await pool.close();
    }
  });
});

describe('synthesis pool: providers', () => {
  it('fails a load with every provider named when none is available', async () => {
    const [net] = tinyNetworks([7]);
    const { log } = captureLog();
    const pool = new SynthesisPool({ workers: [{ id: 'gpu0', providers: [{ name: 'cuda', deviceId: 0 }], isolation: 'process', intraOpThreads: 1 }], log });
    try {
      const err = (await pool.load(net!).catch((e: Error) => e)) as NetworkLoadError;
      expect(err).toBeInstanceOf(NetworkLoadError);
      expect(err.failures[0]!.worker).toBe('gpu0');
      expect(err.failures[0]!.attempts.map((a) => a.provider)).toEqual(['cuda']);
      expect(err.message).toMatch(/worker gpu0: no execution provider could load .* \(cuda: CUDA provider libraries are not installed/);
      expect(pool.isReady()).toBe(false);
    } finally {
      await pool.close();
    }
  });

  it('ends a load in progress at once when the pool closes (thread and process workers)', async () => {
    const [net] = tinyNetworks([8]);
    const { log } = captureLog();
    const pool = new SynthesisPool({
      workers: [
        { id: 't', providers: [{ name: 'cpu' }], isolation: 'thread', intraOpThreads: 1 },
        { id: 'p', providers: [{ name: 'cpu' }], isolation: 'process', intraOpThreads: 1 },
      ],
      log,
    });
    const loading = pool.load(net!).catch((e: Error) => e);
    await new Promise((r) => setTimeout(r, 50));
    const t0 = Date.now();
    await pool.close();
    const err = await loading;
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/synthesis pool closed/);
    expect(Date.now() - t0).toBeLessThan(3000);
    await expect(pool.submit({ feeds: { w: tinyW(0) } })).rejects.toThrow(/synthesis pool closed/);
  });

  it('refuses a configuration it cannot run', () => {
    const { log } = captureLog();
    expect(() => new SynthesisPool({ workers: [], log })).toThrow(/no workers configured/);
    const w = { id: 'a', providers: [{ name: 'cpu' as const }], isolation: 'thread' as const, intraOpThreads: 0 };
    expect(() => new SynthesisPool({ workers: [w, w], log })).toThrow(/duplicate worker id "a"/);
    expect(() => new SynthesisPool({ workers: [{ ...w, providers: [] }], log })).toThrow(/worker "a" has no execution providers/);
  });
});

async function until(cond: () => boolean, timeoutMs = 15_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
