import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import pino from 'pino';
import { buildApp } from '../../src/api/app.ts';
import { ConflictError, INTERNAL_MESSAGE, NotFoundError, UnprocessableError } from '../../src/api/errors.ts';
import { createRegistry } from '../../src/metrics.ts';

describe('app factory', () => {
  it('flips /readyz from 503 listing the subsystems to 200', async () => {
    let pending = ['thermal', 'synthesis'];
    const app = await buildApp({ registry: createRegistry(), notReady: () => pending });
    const before = await app.inject('/readyz');
    expect(before.statusCode).toBe(503);
    expect(before.json()).toEqual({ ready: false, notReady: ['thermal', 'synthesis'] });
    pending = [];
    const after = await app.inject('/readyz');
    expect(after.statusCode).toBe(200);
    expect(after.json()).toEqual({ ready: true, notReady: [] });
    expect((await app.inject('/healthz')).json()).toEqual({ status: 'ok' });
    await app.close();
  });

  it('exposes one registry per app, with process metrics under the gance_ prefix, that promtool accepts', async () => {
    const a = createRegistry();
    const b = createRegistry();
    expect(a).not.toBe(b);
    const app = await buildApp({ registry: a, notReady: () => [] });
    const res = await app.inject('/metrics');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain');
    expect(res.body).toMatch(/^gance_process_resident_memory_bytes \d+/m);
    expect(res.body).not.toMatch(/^process_/m);
    const file = join(tmpdir(), `gance-metrics-${process.pid}.txt`);
    writeFileSync(file, res.body);
    // promtool reads the exposition from stdin; a lint problem makes it exit non-zero
    execFileSync('sh', ['-c', `promtool check metrics < ${file}`]);
    await app.close();
  });

  it('generates OpenAPI from route schemas, plugins included, and serves the docs UI', async () => {
    const Body = Type.Object({ setpoint: Type.Number({ minimum: 30, maximum: 95 }) }, { additionalProperties: false });
    const plugin: FastifyPluginAsync = async (app) => {
      app.put('/zones/:id', { schema: { body: Body } }, async (req) => req.body);
    };
    const app = await buildApp({ registry: createRegistry(), notReady: () => [], plugins: [{ prefix: '/v1/test', plugin }] });
    const spec = (await app.inject('/docs/json')).json();
    expect(spec.openapi).toBe('3.0.3');
    expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining(['/healthz', '/readyz', '/metrics', '/v1/test/zones/{id}']));
    expect(spec.paths['/v1/test/zones/{id}'].put.requestBody.content['application/json'].schema.properties.setpoint.maximum).toBe(95);
    const ui = await app.inject('/docs');
    expect([200, 302]).toContain(ui.statusCode);
    const bad = await app.inject({ method: 'PUT', url: '/v1/test/zones/z0', payload: { setpoint: 120 } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toContain('setpoint');
    await app.close();
  });

  it('refuses a non-finite number on any route, in body and query, naming the field (coercion turns "Infinity" into one that min/max let through)', async () => {
    // a route written with no thought for Infinity: the app factory refuses it anyway
    const plugin: FastifyPluginAsync = async (app) => {
      app.post(
        '/echo',
        {
          schema: {
            body: Type.Object({ a: Type.Number({ minimum: -40, maximum: 150 }), list: Type.Optional(Type.Array(Type.Number())) }),
            querystring: Type.Object({ n: Type.Optional(Type.Integer({ minimum: 1, maximum: 60 })) }),
          },
        },
        async (req) => ({ body: req.body, query: req.query }),
      );
    };
    const app = await buildApp({ registry: createRegistry(), notReady: () => [], plugins: [{ prefix: '/v1/test', plugin }] });
    const post = (payload: string, query = '') => app.inject({ method: 'POST', url: `/v1/test/echo${query}`, headers: { 'content-type': 'application/json' }, payload });
    const cases: Array<[string, string, RegExp]> = [
      ['{"a":"-Infinity"}', '', /^body\/a must be a finite number$/],
      ['{"a":"Infinity"}', '', /^body\/a must be a finite number$/],
      ['{"a":"1e309"}', '', /^body\/a must be a finite number$/],
      // JSON.parse makes Infinity of this one; ajv's own type check refuses it
      ['{"a":1e309}', '', /^body\/a must be (a finite )?number$/],
      ['{"a":1,"list":[1,"-1e400"]}', '', /^body\/list\/1 must be a finite number$/],
      ['{"a":1}', '?n=1e309', /^querystring\/n must be a finite number$/],
      ['{"a":1}', '?n=Infinity', /^querystring\/n must be a finite number$/],
    ];
    for (const [payload, query, re] of cases) {
      const r = await post(payload, query);
      expect(r.statusCode, payload + query).toBe(400);
      expect(r.json().message, payload + query).toMatch(re);
    }
    // finite values, coerced or not, still pass
    const ok = await post('{"a":"12.5","list":[1,"2"]}', '?n=3');
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({ body: { a: 12.5, list: [1, 2] }, query: { n: 3 } });
    await app.close();

    // a shared schema (app.addSchema, then used by $id) is compiled by another path: refused there too
    const Shared = { $id: 'Shared', type: 'object', properties: { a: { type: 'number', maximum: 10 } } };
    const sharedPlugin: FastifyPluginAsync = async (a) => {
      a.addSchema(Shared);
      a.post('/shared', { schema: { body: Shared } }, async (req) => req.body);
    };
    const app2 = await buildApp({ registry: createRegistry(), notReady: () => [], plugins: [{ prefix: '/v1/test', plugin: sharedPlugin }] });
    const shared = await app2.inject({ method: 'POST', url: '/v1/test/shared', headers: { 'content-type': 'application/json' }, payload: '{"a":"-Infinity"}' });
    expect(shared.statusCode).toBe(400);
    expect(shared.json().message).toBe('body/a must be a finite number');
    await app2.close();
  });

  it('maps errors to status codes in one place: validation 400 naming the field, typed errors their code, fastify 4xx as is, anything else 500 generic and logged', async () => {
    const logged: Array<{ level: number; msg: string }> = [];
    const logger = pino({ level: 'error' }, { write: (line: string) => void logged.push(JSON.parse(line) as { level: number; msg: string }) });
    const plugin: FastifyPluginAsync = async (app) => {
      app.post('/things/:id', { schema: { body: Type.Object({ mode: Type.Union([Type.Literal('a'), Type.Literal('b')]), n: Type.Integer({ maximum: 5 }) }, { additionalProperties: false }) } }, async (req) => {
        const { id } = req.params as { id: string };
        if (id === 'missing') throw new NotFoundError('no thing "missing"');
        if (id === 'busy') throw new ConflictError('thing "busy" is in use');
        if (id === 'odd') throw new UnprocessableError('body/n: no such slot');
        if (id === 'bug') throw new Error('secret internals at /home/x');
        return { ok: true };
      });
    };
    const app = await buildApp({ registry: createRegistry(), notReady: () => [], plugins: [{ prefix: '/v1/t', plugin }], logger });
    const post = (id: string, payload: string) => app.inject({ method: 'POST', url: `/v1/t/things/${id}`, headers: { 'content-type': 'application/json' }, payload });
    const cases: Array<[string, string, number, string, string | RegExp]> = [
      ['x', '{"mode":"c","n":1}', 400, 'Bad Request', 'body/mode must be one of: "a", "b"'],
      ['x', '{"mode":"a","n":9}', 400, 'Bad Request', 'body/n must be <= 5'],
      ['x', '{"mode":"a","n":1,"z":0}', 400, 'Bad Request', 'body must NOT have additional properties (got "z")'],
      ['x', '{"mode":', 400, 'Bad Request', /JSON/],
      ['missing', '{"mode":"a","n":1}', 404, 'Not Found', 'no thing "missing"'],
      ['busy', '{"mode":"a","n":1}', 409, 'Conflict', 'thing "busy" is in use'],
      ['odd', '{"mode":"a","n":1}', 422, 'Unprocessable Entity', 'body/n: no such slot'],
      ['bug', '{"mode":"a","n":1}', 500, 'Internal Server Error', INTERNAL_MESSAGE],
    ];
    for (const [id, payload, code, error, message] of cases) {
      const r = await post(id, payload);
      expect(r.statusCode, `${id} ${payload}`).toBe(code);
      expect(r.json(), `${id} ${payload}`).toEqual({ statusCode: code, error, message: expect.stringMatching(typeof message === 'string' ? `^${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$` : message) });
    }
    expect(logged.filter((l) => l.level === 50).map((l) => l.msg)).toEqual(['unexpected error answering POST /v1/t/things/bug: secret internals at /home/x']);
    await app.close();
  });
});
