/**
 * Thermal yield on a live session: its fps goes down to a share of its own (a steady lower rate,
 * not frames dropped at random), a patch meanwhile asks for a new own fps that stays capped, and
 * the own fps comes back when the cap is lifted; a session started under a cap starts capped.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, liveServer, tempDir, toneWav, type LiveServer } from './helpers.ts';

describe('live thermal fps cap', () => {
  let srv: LiveServer;
  const dir = tempDir();

  beforeAll(async () => {
    srv = await liveServer();
  }, 60_000);

  afterAll(async () => {
    await srv?.close();
  });

  it('lowers, keeps and restores the fps of running and new sessions', { timeout: 60_000 }, async () => {
    const wav = toneWav(dir);
    const r = await api(srv.base, 'POST', '/v1/live', { audio: { kind: 'file', path: wav }, networks: ['demo-64'], fps: 30 });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const id = r.body.id as string;
    const fps = async (sid: string) => (await api(srv.base, 'GET', `/v1/live/${sid}`)).body.fps as number;

    srv.service.setThermalFpsCap(0, 0.5);
    expect(await fps(id)).toBe(15);
    expect(srv.service.thermalFpsShare()).toBe(0.5);
    // the lowest share over the GPUs applies; 0 is the lowest fps, never a stop
    srv.service.setThermalFpsCap(1, 0);
    expect(await fps(id)).toBe(1);
    srv.service.setThermalFpsCap(1, null);
    expect(await fps(id)).toBe(15);

    // asking for another fps while capped: the new own fps, capped
    expect((await api(srv.base, 'PATCH', `/v1/live/${id}`, { fps: 24 })).status).toBe(200);
    expect(await fps(id)).toBe(12);

    const r2 = await api(srv.base, 'POST', '/v1/live', { audio: { kind: 'file', path: wav }, networks: ['demo-64'], fps: 20 });
    expect(r2.status).toBe(201);
    expect(await fps(r2.body.id)).toBe(10);

    srv.service.setThermalFpsCap(0, null);
    expect(await fps(id)).toBe(24);
    expect(await fps(r2.body.id)).toBe(20);
    expect(() => srv.service.setThermalFpsCap(0, 1.5)).toThrow(/within 0..1/);
  });
});
