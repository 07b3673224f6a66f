/**
 * Response schemas as fastify's serializer gets them (src/api/response-schema.ts): TypeBox's
 * `T | null` and unions of literals are anyOf, for which fast-json-stringify asks ajv, compiling
 * the whole response schema on the first reply (0.3-0.8 s for GET /v1/thermal on the event loop
 * the thermal control loop runs on). They are written by `type` instead, with the same values.
 */
import { Type, type TSchema } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/app.ts';
import { serializableSchema, serializerSchema } from '../../src/api/response-schema.ts';
import { DiscriminatedUnion } from '../../src/api/union.ts';
import { gpuRoutes } from '../../src/render/gpus.ts';
import { GpuThrottle } from '../../src/render/throttle.ts';
import { networksApi } from '../../src/synthesis/api.ts';
import { BUNDLED_NETWORKS_DIR, NetworkCatalogue } from '../../src/synthesis/networks/catalogue.ts';
import { NetworkManager } from '../../src/synthesis/networks/manager.ts';
import { serializer, validatesAtRunTime, validatorCalls } from './serializer.ts';

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

// unions of different primitive types: OpenAPI 3.0 cannot say them by type, the serializer can (a type list)
const Mixed = Type.Object({
  dim: Type.Union([Type.Integer(), Type.String()]),
  gpu: Type.Union([Type.Integer({ minimum: 0, maximum: 1023 }), Type.Literal('cpu')], { description: 'GPU index or "cpu"' }),
  level: Nullable(Type.Union([Type.Number(), Type.Boolean(), Type.Literal('auto')])),
  nested: Type.Union([Type.Union([Type.Integer(), Type.Literal('x')]), Type.Boolean()]),
  shape: Type.Array(Type.Union([Type.Integer(), Type.String()])),
});
const mixedValues = [
  { dim: 512, gpu: 0, level: 1.5, nested: 7, shape: ['N', 512] },
  { dim: 'batch', gpu: 'cpu', level: null, nested: 'x', shape: [64, 'N'] },
  { dim: 0, gpu: 1023, level: true, nested: false, shape: [] },
  { dim: '512', gpu: 'cpu', level: 'auto', nested: true, shape: ['3'] },
];

describe('serializerSchema (the serializer alone)', () => {
  it('writes unions of primitive types by a type list, without ajv, each value as the anyOf wrote it', () => {
    expect(validatesAtRunTime(Mixed), 'the probe sees what TypeBox writes').toBe(true);
    expect(validatesAtRunTime(serializableSchema(Mixed)), 'the OpenAPI-safe form leaves them to ajv').toBe(true);
    const s = serializerSchema(Mixed);
    expect(validatesAtRunTime(s)).toBe(false);
    for (const value of mixedValues) {
      const json = serializer(s)(value);
      expect(json).toBe(serializer(Mixed)(value));
      expect(JSON.parse(json)).toEqual(value);
    }
    // 512 stays a number, "512" a string
    expect(serializer(s)(mixedValues[3])).toContain('"dim":"512"');
    expect(serializer(s)(mixedValues[0])).toContain('"dim":512,');
    const p = s.properties as unknown as Record<string, Record<string, unknown>>;
    expect(p.gpu).toEqual({ type: ['integer', 'string'], description: 'GPU index or "cpu"' });
    expect(p.level).toEqual({ type: ['number', 'boolean', 'string'], nullable: true });
    expect(p.nested).toEqual({ type: ['integer', 'string', 'boolean'] });
  });

  it('does what serializableSchema does besides, and leaves TypeBox\'s definition as it was', () => {
    const before = JSON.stringify(Mixed);
    serializerSchema(Mixed);
    expect(JSON.stringify(Mixed)).toBe(before);
    expect(serializerSchema(View)).toEqual(serializableSchema(View));
  });

  it('leaves what a type list would write otherwise: a format, objects or arrays, keywords on the union itself', () => {
    const dated = Type.Union([Type.String({ format: 'date-time' }), Type.Integer()]);
    const withArray = Type.Union([Type.Integer(), Type.Array(Type.Integer())]);
    const objects = Type.Union([Type.Object({ a: Type.Number() }), Type.String()]);
    const constrained = Type.Union([Type.Integer(), Type.String()], { minimum: 0 });
    for (const s of [dated, withArray, objects, constrained]) expect(serializerSchema(s)).toEqual(s);
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

describe('the daemon\'s routes with unions of primitive types', () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  const idle = (gpu: number | 'cpu') => ({ gpu, paused: false, maxFps: null, maxFpsFrom: null, reason: null, operator: { paused: false, maxFps: null }, yield: null });

  it('/v1/networks (a dim: integer | string) and /v1/renders/gpus (integer | "cpu") answer without ajv, writing each branch as before', async () => {
    const log = pino({ level: 'silent' });
    const catalogue = new NetworkCatalogue({ dirs: [], bundledDir: BUNDLED_NETWORKS_DIR, log });
    const manager = new NetworkManager({ catalogue, createPool: null, output: 'frames', defaultNetwork: 'demo-64', log });
    const app = await buildApp({
      registry: new Registry(),
      notReady: () => [],
      plugins: [networksApi(manager), { prefix: '/v1/renders', plugin: gpuRoutes(new GpuThrottle(), [0, 'cpu']) }],
    });
    close = () => app.close();
    const bodies: Record<string, string> = {};
    const calls = await validatorCalls(async () => {
      for (const url of ['/v1/networks', '/v1/renders/gpus', '/v1/renders/gpus/0', '/v1/renders/gpus/cpu']) {
        const r = await app.inject(url);
        expect(r.statusCode, `${url}: ${r.body}`).toBe(200);
        bodies[url] = r.body;
      }
    });
    expect(calls, 'runtime ajv calls of the serializers').toBe(0);

    // the bundled demo's tensors: "N" (the batch) a string, the other dims numbers
    expect(bodies['/v1/networks']).toContain('"inputs":[{"name":"z","role":"latent","dtype":"float32","shape":["N",512]},{"name":"psi","role":"psi","dtype":"float32","shape":["N"]}]');
    expect(bodies['/v1/networks']).toContain('"shape":["N",64,64,3]');
    expect(JSON.parse(bodies['/v1/networks']!)).toEqual(manager.list());
    expect(bodies['/v1/renders/gpus']).toBe(JSON.stringify({ gpus: [idle(0), idle('cpu')] }));
    expect(bodies['/v1/renders/gpus/0']).toBe(JSON.stringify(idle(0)));
    expect(bodies['/v1/renders/gpus/cpu']).toBe(JSON.stringify(idle('cpu')));
    expect(bodies['/v1/renders/gpus/cpu']).toMatch(/^\{"gpu":"cpu",/);

    // the OpenAPI document still says them as TypeBox does (3.0 has no type lists)
    const doc = (await app.inject('/docs/json')).json();
    const gpu = doc.paths['/v1/renders/gpus/{gpu}'].get.responses['200'].content['application/json'].schema.properties.gpu;
    expect(gpu.anyOf).toEqual([{ type: 'integer', minimum: 0, maximum: 1023 }, { type: 'string', enum: ['cpu'] }]);
    const network = doc.paths['/v1/networks/'].get.responses['200'].content['application/json'].schema.properties.networks.items;
    expect(network.properties.inputs.items.properties.shape.items).toEqual({ anyOf: [{ type: 'integer' }, { type: 'string' }] });
  });
});
