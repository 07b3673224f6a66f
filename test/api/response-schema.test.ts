/**
 * Response schemas as fastify's serializer gets them (src/api/response-schema.ts): TypeBox's
 * `T | null` and unions of literals are anyOf, for which fast-json-stringify asks ajv, compiling
 * the whole response schema on the first reply (0.3-0.8 s for GET /v1/thermal on the event loop
 * the thermal control loop runs on). They are written by `type` instead, with the same values.
 */
import { Type, type TSchema } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/app.ts';
import { serializableSchema } from '../../src/api/response-schema.ts';
import { DiscriminatedUnion } from '../../src/api/union.ts';
import { serializer, validatesAtRunTime } from './serializer.ts';

const Nullable = <T extends TSchema>(t: T, description?: string) => Type.Union([t, Type.Null()], description === undefined ? {} : { description });

const View = Type.Object({
  celsius: Nullable(Type.Number({ description: 'C' })),
  count: Nullable(Type.Integer({ minimum: 0 })),
  at: Type.Optional(Nullable(Type.String({ format: 'date-time' }))),
  ok: Nullable(Type.Boolean()),
  mode: Type.Union([Type.Literal('pid'), Type.Literal('curve'), Type.Literal('fixed')]),
  from: Nullable(Type.Union([Type.Literal('operator'), Type.Literal('yield')]), 'whose rate; null: no limit'),
  lifted: Nullable(Type.Literal('ceiling')),
  ambient: Nullable(Type.Object({ celsius: Type.Number(), source: Type.Union([Type.Literal('thermistor'), Type.Literal('config')]) }, { description: 'inner' }), 'outer'),
  list: Type.Array(Type.Object({ rpm: Nullable(Type.Number()) })),
  byId: Type.Record(Type.String(), Type.Object({ v: Nullable(Type.Number()) })),
});

const full = {
  celsius: 61.5,
  count: 3,
  at: '2026-01-02T03:04:05.000Z',
  ok: true,
  mode: 'curve',
  from: 'yield',
  lifted: 'ceiling',
  ambient: { celsius: 24, source: 'config' },
  list: [{ rpm: 1200 }, { rpm: null }],
  byId: { a: { v: 1 }, b: { v: null } },
};
const nulls = { celsius: null, count: null, ok: null, mode: 'pid', from: null, lifted: null, ambient: null, list: [{ rpm: null }], byId: { a: { v: null } } };

describe('serializableSchema', () => {
  it('T | null and literal unions need no ajv at run time and write the same JSON', () => {
    expect(validatesAtRunTime(View), 'the probe sees what TypeBox writes').toBe(true);
    const s = serializableSchema(View);
    expect(validatesAtRunTime(s)).toBe(false);
    for (const value of [full, nulls]) {
      const json = serializer(s)(value);
      expect(JSON.parse(json)).toEqual(value);
      expect(json).toBe(serializer(View)(value));
    }
  });

  it('says the same in OpenAPI 3.0 terms: nullable, enum (with null when nullable), the field description first', () => {
    const p = serializableSchema(View).properties as unknown as Record<string, Record<string, unknown>>;
    expect(p.celsius).toEqual({ type: 'number', description: 'C', nullable: true });
    expect(p.count).toEqual({ type: 'integer', minimum: 0, nullable: true });
    expect(p.mode).toEqual({ type: 'string', enum: ['pid', 'curve', 'fixed'] });
    expect(p.from).toEqual({ type: 'string', enum: ['operator', 'yield', null], description: 'whose rate; null: no limit', nullable: true });
    expect(p.lifted).toEqual({ type: 'string', enum: ['ceiling', null], nullable: true });
    expect(p.ambient).toMatchObject({ type: 'object', description: 'outer', nullable: true, required: ['celsius', 'source'] });
    expect((p.ambient!.properties as Record<string, unknown>).source).toEqual({ type: 'string', enum: ['thermistor', 'config'] });
  });

  it('leaves the TypeBox definition as it was (request validation and the config loader use it)', () => {
    const before = JSON.stringify(View);
    serializableSchema(View);
    expect(JSON.stringify(View)).toBe(before);
    const plain = Type.Object({ a: Type.Number(), b: Type.Array(Type.String()) });
    expect(serializableSchema(plain)).toBe(plain);
  });

  it('leaves unions it cannot say by type: objects, a discriminated union, mixed types', () => {
    const objects = Type.Union([Type.Object({ a: Type.Number() }), Type.Object({ b: Type.String() })]);
    const tagged = DiscriminatedUnion('kind', [Type.Object({ kind: Type.Literal('a'), x: Type.Number() }), Type.Object({ kind: Type.Literal('b') })]);
    const mixed = Type.Union([Type.Integer({ minimum: 0 }), Type.Literal('cpu')]);
    const conflicting = Type.Union([Type.Number({ minimum: 0 }), Type.Null()], { minimum: 5 });
    for (const s of [objects, tagged, mixed, conflicting, Nullable(objects)]) expect(serializableSchema(s)).toEqual(s);
  });
});

describe('buildApp', () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  it('serializes route responses by type; the same schema as a body is still checked by its anyOf', async () => {
    const Body = Type.Object({ mode: View.properties.mode, celsius: View.properties.celsius }, { additionalProperties: false });
    const plugin: FastifyPluginAsync = async (app) => {
      app.get('/view/:which', { schema: { response: { 200: View } } }, async (req) => ((req.params as { which: string }).which === 'full' ? full : nulls));
      app.post('/echo', { schema: { body: Body, response: { 200: Body } } }, async (req) => req.body);
    };
    const app = await buildApp({ registry: new Registry(), notReady: () => [], plugins: [{ prefix: '/t', plugin }] });
    close = () => app.close();
    expect((await app.inject('/t/view/full')).json()).toEqual(full);
    expect((await app.inject('/t/view/nulls')).json()).toEqual(nulls);
    expect((await app.inject({ method: 'POST', url: '/t/echo', payload: { mode: 'fixed', celsius: null } })).json()).toEqual({ mode: 'fixed', celsius: null });
    const bad = await app.inject({ method: 'POST', url: '/t/echo', payload: { mode: 'auto', celsius: null } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toMatch(/body\/mode/);
    const doc = (await app.inject('/docs/json')).json();
    const documented = doc.paths['/t/view/{which}'].get.responses['200'].content['application/json'].schema.properties;
    expect(documented.celsius).toEqual({ type: 'number', description: 'C', nullable: true });
  });
});
