/**
 * A live session holds the networks it uses, as a render does: its configured set and any set it
 * switches to cannot be unloaded under it (409 naming the session), the bundled demo network hot-
 * swapped away while a session shows it stays until the session ends, and a network loaded only
 * for a session is unloaded when the session ends, fails to start, or switches away from it.
 * /v1/live and /v1/networks on one network manager, through fastify inject.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { NetworkView } from '../../src/synthesis/networks/manager.ts';
import { liveServer, seededNetwork, tempDir, toneWav, type LiveServer } from './helpers.ts';

describe('live sessions hold their networks', () => {
  let srv: LiveServer;
  let wav: string;
  const dir = tempDir();

  beforeAll(async () => {
    for (const [id, seed] of [['held-a', 21], ['held-b', 22], ['held-c', 23], ['held-d', 24], ['held-e', 25]] as const) seededNetwork(dir, id, seed);
    wav = toneWav(dir);
    srv = await liveServer({ extraDirs: [dir], networksApi: true });
  }, 60_000);

  afterAll(async () => {
    await srv?.close();
  });

  const inject = async (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: Record<string, unknown>) => {
    const r = await srv.app.inject({ method, url, ...(payload === undefined ? {} : { payload }) });
    return { status: r.statusCode, body: r.json<Record<string, unknown>>() };
  };
  const networks = async () => (await inject('GET', '/v1/networks')).body as { active: string | null; networks: NetworkView[] };
  const state = async (id: string) => (await networks()).networks.find((n) => n.id === id)!.state;
  const start = async (nets: string[]) => {
    const r = await inject('POST', '/v1/live', { audio: { kind: 'file', path: wav }, networks: nets, fps: 10 });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body.id as string;
  };

  it('a network loaded for a session cannot be unloaded while it runs, follows it through a switch, and goes when it stops', async () => {
    expect(await state('held-a')).toBe('available');
    const id = await start(['held-a']);
    expect(await state('held-a')).toBe('loaded');
    const refused = await inject('POST', '/v1/networks/held-a/unload');
    expect(refused.status).toBe(409);
    expect(refused.body.message).toBe(`network "held-a" is in use by live session ${id}; unload it once they have finished`);

    // switched on the fly: the new set is held from the patch on, the old one goes once the new one shows
    expect((await inject('PATCH', `/v1/live/${id}`, { networks: ['held-b'] })).status).toBe(200);
    await vi.waitFor(async () => expect((await inject('GET', `/v1/live/${id}`)).body).toMatchObject({ networks: ['held-b'], pendingNetworks: null, error: null }), { timeout: 30_000, interval: 50 });
    const switched = await inject('POST', '/v1/networks/held-b/unload');
    expect(switched.status).toBe(409);
    expect(switched.body.message).toMatch(new RegExp(`in use by live session ${id}`));
    await vi.waitFor(async () => expect(await state('held-a')).toBe('available'), { timeout: 30_000, interval: 50 });

    expect((await inject('DELETE', `/v1/live/${id}`)).status).toBe(200);
    await vi.waitFor(async () => expect(await state('held-b')).toBe('available'), { timeout: 30_000, interval: 50 });
    expect(await state('demo-64')).toBe('loaded');
  }, 90_000);

  it('two sessions on one network: the first to stop leaves it to the other; one the operator loaded stays after both', async () => {
    expect((await inject('POST', '/v1/networks/held-d/load')).status).toBe(202);
    await vi.waitFor(async () => expect(await state('held-d')).toBe('loaded'), { timeout: 30_000, interval: 50 });
    const one = await start(['held-c', 'held-d']);
    const two = await start(['held-c']);
    const both = await inject('POST', '/v1/networks/held-c/unload');
    expect(both.status).toBe(409);
    expect(both.body.message).toMatch(new RegExp(`in use by (live session ${one}, live session ${two}|live session ${two}, live session ${one});`));
    expect((await inject('DELETE', `/v1/live/${one}`)).status).toBe(200);
    expect(await state('held-c')).toBe('loaded');
    const left = await inject('POST', '/v1/networks/held-c/unload');
    expect(left.status).toBe(409);
    expect(left.body.message).toBe(`network "held-c" is in use by live session ${two}; unload it once they have finished`);
    expect((await inject('DELETE', `/v1/live/${two}`)).status).toBe(200);
    await vi.waitFor(async () => expect(await state('held-c')).toBe('available'), { timeout: 30_000, interval: 50 });
    expect(await state('held-d')).toBe('loaded');
    expect((await inject('POST', '/v1/networks/held-d/unload')).status).toBe(200);
  }, 90_000);

  it('a session whose audio never starts lets go of the network it loaded', async () => {
    const r = await inject('POST', '/v1/live', { audio: { kind: 'file', path: join(dir, 'nope.wav') }, networks: ['held-a'] });
    expect(r.status).toBe(422);
    expect(r.body.message).toMatch(/nope\.wav/);
    await vi.waitFor(async () => expect(await state('held-a')).toBe('available'), { timeout: 30_000, interval: 50 });
  }, 60_000);

  it('the bundled demo network, hot-swapped away while a session shows it, stays until the session ends', async () => {
    const id = await start(['demo-64']);
    expect((await inject('POST', '/v1/networks/held-e/load?replace=true')).status).toBe(202);
    await vi.waitFor(async () => expect((await networks()).active).toBe('held-e'), { timeout: 30_000, interval: 50 });
    expect(await state('demo-64')).toBe('loaded');
    const refused = await inject('POST', '/v1/networks/demo-64/unload');
    expect(refused.status).toBe(409);
    expect(refused.body.message).toBe(`network "demo-64" is in use by live session ${id}; unload it once they have finished`);
    // the session draws on with it meanwhile
    const shown = (await inject('GET', `/v1/live/${id}`)).body.frames as { shown: number };
    await vi.waitFor(async () => expect(((await inject('GET', `/v1/live/${id}`)).body.frames as { shown: number }).shown).toBeGreaterThan(shown.shown + 2), { timeout: 30_000, interval: 50 });
    expect((await inject('GET', `/v1/live/${id}`)).body).toMatchObject({ networks: ['demo-64'], error: null });
    expect((await inject('DELETE', `/v1/live/${id}`)).status).toBe(200);
    await vi.waitFor(async () => expect(await state('demo-64')).toBe('available'), { timeout: 30_000, interval: 50 });
    expect(await state('held-e')).toBe('loaded');
  }, 90_000);
});
