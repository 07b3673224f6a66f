/**
 * The CLI's requests to the daemon over a kept-alive connection the server closes under them. The
 * daemon (node's http server) closes a connection idle for its keepAliveTimeout; fetch stops
 * reusing one a little before that by its own timers, and under load the two cross: the request
 * goes out on a socket whose close is already on its way ("other side closed", seen once by the
 * e2e --remote render). Here a real server closes each kept-alive connection as the next request
 * arrives on it, which is that crossing without its timing: every request that reuses a socket
 * meets it. An idempotent request is sent once more on a fresh connection; a POST is not.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { call, daemonFetch } from '../../src/cli/daemon-api.ts';
import { follow } from '../../src/cli/render-remote.ts';

interface Seen {
  method: string;
  url: string;
  /** the request came on a connection that had answered one before */
  reused: boolean;
}

/** A server that answers a request on a new connection and closes a kept-alive one when a request comes on it. */
async function closingServer(answer: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ base: string; seen: Seen[]; connections: () => number; server: Server }> {
  const seen: Seen[] = [];
  const answered = new WeakSet<Socket>();
  let connections = 0;
  const server = createServer((req, res) => {
    const reused = answered.has(req.socket);
    seen.push({ method: req.method ?? '', url: req.url ?? '', reused });
    if (reused) {
      // its idle close, crossing the request: nothing answered
      req.socket.destroy();
      return;
    }
    answered.add(req.socket);
    answer(req, res);
  });
  // long enough that fetch keeps the connection for the next request (its own limit is 4 s)
  server.keepAliveTimeout = 60_000;
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, connections: () => connections, server };
}

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
});

const json = (res: ServerResponse, body: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));

describe("the CLI's daemon requests on a connection the server closes under them", () => {
  it('a GET, a DELETE, an event stream and a download go again on a fresh connection, once, and get their answer', async () => {
    const s = await closingServer((req, res) => {
      if (req.url?.endsWith('/events')) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(`event: end\ndata: ${JSON.stringify({ id: 'abc', state: 'done' })}\n\n`);
        return;
      }
      json(res, { method: req.method, url: req.url });
    });
    servers.push(s.server);
    // fetch keeps its connections (one or two: it opens another while the last is being released),
    // so the requests after the first come on kept ones, and the server closes those under them
    for (let round = 0; round < 3; round++) {
      expect(await call(s.base, '/v1/renders')).toEqual({ method: 'GET', url: '/v1/renders' });
      expect(await call(s.base, '/v1/renders/abc', { method: 'DELETE' })).toEqual({ method: 'DELETE', url: '/v1/renders/abc' });
      expect(await follow(s.base, 'abc')).toEqual({ id: 'abc', state: 'done' });
      expect(await (await daemonFetch(`${s.base}/v1/renders/abc/output`)).json()).toEqual({ method: 'GET', url: '/v1/renders/abc/output' });
    }
    const closed = s.seen.filter((r) => r.reused);
    expect(closed.length).toBeGreaterThan(0);
    // each request the server closed came again at once, on a new connection, and was answered there
    s.seen.forEach((r, i) => {
      if (r.reused) expect(s.seen[i + 1]).toEqual({ method: r.method, url: r.url, reused: false });
    });
    expect(s.seen.filter((r) => !r.reused)).toHaveLength(12);
  });

  it('a POST is not sent twice: the closed connection is the error, saying the daemon could not be reached', async () => {
    // every request is closed unanswered
    const s = await closingServer((req) => req.socket.destroy());
    servers.push(s.server);
    await expect(call(s.base, '/v1/renders', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } })).rejects.toThrow(/cannot reach the daemon at .* \(other side closed\)/);
    expect(s.seen.map((r) => r.method)).toEqual(['POST']);
  });

  it('goes again once only: a connection closed under the second try too is the error', async () => {
    const s = await closingServer((req) => req.socket.destroy());
    servers.push(s.server);
    await expect(call(s.base, '/v1/renders')).rejects.toThrow(/cannot reach the daemon/);
    expect(s.seen.map((r) => r.method)).toEqual(['GET', 'GET']);
  });
});
