/**
 * A live session's frames go to the synthesis pool marked live, so they are dispatched ahead of a
 * render's queued frames on the same workers (the pool's order: test/synthesis/pool/pool.test.ts).
 */
import { afterAll, describe, expect, it, vi } from 'vitest';
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
