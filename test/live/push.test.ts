/** PCM pushed over the session's WebSocket drives frames; ALSA capture through ffmpeg (the null device); load hints bracket a session; gance_live_* series on /metrics. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, decodeJpeg, liveServer, meanDiff, openWs, readMjpeg, type LiveServer } from './helpers.ts';

describe('a live session on pushed PCM', () => {
  let srv: LiveServer;
  const hints: string[] = [];

  beforeAll(async () => {
    srv = await liveServer({ loadHint: true });
    srv.events.on('load-hint', (h) => hints.push(`hint ${h.source} ${h.gpus.join(',')} ${h.watts}`));
    srv.events.on('load-end', (e) => hints.push(`end ${e.source}`));
  }, 60_000);

  afterAll(async () => {
    await srv?.close();
  });

  it('makes frames from PCM sent as binary messages, hints the load, exposes metrics, ends the hint on stop', async () => {
    // 512 samples x 30 fps: PCM at the analysis rate is cut into frames without ffmpeg
    const r = await api(srv.base, 'POST', '/v1/live', { audio: { kind: 'push', format: 's16le', sampleRate: 15360, channels: 1 }, networks: ['demo-64'], fps: 30 });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body.state).toBe('starting');
    expect(hints).toEqual(['hint live 0 200']);
    const { ws, next } = await openWs(srv.base, r.body.id);
    try {
      ws.send(JSON.stringify({ type: 'subscribe' }));
      const frame = next((_m, bin) => bin);
      const pcm = Buffer.alloc(15360 * 2);
      for (let i = 0; i < 15360; i++) pcm.writeInt16LE(Math.round(20000 * Math.sin((2 * Math.PI * 330 * i) / 15360) * (i / 15360)), i * 2);
      for (let off = 0; off < pcm.length; off += 4096) ws.send(pcm.subarray(off, off + 4096));
      const f: Buffer = await frame;
      expect(JSON.parse(f.subarray(4, 4 + f.readUInt32BE(0)).toString()).network).toBe('demo-64');
      const view = (await api(srv.base, 'GET', `/v1/live/${r.body.id}`)).body;
      expect(view.state).toBe('running');
      expect(view.clients.ws).toBe(1);
      const metrics = await (await fetch(`${srv.base}/metrics`)).text();
      expect(metrics).toMatch(/^gance_live_frames_total [1-9]/m);
      expect(metrics).toMatch(/^gance_live_sample_to_frame_seconds_count\{to="publish"\} [1-9]/m);
      expect(metrics).toMatch(/^gance_live_stage_seconds_count\{stage="synthesis"\} [1-9]/m);
      expect(metrics).toMatch(/^gance_live_clients\{output="ws"\} 1$/m);
      expect(metrics).toMatch(/^gance_live_sessions 1$/m);
      expect(metrics).toMatch(/^gance_live_fps\{session="[0-9a-f]+"\} /m);
    } finally {
      ws.close();
    }
    expect((await api(srv.base, 'DELETE', `/v1/live/${r.body.id}`)).status).toBe(200);
    expect(hints).toEqual(['hint live 0 200', 'end live']);
  }, 30_000);

  it('captures from an ALSA device through ffmpeg (the null device: silence, the noise still moves)', async () => {
    const r = await api(srv.base, 'POST', '/v1/live', { audio: { kind: 'alsa', device: 'null', channels: 1 }, networks: ['demo-64'], fps: 30 });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body.state).toBe('running');
    const { parts } = await readMjpeg(`${srv.base}/v1/live/${r.body.id}/mjpeg`, 6);
    expect(meanDiff(await decodeJpeg(parts[0]!.jpeg), await decodeJpeg(parts.at(-1)!.jpeg))).toBeGreaterThan(0);
    expect((await api(srv.base, 'DELETE', `/v1/live/${r.body.id}`)).status).toBe(200);
  }, 30_000);
});

describe('pushed PCM after its source ended', () => {
  let srv: LiveServer;

  beforeAll(async () => {
    // a source that fails before it reads anything (as one refusing NaN samples can): the stream
    // the WebSocket writes to is ended with nobody reading it, so it stays ended, not destroyed
    srv = await liveServer({
      wrapLatents: (l) => ({
        ...l,
        // eslint-disable-next-line require-yield
        live: async function* () {
          throw new Error('the analysis gave up');
        },
      }),
    });
  }, 60_000);

  afterAll(async () => {
    await srv?.close();
  });

  it('is let go, not written to the ended stream (write after end threw out of the daemon)', async () => {
    const r = await api(srv.base, 'POST', '/v1/live', { audio: { kind: 'push', format: 'f32le', sampleRate: 48000, channels: 2 }, networks: ['demo-64'], fps: 10 });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    let view = r.body;
    for (let k = 0; k < 200 && view.state !== 'failed'; k++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      view = (await api(srv.base, 'GET', `/v1/live/${r.body.id}`)).body;
    }
    expect({ state: view.state, error: view.error }).toEqual({ state: 'failed', error: 'audio: the analysis gave up' });
    const errors: unknown[] = [];
    const onError = (err: unknown) => errors.push(err);
    process.on('uncaughtException', onError);
    const { ws } = await openWs(srv.base, r.body.id);
    try {
      for (let k = 0; k < 3; k++) ws.send(Buffer.from(new Float32Array(1024).buffer));
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(errors).toEqual([]);
      expect((await api(srv.base, 'GET', `/v1/live/${r.body.id}`)).body.state).toBe('failed');
    } finally {
      process.off('uncaughtException', onError);
      ws.close();
    }
    expect((await api(srv.base, 'DELETE', `/v1/live/${r.body.id}`)).status).toBe(200);
  }, 30_000);
});
