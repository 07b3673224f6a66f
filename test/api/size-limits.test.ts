/** Request size limits from the server section: URL (414), body (413), request head (431, from node's parser on a real socket). */
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { once } from 'node:events';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { buildApp } from '../../src/api/app.ts';
import { createRegistry } from '../../src/metrics.ts';
import { parseConfigText } from '../../src/config/load.ts';

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});
const echo: FastifyPluginAsync = async (a) => {
  a.post('/echo', async (req) => ({ size: JSON.stringify(req.body).length }));
};
const make = async (limits: Parameters<typeof buildApp>[0]['limits']) =>
  (app = await buildApp({ registry: createRegistry(), notReady: () => [], limits, plugins: [{ prefix: '/v1/test', plugin: echo }] }));

describe('request size limits', () => {
  it('a URL over server.maxUrlLength is 414 (also on routes that do not exist), one at the limit passes', async () => {
    const a = await make({ maxUrlLength: 300 });
    const over = await a.inject(`/healthz?${'x'.repeat(300)}`);
    expect(over.statusCode).toBe(414);
    expect(over.json().message).toBe('the URL is 309 characters; at most 300 (server.maxUrlLength)');
    expect((await a.inject(`/nothing/${'y'.repeat(400)}`)).statusCode).toBe(414);
    expect((await a.inject(`/healthz?${'x'.repeat(291)}`)).statusCode).toBe(200);
  });

  it('a body over server.bodyLimitBytes is 413 before the route runs', async () => {
    const a = await make({ bodyLimitBytes: 2048 });
    const big = await a.inject({ method: 'POST', url: '/v1/test/echo', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ a: 'z'.repeat(3000) }) });
    expect(big.statusCode).toBe(413);
    expect(big.json().error).toBe('Payload Too Large');
    const ok = await a.inject({ method: 'POST', url: '/v1/test/echo', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ a: 'z'.repeat(1000) }) });
    expect(ok.statusCode).toBe(200);
  });

  it('a request head over server.maxHeaderBytes is 431 from node, and the server keeps serving', async () => {
    const a = await make({ maxHeaderBytes: 2048 });
    await a.listen({ host: '127.0.0.1', port: 0 });
    const port = (a.server.address() as { port: number }).port;
    const s = connect(port, '127.0.0.1');
    let got = '';
    s.setEncoding('utf8').on('data', (d: string) => (got += d));
    await once(s, 'connect');
    s.write(`GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Pad: ${'p'.repeat(4000)}\r\n\r\n`);
    await once(s, 'close');
    expect(got).toMatch(/^HTTP\/1\.1 431/);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
  });

  it('config: defaults 1 MiB, 16 KiB, 4096; out of range names the field', () => {
    const base = 'cooler: { driver: simulated, fans: [{ id: f0, channel: 0 }] }\nthermal: { sensors: { source: simulated }, zones: [{ id: z0, gpus: [0], fans: [f0], mode: pid, pid: { setpoint: 75 } }] }\n';
    const c = parseConfigText(base, 'c.yaml');
    expect([c.server.bodyLimitBytes, c.server.maxHeaderBytes, c.server.maxUrlLength]).toEqual([1048576, 16384, 4096]);
    expect(() => parseConfigText(`server: { maxUrlLength: 10 }\n${base}`, 'c.yaml')).toThrow('server.maxUrlLength: must be >= 256');
  });
});
