/**
 * A change applies to the next frame the pipeline starts: with two networks loaded, pinning the
 * other one over the WebSocket shows it within the stated worst case (6 frames with the defaults:
 * the waiting latent, 2 in synthesis, 2 in the encoder, the next latent); REST PATCH changes the
 * parameters the view reports; the HTTP routes are in the OpenAPI document (the WebSocket route is not: swagger leaves it out).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, decodeJpeg, liveServer, openWs, readMjpeg, seededNetwork, tempDir, toneWav, type LiveServer } from './helpers.ts';

describe('live controls', () => {
  let srv: LiveServer;
  let id: string;
  const dir = tempDir();

  beforeAll(async () => {
    seededNetwork(dir, 'seeded-9', 9);
    srv = await liveServer({ extraDirs: [dir] });
    const r = await api(srv.base, 'POST', '/v1/live', { audio: { kind: 'file', path: toneWav(dir) }, networks: ['demo-64', 'seeded-9'], networkOverride: 0, fps: 30, lookaheadFrames: 0 });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    id = r.body.id;
  }, 60_000);

  afterAll(async () => {
    await srv?.close();
  });

  it('a WebSocket patch pins the other network within 6 frames of the last one started before it', async () => {
    const { ws, next } = await openWs(srv.base, id);
    try {
      ws.send(JSON.stringify({ type: 'subscribe' }));
      const head = (b: Buffer) => JSON.parse(b.subarray(4, 4 + b.readUInt32BE(0)).toString()) as { seq: number; network: string };
      await next((m, bin) => bin && head(m).network === 'demo-64');
      const service = srv.service.get(id);
      const patched = next((m, bin) => !bin && m.type === 'patched');
      ws.send(JSON.stringify({ type: 'patch', patch: { networkOverride: 1 } }));
      // latents are numbered as they arrive: frames numbered from `started` on were begun after the patch
      const { started } = (await patched).session.frames as { started: number };
      expect(service.params.networkOverride).toBe(1);
      const old: number[] = [];
      const first = await next((m, bin) => {
        if (!bin) return false;
        if (head(m).network === 'demo-64') old.push(head(m).seq);
        return head(m).network === 'seeded-9';
      });
      // every old-network frame after the patch was begun before it; the first begun after shows the new one
      expect(old.every((seq) => seq < started)).toBe(true);
      expect(head(first).seq).toBeGreaterThanOrEqual(started);
      // the worst case the viewer sees: the pipeline's backlog, at most 5 old frames shown after the
      // patch (latents begun before it but dropped under load were never shown, so they do not count)
      expect(old.length).toBeLessThanOrEqual(5);
    } finally {
      ws.close();
    }
  }, 30_000);

  it('PATCH changes gains and alpha for the next latents and answers the session', async () => {
    const r = await api(srv.base, 'PATCH', `/v1/live/${id}`, { alpha: 0.5, pulse: 2, motion: 1.5, chroma: 0.5, amplitudeRange: [-2, 2] });
    expect(r.status).toBe(200);
    expect(r.body.params).toMatchObject({ alpha: 0.5, pulse: 2, motion: 1.5, chroma: 0.5, amplitudeRange: [-2, 2] });
    expect(srv.service.get(id).params).toMatchObject({ alpha: 0.5, pulse: 2, motion: 1.5, chroma: 0.5 });
  });

  it('an fps change restarts the analysis at the new rate', async () => {
    const r = await api(srv.base, 'PATCH', `/v1/live/${id}`, { fps: 20 });
    expect(r.status).toBe(200);
    expect(r.body.fps).toBe(20);
    const s = srv.service.get(id);
    const shown = s.view().frames.shown;
    const { ws, next } = await openWs(srv.base, id);
    try {
      const state = await next((m, bin) => !bin && m.type === 'state' && m.session.frames.shown > shown + 3);
      expect(state.session).toMatchObject({ state: 'running', fps: 20 });
    } finally {
      ws.close();
    }
  }, 30_000);

  it('frames the picture on a canvas over a colour, and back to the bare picture', async () => {
    const framing = { width: 320, height: 180, frame: { width: 128, height: 128, x: 160, y: 26 }, color: '#ff0000' };
    expect((await api(srv.base, 'PATCH', `/v1/live/${id}`, { framing: { ...framing, frame: { ...framing.frame, x: 200 } } })).body.message).toMatch(/does not fit on the 320x180 canvas/);
    const r = await api(srv.base, 'PATCH', `/v1/live/${id}`, { framing });
    expect(r.status).toBe(200);
    expect(r.body.framing).toEqual(framing);
    // frames encoded before the change may still come: read until the framed size shows
    const part = async (bytes: number) => {
      for (;;) {
        const { parts } = await readMjpeg(`${srv.base}/v1/live/${id}/mjpeg`, 1);
        const rgb = await decodeJpeg(parts[0]!.jpeg);
        if (rgb.length === bytes) return rgb;
      }
    };
    const rgb = await part(320 * 180 * 3);
    const px = (x: number, y: number) => [...rgb.subarray((y * 320 + x) * 3, (y * 320 + x) * 3 + 3)];
    for (const [x, y] of [[5, 5], [100, 90], [300, 170]] as const) {
      const [red, green, blue] = px(x, y);
      expect(red).toBeGreaterThan(200);
      expect(green! + blue!).toBeLessThan(60);
    }
    // the picture itself is not the canvas colour everywhere
    const inside = Array.from({ length: 16 }, (_, i) => px(170 + i * 7, 90)).filter(([red, green, blue]) => !(red! > 200 && green! + blue! < 60));
    expect(inside.length).toBeGreaterThan(0);
    expect((await api(srv.base, 'PATCH', `/v1/live/${id}`, { framing: null })).body.framing).toBeNull();
    expect((await part(64 * 64 * 3)).length).toBe(64 * 64 * 3);
  }, 30_000);

  it('lists the live routes in the OpenAPI document', async () => {
    const spec = (await api(srv.base, 'GET', '/docs/json')).body;
    expect(Object.keys(spec.paths), Object.keys(spec.paths).join(' ')).toEqual(expect.arrayContaining(['/v1/live/', '/v1/live/{id}', '/v1/live/{id}/mjpeg', '/v1/live/{id}/page']));
    expect(spec.paths['/v1/live/{id}'].patch.requestBody.content['application/json'].schema.properties.fps.maximum).toBe(120);
    // the WebSocket: a GET with the upgrade, its messages described; the patch message is the PATCH body itself
    const ws = spec.paths['/v1/live/{id}/ws'].get;
    expect(ws.responses['101']).toBeDefined();
    expect(ws.parameters.find((p: { in: string; name: string }) => p.in === 'header' && p.name === 'upgrade')).toBeDefined();
    const client = ws['x-websocket-messages'].client.anyOf as Array<{ properties: { type: { const: string }; patch?: unknown } }>;
    expect(client.map((m) => m.properties.type.const)).toEqual(['patch', 'get', 'subscribe', 'paint']);
    const body = spec.paths['/v1/live/{id}'].patch.requestBody.content['application/json'].schema;
    const patch = client[0]!.properties.patch as typeof body;
    expect(Object.keys(patch.properties)).toEqual(Object.keys(body.properties));
    expect(patch.properties.fps).toEqual(body.properties.fps);
    expect(ws['x-websocket-messages'].server.anyOf.map((m: { properties: { type: { const: string } } }) => m.properties.type.const)).toEqual(['state', 'patched', 'subscribed', 'error']);
  });

  it('answers a WebSocket message that breaks the schema with the field and what was expected, the connection kept', async () => {
    const { ws, next } = await openWs(srv.base, id);
    try {
      ws.send(JSON.stringify({ type: 'patch', patch: { fps: 500 } }));
      expect((await next((m, bin) => !bin && m.type === 'error')).message).toMatch(/^patch: \/patch\/fps .*120/);
      ws.send(JSON.stringify({ type: 'paint', seq: -1 }));
      expect((await next((m, bin) => !bin && m.type === 'error')).message).toMatch(/^paint: \/seq /);
      ws.send(JSON.stringify({ type: 'get', patch: { alpha: 1 } }));
      expect((await next((m, bin) => !bin && m.type === 'error')).message).toMatch(/^get: \/patch Unexpected property/);
      ws.send(JSON.stringify({ type: 'patch', patch: { alpha: 1 }, fps: 10 }));
      expect((await next((m, bin) => !bin && m.type === 'error')).message).toMatch(/^patch: \/fps Unexpected property/);
      ws.send(JSON.stringify({ type: 'dance' }));
      expect((await next((m, bin) => !bin && m.type === 'error')).message).toMatch(/unknown message type "dance": patch, get, subscribe, paint/);
      ws.send(JSON.stringify({ type: 'get' }));
      expect((await next((m, bin) => !bin && m.type === 'state')).session.id).toBe(id);
    } finally {
      ws.close();
    }
  });
});
