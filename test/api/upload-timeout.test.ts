/**
 * An upload (multipart/form-data: render audio, up to render.uploadMaxBytes) may take
 * server.uploadTimeoutMs to arrive; every other request still has server.requestTimeoutMs. One
 * timeout for all made a 7 MB upload over a 1.6 Mbit/s link a 408 after 30 s. No sleeps: the
 * JSON request's own 408 is the event that shows requestTimeoutMs has passed.
 */
import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/app.ts';
import { createRegistry } from '../../src/metrics.ts';

let app: FastifyInstance | undefined;
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await app?.close();
  app = undefined;
});

const plugin: FastifyPluginAsync = async (f) => {
  await f.register(multipart);
  f.post('/upload', async (req) => {
    let bytes = 0;
    for await (const part of req.parts()) if (part.type === 'file') for await (const chunk of part.file) bytes += (chunk as Buffer).length;
    return { bytes };
  });
  f.post('/json', async (req) => req.body);
};

async function listen(limits: Parameters<typeof buildApp>[0]['limits']): Promise<number> {
  app = await buildApp({ registry: createRegistry(), notReady: () => [], plugins: [{ prefix: '/v1/t', plugin }], limits });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return (app.server.address() as { port: number }).port;
}

async function open(port: number) {
  const socket = connect(port, '127.0.0.1');
  sockets.push(socket);
  let received = '';
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => (received += d));
  socket.on('error', () => {});
  const closed = once(socket, 'close').then(() => received);
  await once(socket, 'connect');
  return { socket, closed, received: () => received };
}

const B = 'gance-boundary';
const head = `--${B}\r\nContent-Disposition: form-data; name="audio"; filename="a.wav"\r\nContent-Type: application/octet-stream\r\n\r\n`;
const tail = `\r\n--${B}--\r\n`;
const file = 'x'.repeat(1000);
const uploadRequest = (length: number) => `POST /v1/t/upload HTTP/1.1\r\nHost: localhost\r\nContent-Type: multipart/form-data; boundary=${B}\r\nContent-Length: ${length}\r\nConnection: close\r\n\r\n`;

describe('upload timeout', () => {
  it('an upload still arriving after requestTimeoutMs goes on (uploadTimeoutMs); a JSON body as slow is 408', async () => {
    const port = await listen({ headersTimeoutMs: 200, requestTimeoutMs: 300, uploadTimeoutMs: 60_000 });
    const body = head + file + tail;
    const up = await open(port);
    up.socket.write(uploadRequest(body.length) + body.slice(0, 400));
    const json = await open(port);
    json.socket.write('POST /v1/t/json HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":');
    const answer = await json.closed;
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect(answer).toContain('server.requestTimeoutMs');
    expect(up.socket.destroyed).toBe(false);
    up.socket.write(body.slice(400));
    const done = await up.closed;
    expect(done).toMatch(/^HTTP\/1\.1 200/);
    expect(done).toContain('{"bytes":1000}');
  });

  it('an upload not in by uploadTimeoutMs is 408 and closed', async () => {
    const port = await listen({ headersTimeoutMs: 200, requestTimeoutMs: 300, uploadTimeoutMs: 600 });
    const body = head + file + tail;
    const up = await open(port);
    up.socket.write(uploadRequest(body.length) + body.slice(0, 400));
    expect(await up.closed).toMatch(/^HTTP\/1\.1 408/);
  });
});

describe('request timeout and long-lived connections', () => {
  it('a WebSocket open past requestTimeoutMs stays open (the body timeout is for bodies)', async () => {
    const { default: websocket } = await import('@fastify/websocket');
    const { WebSocket } = await import('ws');
    const ws: FastifyPluginAsync = async (f) => {
      await f.register(websocket);
      f.get('/ws', { websocket: true }, (socket) => {
        socket.on('message', (m: Buffer) => socket.send(m.toString()));
      });
    };
    app = await buildApp({ registry: createRegistry(), notReady: () => [], plugins: [{ prefix: '/v1/t', plugin }, { prefix: '/v1/w', plugin: ws }], limits: { headersTimeoutMs: 200, requestTimeoutMs: 300 } });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const port = (app.server.address() as { port: number }).port;
    const client = new WebSocket(`ws://127.0.0.1:${port}/v1/w/ws`);
    await once(client, 'open');
    const json = await open(port);
    json.socket.write('POST /v1/t/json HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":');
    expect(await json.closed).toMatch(/^HTTP\/1\.1 408/);
    client.send('still here');
    const [reply] = (await once(client, 'message')) as [Buffer];
    expect(reply.toString()).toBe('still here');
    client.close();
  });
});
