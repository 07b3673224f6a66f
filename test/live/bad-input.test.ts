/**
 * Bad input to live sessions: unreadable files, a capture device that is not there, networks that
 * do not exist or fail to load mid-set, garbage on the WebSocket, too many clients. Each gets a clear
 * error, the session keeps showing what it showed, and the server stays up.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { api, liveServer, openWs, readMjpeg, tempDir, toneWav, unloadableNetwork, type LiveServer } from './helpers.ts';

describe('live sessions refuse bad input and keep going', () => {
  let srv: LiveServer;
  let id: string;
  let wav: string;
  const dir = tempDir();

  beforeAll(async () => {
    unloadableNetwork(dir, 'unloadable');
    wav = toneWav(dir);
    srv = await liveServer({ extraDirs: [dir] });
    const r = await api(srv.base, 'POST', '/v1/live', { audio: { kind: 'file', path: wav }, networks: ['demo-64'], fps: 30, maxClients: 2 });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    id = r.body.id;
  }, 60_000);

  afterAll(async () => {
    await srv?.close();
  });

  const shown = async () => (await api(srv.base, 'GET', `/v1/live/${id}`)).body.frames.shown as number;

  it('refuses an unreadable file, a missing capture device, an unknown network and out-of-range values, naming each', async () => {
    const missing = await api(srv.base, 'POST', '/v1/live', { audio: { kind: 'file', path: `${dir}/nope.wav` }, networks: ['demo-64'] });
    expect(missing.status).toBe(422);
    expect(missing.body.message).toMatch(/nope\.wav: cannot read the audio file: ENOENT/);
    const device = await api(srv.base, 'POST', '/v1/live', { audio: { kind: 'alsa', device: 'hw:97,0' }, networks: ['demo-64'] });
    expect(device.status).toBe(422);
    expect(device.body.message).toMatch(/ALSA device hw:97,0/);
    const unknown = await api(srv.base, 'POST', '/v1/live', { audio: { kind: 'file', path: wav }, networks: ['no-such-net'] });
    expect(unknown.status).toBe(422);
    expect(unknown.body.message).toMatch(/no-such-net/);
    const fps = await api(srv.base, 'POST', '/v1/live', { audio: { kind: 'file', path: wav }, networks: ['demo-64'], fps: 1000 });
    expect(fps.status).toBe(400);
    expect(fps.body.message).toMatch(/fps must be <= 120/);
    expect((await api(srv.base, 'PATCH', `/v1/live/${id}`, { alpha: -1 })).status).toBe(400);
    expect((await api(srv.base, 'PATCH', `/v1/live/${id}`, { networkOverride: 1 })).body.message).toMatch(/not below the 1 networks/);
    expect((await api(srv.base, 'GET', '/v1/live/nosuch')).status).toBe(404);
    // none of them left a session behind
    expect((await api(srv.base, 'GET', '/v1/live')).body.map((s: { id: string }) => s.id)).toEqual([id]);
  }, 30_000);

  it('refuses an amplitudeRange given as [hi, lo] (it would invert the mapping), at the start, in a PATCH and over the WebSocket, naming the field; changes nothing', async () => {
    const expected = /amplitudeRange must be \[min, max\] with min <= max, got \[2, -2\]/;
    const start = await api(srv.base, 'POST', '/v1/live', { audio: { kind: 'file', path: wav }, networks: ['demo-64'], amplitudeRange: [2, -2] });
    expect(start.status).toBe(400);
    expect(start.body.message).toMatch(expected);
    expect((await api(srv.base, 'GET', '/v1/live')).body.map((s: { id: string }) => s.id)).toEqual([id]);
    const before = (await api(srv.base, 'GET', `/v1/live/${id}`)).body.params;
    const r = await api(srv.base, 'PATCH', `/v1/live/${id}`, { amplitudeRange: [2, -2], alpha: 0.9 });
    expect(r.status).toBe(400);
    expect(r.body.message).toMatch(expected);
    const { ws, next } = await openWs(srv.base, id);
    try {
      const err = next((m, bin) => !bin && (m.type === 'error' || m.type === 'patched'));
      ws.send(JSON.stringify({ type: 'patch', patch: { amplitudeRange: [2, -2] } }));
      const answer = await err;
      expect(answer.type).toBe('error');
      expect(answer.message).toMatch(expected);
    } finally {
      const closed = new Promise((resolve) => ws.once('close', resolve));
      ws.close();
      await closed;
    }
    expect((await api(srv.base, 'GET', `/v1/live/${id}`)).body.params).toEqual(before);
    // equal ends are a range (everything at one value), not a reversed one
    expect((await api(srv.base, 'PATCH', `/v1/live/${id}`, { amplitudeRange: [1, 1] })).status).toBe(200);
    expect((await api(srv.base, 'PATCH', `/v1/live/${id}`, { amplitudeRange: before.amplitudeRange })).status).toBe(200);
  }, 30_000);

  it('refuses an empty patch (REST and WebSocket) as the thermal zone patch does, changing nothing', async () => {
    const before = (await api(srv.base, 'GET', `/v1/live/${id}`)).body.params;
    const r = await api(srv.base, 'PATCH', `/v1/live/${id}`, {});
    expect(r.status).toBe(400);
    expect(r.body.message).toBe('body must NOT have fewer than 1 properties');
    const { ws, next } = await openWs(srv.base, id);
    try {
      const err = next((m, bin) => !bin && (m.type === 'error' || m.type === 'patched'));
      ws.send(JSON.stringify({ type: 'patch', patch: {} }));
      const answer = await err;
      expect(answer.type).toBe('error');
      expect(answer.message).toMatch(/^patch: \/patch .*at least 1 propert/);
    } finally {
      const closed = new Promise((resolve) => ws.once('close', resolve));
      ws.close();
      await closed;
    }
    expect((await api(srv.base, 'GET', `/v1/live/${id}`)).body.params).toEqual(before);
  }, 30_000);

  it('keeps the previous network when a new one fails to load mid-set', async () => {
    const r = await api(srv.base, 'PATCH', `/v1/live/${id}`, { networks: ['unloadable'] });
    expect(r.status).toBe(200);
    expect(r.body.pendingNetworks).toEqual(['unloadable']);
    await vi.waitFor(async () => expect((await api(srv.base, 'GET', `/v1/live/${id}`)).body.pendingNetworks).toBeNull(), { timeout: 15_000, interval: 50 });
    const view = (await api(srv.base, 'GET', `/v1/live/${id}`)).body;
    expect(view.networks).toEqual(['demo-64']);
    expect(view.error).toMatch(/networks unloadable could not be loaded .*keeping demo-64/);
    const { parts } = await readMjpeg(`${srv.base}/v1/live/${id}/mjpeg`, 3);
    expect(parts.map((p) => p.headers['x-network'])).toEqual(['demo-64', 'demo-64', 'demo-64']);
  }, 30_000);

  it('answers garbage on the WebSocket with error messages, counts them, and the session runs on', async () => {
    const { ws, next } = await openWs(srv.base, id);
    try {
      const garbage: Array<string | Buffer> = ['not json', '[1,2]', '{"type":"nope"}', JSON.stringify({ type: 'patch', patch: { fps: 1000 } }), JSON.stringify({ type: 'paint', seq: 'x' }), Buffer.from([1, 2, 3])];
      const before = (await srv.registry.getSingleMetric('gance_live_ws_bad_messages_total')!.get()).values[0]?.value ?? 0;
      for (const g of garbage) {
        const err = next((m, bin) => !bin && m.type === 'error');
        ws.send(g);
        expect((await err).message.length).toBeGreaterThan(10);
      }
      const after = (await srv.registry.getSingleMetric('gance_live_ws_bad_messages_total')!.get()).values[0]!.value;
      expect(after - before).toBe(garbage.length);
      const n = await shown();
      const state = next((m, bin) => !bin && m.type === 'state' && m.session.frames.shown > n);
      ws.send(JSON.stringify({ type: 'get' }));
      expect((await state).session.state).toBe('running');
    } finally {
      ws.close();
    }
  }, 30_000);

  it('counts every connected client by kind: a WebSocket that never subscribes (a control page) too, as maxClients does', async () => {
    const clients = async () => (await api(srv.base, 'GET', `/v1/live/${id}`)).body.clients;
    // from the registry: /metrics shares one exposition for metricsCacheMs
    const wsGauge = async () => (await srv.registry.getSingleMetric('gance_live_clients')!.get()).values.find((v) => v.labels.output === 'ws')?.value;
    const { ws, next } = await openWs(srv.base, id);
    try {
      await vi.waitFor(async () => expect(await clients()).toEqual({ mjpeg: 0, ws: 1, wsSubscribed: 0, connected: 1, maxClients: 2, ffmpeg: 0 }), { timeout: 5000, interval: 20 });
      expect(await wsGauge()).toBe(1);
      const subscribed = next((m, bin) => !bin && m.type === 'subscribed');
      ws.send(JSON.stringify({ type: 'subscribe' }));
      await subscribed;
      expect(await clients()).toEqual({ mjpeg: 0, ws: 1, wsSubscribed: 1, connected: 1, maxClients: 2, ffmpeg: 0 });
      expect(await wsGauge()).toBe(1);
    } finally {
      const closed = new Promise((resolve) => ws.once('close', resolve));
      ws.close();
      await closed;
    }
    await vi.waitFor(async () => expect(await clients()).toEqual({ mjpeg: 0, ws: 0, wsSubscribed: 0, connected: 0, maxClients: 2, ffmpeg: 0 }), { timeout: 5000, interval: 20 });
    expect(await wsGauge()).toBe(0);
  }, 30_000);

  it('refuses clients past maxClients with 409, over HTTP and the WebSocket upgrade', async () => {
    const { ws } = await openWs(srv.base, id); // one of the two
    const hold = new AbortController();
    try {
      const streaming = readMjpeg(`${srv.base}/v1/live/${id}/mjpeg`, 2);
      await streaming;
      // the MJPEG reader closed: again two clients (the WebSocket and this stream)
      const held = readMjpeg(`${srv.base}/v1/live/${id}/mjpeg`, 1_000_000, hold.signal);
      held.catch(() => {});
      await vi.waitFor(async () => expect((await api(srv.base, 'GET', `/v1/live/${id}`)).body.clients.mjpeg).toBe(1), { timeout: 5000, interval: 20 });
      await expect(readMjpeg(`${srv.base}/v1/live/${id}/mjpeg`, 1)).rejects.toThrow(/HTTP 409/);
      const refused = new WebSocket(`${srv.base.replace('http', 'ws')}/v1/live/${id}/ws`);
      const status = await new Promise<number>((resolve) => refused.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
      expect(status).toBe(409);
    } finally {
      hold.abort();
      const closed = new Promise((resolve) => ws.once('close', resolve));
      ws.close();
      await closed;
      await vi.waitFor(async () => expect((await api(srv.base, 'GET', `/v1/live/${id}`)).body.clients.mjpeg).toBe(0), { timeout: 5000, interval: 20 });
    }
  }, 30_000);

  it('stops on DELETE: streams end, the id is gone, the server stays up', async () => {
    const stream = readMjpeg(`${srv.base}/v1/live/${id}/mjpeg`, 1_000_000);
    const ended = stream.catch((e: Error) => e.message);
    await vi.waitFor(async () => expect((await api(srv.base, 'GET', `/v1/live/${id}`)).body.clients.mjpeg).toBeGreaterThan(0), { timeout: 5000, interval: 20 });
    const r = await api(srv.base, 'DELETE', `/v1/live/${id}`);
    expect(r.status).toBe(200);
    expect(r.body.state).toBe('stopped');
    expect(await ended).toMatch(/MJPEG ended/);
    expect((await api(srv.base, 'GET', `/v1/live/${id}`)).status).toBe(404);
    expect((await api(srv.base, 'GET', '/v1/live')).body).toEqual([]);
  }, 30_000);
});
