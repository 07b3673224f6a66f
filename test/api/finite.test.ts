/**
 * What request validation lets through (src/api/finite.ts, on every route): ajv's type coercion
 * turned a JSON null into 0, a boolean into 0 or 1 and [5] into 5, so a client that serialises
 * NaN (JSON.stringify writes null) set a duty of 0. Only strings (querystrings, path params,
 * headers) may be coerced; any other value keeps its JSON type or the request is refused.
 */
import { Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { FastifyPluginAsync } from 'fastify';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/app.ts';

const Body = Type.Object(
  {
    duty: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    enabled: Type.Optional(Type.Boolean()),
    name: Type.Optional(Type.String()),
    gpus: Type.Optional(Type.Array(Type.Integer())),
    names: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    label: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    limit: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
    rate: Type.Optional(Type.Union([Type.Number({ exclusiveMinimum: 0 }), Type.Null()])),
    mode: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Null()])),
    framing: Type.Optional(Type.Union([Type.Object({ width: Type.Integer() }), Type.Null()])),
    curve: Type.Optional(Type.Array(Type.Tuple([Type.Number(), Type.Number()]))),
    nested: Type.Optional(Type.Object({ setpoint: Type.Number() })),
  },
  { additionalProperties: false },
);
const plugin: FastifyPluginAsync = async (app) => {
  app.post('/echo', { schema: { body: Body } }, async (req) => req.body);
  // a route with its own validator, as /v1/renders has (TypeBox's Value.Clone recurses per level)
  app.post('/own', { schema: { body: Body }, validatorCompiler: () => (v: unknown) => ({ value: Value.Clone(v) }) }, async (req) => req.body);
  app.get('/q/:n', { schema: { params: Type.Object({ n: Type.Integer() }), querystring: Type.Object({ seconds: Type.Integer({ default: 5 }), fans: Type.Optional(Type.Array(Type.String())), on: Type.Optional(Type.Boolean()) }) } }, async (req) => ({
    params: req.params,
    query: req.query,
  }));
};

let app: Awaited<ReturnType<typeof buildApp>> | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});
async function open() {
  app = await buildApp({ registry: new Registry(), notReady: () => [], plugins: [{ prefix: '/t', plugin }] });
  return app;
}

describe('request values keep their JSON types', () => {
  it('refuses null, booleans and one-item lists where the schema wants another type, naming the field and what came', async () => {
    const a = await open();
    const cases: Array<[unknown, string]> = [
      [{ duty: null }, 'body/duty must be number, got null'],
      [{ duty: true }, 'body/duty must be number, got true'],
      [{ duty: [0.5] }, 'body/duty must be number, got [0.5]'],
      [{ enabled: 0 }, 'body/enabled must be boolean, got 0'],
      [{ enabled: null }, 'body/enabled must be boolean, got null'],
      [{ name: 12 }, 'body/name must be string, got 12'],
      [{ name: null }, 'body/name must be string, got null'],
      [{ gpus: 3 }, 'body/gpus must be array, got 3'],
      // coerced, null would be [""] and fail on that: the error names what came
      [{ names: null }, 'body/names must be array'],
      // a null the schema allows is not the error where another field is
      [{ label: null, duty: 5 }, 'body/duty must be <= 1'],
      [{ gpus: [0, null] }, 'body/gpus/1 must be number, got null'],
      [{ curve: [[40, 0], [80, null]] }, 'body/curve/1/1 must be number, got null'],
      [{ nested: { setpoint: false } }, 'body/nested/setpoint must be number, got false'],
      // coercion would make 0 the null the union allows: the bound it broke as sent is the reason
      [{ rate: 0 }, 'body/rate must be > 0'],
      // "" is no null: coerced, it cleared a thermal mode ({"name": ""}) and lifted a rate limit ({"maxFps": ""})
      [{ mode: '' }, 'body/mode must NOT have fewer than 1 characters'],
      [{ limit: '' }, 'body/limit must be number or null, got ""'],
      [{ rate: '' }, 'body/rate must be number or null, got ""'],
      [{ framing: '' }, 'body/framing must be object or null, got ""'],
    ];
    for (const [payload, message] of cases) {
      const r = await a.inject({ method: 'POST', url: '/t/echo', payload: payload as object });
      expect(r.statusCode, JSON.stringify(payload)).toBe(400);
      expect(r.json().message, JSON.stringify(payload)).toBe(message);
    }
  });

  it('refuses a body nested deeper than any schema goes with a 400, not a stack overflow (500)', async () => {
    const a = await open();
    const deep = `{"curve": ${'['.repeat(200_000)}${']'.repeat(200_000)}}`;
    const r = await a.inject({ method: 'POST', url: '/t/echo', payload: deep, headers: { 'content-type': 'application/json' } });
    expect(r.statusCode).toBe(400);
    expect(r.json().message).toBe('body nests deeper than 64 levels (at /curve/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0...)');
    const own = await a.inject({ method: 'POST', url: '/t/own', payload: deep, headers: { 'content-type': 'application/json' } });
    expect([own.statusCode, own.json().message]).toEqual([400, r.json().message]);
    // as deep as a real body goes passes
    const ok = await a.inject({ method: 'POST', url: '/t/echo', payload: { nested: { setpoint: 70 }, curve: [[40, 0]] } });
    expect(ok.statusCode).toBe(200);
  });

  it('a null the schema allows stays null (not "" or 0); well-typed bodies pass unchanged', async () => {
    const a = await open();
    const body = { duty: 0.5, enabled: false, name: 'x', gpus: [0, 1], label: null, limit: null, curve: [[40, 0], [80, 1]], nested: { setpoint: 70 } };
    const r = await a.inject({ method: 'POST', url: '/t/echo', payload: body });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual(body);
  });

  it('strings are still coerced where they must be: querystrings, path params, a number sent as a string', async () => {
    const a = await open();
    let r = await a.inject('/t/q/3?seconds=30&fans=a&on=true');
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({ params: { n: 3 }, query: { seconds: 30, fans: ['a'], on: true } });
    r = await a.inject('/t/q/3');
    expect(r.json().query).toEqual({ seconds: 5 });
    r = await a.inject('/t/q/3?seconds=soon');
    expect(r.statusCode).toBe(400);
    expect(r.json().message).toBe('querystring/seconds must be integer');
    r = await a.inject({ method: 'POST', url: '/t/echo', payload: { duty: '0.5' } });
    expect(r.json()).toEqual({ duty: 0.5 });
  });
});
