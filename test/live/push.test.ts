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
