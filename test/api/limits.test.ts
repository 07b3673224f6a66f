/**
 * Descriptor safety of the API server: half-sent requests and idle sockets are dropped after the
 * configured timeouts, and connections past `maxConnections` are closed on arrival while the
 * daemon keeps serving the ones it has. No sleeps: each step waits for a socket event.
 */
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp, connectionLimit } from '../../src/api/app.ts';
import { createRegistry } from '../../src/metrics.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfigFile } from '../../src/config/load.ts';
import { createDaemon } from '../../src/daemon.ts';

let app: FastifyInstance | undefined;
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await app?.close();
  app = undefined;
});

async function listen(limits: Parameters<typeof buildApp>[0]['limits']): Promise<number> {
  app = await buildApp({ registry: createRegistry(), notReady: () => [], limits });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return (app.server.address() as { port: number }).port;
}

/** A connected socket that collects what it receives; `closed` resolves with it when the server hangs up. */
async function open(port: number) {
  const socket = connect(port, '127.0.0.1');
  sockets.push(socket);
  let received = '';
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => (received += d));
  socket.on('error', () => {
    /* a reset from the server counts as closed */
  });
  const closed = once(socket, 'close').then(() => received);
  await once(socket, 'connect');
  return { socket, closed, received: () => received };
}

describe('API server limits', () => {
  it('answers a request whose headers never finish with 408 and closes it after headersTimeoutMs', async () => {
    const port = await listen({ headersTimeoutMs: 200, requestTimeoutMs: 400 });
    const c = await open(port);
    c.socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n'); // no blank line: headers never end
    expect(await c.closed).toMatch(/^HTTP\/1\.1 408/);
  });

  it('drops a request whose body stops half way after requestTimeoutMs', async () => {
    const port = await listen({ headersTimeoutMs: 200, requestTimeoutMs: 300 });
    const c = await open(port);
    c.socket.write('POST /healthz HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":');
    expect(await c.closed).toMatch(/^HTTP\/1\.1 408/);
  });

  it('closes an idle connection that sends nothing after idleTimeoutMs', async () => {
    const port = await listen({ idleTimeoutMs: 200 });
    const c = await open(port);
    expect(await c.closed).toBe('');
  });

  it('closes connections past maxConnections on arrival and keeps serving the others', async () => {
    const port = await listen({ maxConnections: 3 });
    const dropped = once(app!.server, 'drop');
    const held = [await open(port), await open(port), await open(port)];
    for (const h of held) h.socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n');
    const extra = await open(port);
    await dropped;
    expect(await extra.closed).toBe('');
    // the held ones are still served: finish one request and read its answer
    const answered = once(held[0]!.socket, 'data');
    held[0]!.socket.write('\r\n');
    const [chunk] = (await answered) as [string];
    expect(chunk).toMatch(/^HTTP\/1\.1 200/);
    expect(app!.server.listening).toBe(true);
  });

  it('keeps the connection limit at half the soft descriptor limit at most', () => {
    const limits = (soft: string) => `Limit                     Soft Limit           Hard Limit           Units\nMax open files            ${soft}                 524288               files\n`;
    expect(connectionLimit(1024, limits('1024'))).toBe(512);
    expect(connectionLimit(1024, limits('65536'))).toBe(1024);
    expect(connectionLimit(1024, limits('unlimited'))).toBe(1024);
    expect(connectionLimit(100, limits('20'))).toBe(16);
    expect(connectionLimit(300, undefined)).toBe(300);
  });

  it("the daemon's server takes its limits from the config's server section", async () => {
    const config = loadConfigFile();
    Object.assign(config.server, { port: 0, maxConnections: 7, requestTimeoutMs: 1234, uploadTimeoutMs: 7777, headersTimeoutMs: 999, keepAliveTimeoutMs: 4321, idleTimeoutMs: 5555 });
    config.stateDir = mkdtempSync(join(tmpdir(), 'gance-limits-'));
    config.synthesis.enabled = false;
    const daemon = await createDaemon({ config, log: pino({ level: 'silent' }) });
    try {
      const server = daemon.app.server;
      expect({ max: server.maxConnections, request: server.requestTimeout, headers: server.headersTimeout, keepAlive: server.keepAliveTimeout, idle: server.timeout }).toEqual({
        max: 7,
        // node's one request timeout is the upload's; requestTimeoutMs is the app's own (upload-timeout.test.ts)
        request: 7777,
        headers: 999,
        keepAlive: 4321,
        idle: 5555,
      });
    } finally {
      await daemon.app.close();
    }
  });
});
