/**
 * The live tests' helpers against the event loop they share with the daemon slice under test: a
 * helper that holds it lets that slice's HTTP timers run late, and out of order with the client's.
 */
import { spawnSync } from 'node:child_process';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/app.ts';
import { api, decodeJpeg } from './helpers.ts';

const jpeg = spawnSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc=size=32x32', '-frames:v', '1', '-f', 'mjpeg', 'pipe:1']).stdout;

describe('live test helpers', () => {
  const apps: Array<{ close(): Promise<unknown> }> = [];
  afterAll(async () => {
    for (const a of apps) await a.close();
  });

  it('decodes a JPEG while the event loop goes on', async () => {
    let turned = false;
    setImmediate(() => (turned = true));
    const rgb = await decodeJpeg(jpeg);
    expect(rgb.length).toBe(32 * 32 * 3);
    expect(turned).toBe(true);
  });

  it('decoding past the server keep-alive, the next request on the pooled connection is still answered', async () => {
    // node advertises timeout=3, fetch (undici) retires an idle socket 2 s before that, node closes it 1 s after:
    // with the loop held past 4 s both timers are overdue and the request goes out on the pooled socket first,
    // then node's timer closes it with the request unread (wnetwork.test.ts failed so, ECONNRESET)
    const keepAliveMs = 3000;
    const app = await buildApp({ registry: new Registry(), notReady: () => [], limits: { keepAliveTimeoutMs: keepAliveMs } });
    apps.push(app);
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    expect((await api(base, 'GET', '/healthz')).status).toBe(200);
    // go on from an I/O turn of the loop, as the MJPEG reader's data event does: after a held loop the
    // next turn runs the overdue timers before it polls (and reads) sockets
    await new Promise((resolve) => setImmediate(resolve));
    const idleFrom = performance.now();
    while (performance.now() - idleFrom < keepAliveMs + 1500) await decodeJpeg(jpeg);
    expect((await api(base, 'GET', '/healthz')).status).toBe(200);
  }, 30_000);
});
