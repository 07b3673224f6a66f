/**
 * A live session's frames go to the synthesis pool marked live, so they are dispatched ahead of a
 * render's queued frames on the same workers (the pool's order: test/synthesis/pool/pool.test.ts),
 * and while the session is on a render keeps at most one batch in each worker, so a live frame
 * waits for at most that one batch (not the two a worker holds when nothing live is on).
 */
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import type { RenderSpec } from '../../src/render/spec.ts';
import { runRender } from '../../src/render/run.ts';
import { SynthesisPool, type FrameRequest } from '../../src/synthesis/pool/pool.ts';
import { api, liveServer, tempDir, toneWav, type LiveServer } from './helpers.ts';

describe('live session frames in the synthesis pool', () => {
  let srv: LiveServer | undefined;
  afterAll(async () => {
    await srv?.close();
    vi.restoreAllMocks();
  });

  it('submits every frame as live', async () => {
    const submit = vi.spyOn(SynthesisPool.prototype, 'submit');
    srv = await liveServer();
    const r = await api(srv.base, 'POST', '/v1/live', { audio: { kind: 'file', path: toneWav(tempDir()) }, networks: ['demo-64'], fps: 30, lookaheadFrames: 0 });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    await vi.waitFor(() => expect(submit.mock.calls.length).toBeGreaterThanOrEqual(5), { timeout: 30_000, interval: 20 });
    const requests = submit.mock.calls.map((c) => c[0] as FrameRequest);
    expect(requests.filter((q) => q.live !== true)).toEqual([]);
  }, 60_000);
});

type PoolEvent = { t: 'submit'; live: boolean } | { t: 'done'; live: boolean; batchSize: number };

/**
 * What a live frame waits for, counted rather than timed: the one CPU worker runs its batches one
 * after another and answers in that order, so the render batches answered between a live frame's
 * submit and its pixels are the render batches it waited behind, whatever the machine's speed.
 */
function liveWaits(events: PoolEvent[]): number[] {
  const waits: number[] = [];
  const open: number[] = []; // render batches answered when each unanswered live frame was submitted
  let batches = 0;
  let rest = 0; // frames of the render batch being answered still to come
  let renderOut = 0;
  for (const e of events) {
    if (e.t === 'submit') {
      if (e.live) open.push(renderOut > 0 ? batches : -1);
      else renderOut++;
      continue;
    }
    if (!e.live) {
      renderOut--;
      // the frames of one batch are answered together, before any other frame
      if (rest === 0) {
        batches++;
        rest = e.batchSize - 1;
      } else rest--;
      continue;
    }
    // live frames are answered in submit order (one worker, live frames in submit order)
    const at = open.shift()!;
    if (at >= 0) waits.push(batches - at);
  }
  return waits;
}

describe('a live frame beside a render on the same worker', () => {
  let srv: LiveServer | undefined;
  afterEach(async () => {
    await srv?.close();
    vi.restoreAllMocks();
  });

  it('waits for at most one render batch (the render frames batched 4 at a time, 2 batches a worker)', { timeout: 180_000 }, async () => {
    const events: PoolEvent[] = [];
    const submit = SynthesisPool.prototype.submit;
    vi.spyOn(SynthesisPool.prototype, 'submit').mockImplementation(function (this: SynthesisPool, request, opts) {
      const p = submit.call(this, request, opts);
      const live = request.live === true;
      events.push({ t: 'submit', live });
      p.then(
        (f) => events.push({ t: 'done', live, batchSize: f.batchSize }),
        () => {},
      );
      return p;
    });
    const holds = { taken: 0, released: 0 };
    const holdLive = SynthesisPool.prototype.holdLive;
    vi.spyOn(SynthesisPool.prototype, 'holdLive').mockImplementation(function (this: SynthesisPool) {
      const release = holdLive.call(this);
      holds.taken++;
      return () => {
        holds.released++;
        release();
      };
    });
    srv = await liveServer();
    const dir = tempDir();
    const r = await api(srv.base, 'POST', '/v1/live', { audio: { kind: 'file', path: toneWav(dir) }, networks: ['demo-64'], fps: 30, lookaheadFrames: 0 });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    await vi.waitFor(() => expect(events.filter((e) => e.t === 'done' && e.live).length).toBeGreaterThanOrEqual(3), { timeout: 30_000, interval: 20 });
    const songDir = tempDir();
    const spec = { audio: [toneWav(songDir, 8)], networks: ['demo-64'], latents: { fps: 24 }, output: { path: join(songDir, 'out.mp4'), preset: 'ultrafast' } } as RenderSpec;
    const done = await runRender(spec, srv.render, { workDir: join(songDir, 'work'), segmentFrames: 48, encodeParallel: 1 });
    expect(done.frames).toBe(192);
    const renderBatches = events.filter((e) => e.t === 'done' && !e.live).map((e) => (e as { batchSize: number }).batchSize);
    expect(Math.max(...renderBatches), 'the render batches as it does with nothing live on').toBe(4);
    const waits = liveWaits(events);
    // enough live frames came while the render ran for the bound to mean something
    expect(waits.length, JSON.stringify(waits)).toBeGreaterThanOrEqual(10);
    console.log(`live frames beside the render: ${waits.length}; render batches waited for: ${JSON.stringify(histogram(waits))}`);
    expect(Math.max(...waits), JSON.stringify(histogram(waits))).toBeLessThanOrEqual(1);
    // the session lets the render have its full pipeline back once it stops
    expect(holds).toEqual({ taken: 1, released: 0 });
    expect((await api(srv.base, 'DELETE', `/v1/live/${r.body.id}`)).status).toBe(200);
    expect(holds).toEqual({ taken: 1, released: 1 });
  });
});

function histogram(xs: number[]): Record<number, number> {
  const h: Record<number, number> = {};
  for (const x of xs) h[x] = (h[x] ?? 0) + 1;
  return h;
}
