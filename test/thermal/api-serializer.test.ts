/**
 * The first GET /v1/thermal used to block the event loop 0.3-0.8 s: fastify's serializer asked
 * ajv about every `T | null` of the view, and ajv compiled the whole response schema then, on the
 * loop the control loop shares (the cooler's watchdog can be 0.5 s). No thermal route's reply may
 * leave ajv work to its first request.
 */
import type { RouteOptions } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/app.ts';
import { createRegistry } from '../../src/metrics.ts';
import { thermalApi } from '../../src/thermal/api.ts';
import { validatesAtRunTime } from '../api/serializer.ts';
import { harness, type Harness } from './service/harness.ts';

const opened: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(opened.map((h) => h.close()));
  opened.length = 0;
});

describe('/v1/thermal replies', () => {
  it('no route answers through a serializer that validates with ajv at run time', async () => {
    const h: Harness = await harness({ gpus: 2, start: false });
    opened.push(h);
    // the thermal routes as buildApp hands them to fastify (its own hooks ran first)
    const routes: RouteOptions[] = [];
    const api = thermalApi(h.service);
    const app = await buildApp({
      registry: createRegistry(),
      notReady: () => [],
      plugins: [
        {
          prefix: api.prefix,
          plugin: async (scope) => {
            scope.addHook('onRoute', (r) => void routes.push(r));
            await scope.register(api.plugin);
          },
        },
      ],
    });
    opened.push(app);
    const responses = routes.flatMap((r) => Object.entries((r.schema?.response ?? {}) as Record<string, object>).map(([code, s]) => ({ at: `${r.method} ${r.url} ${code}`, s })));
    expect(responses.map((x) => x.at)).toContain('GET /v1/thermal/ 200');
    expect(responses.filter((x) => validatesAtRunTime(x.s)).map((x) => x.at)).toEqual([]);

    // before any sample: the view's nulls (temperatures, demand, rpm, ambient, tuned, yield) go out as null
    const r = await h.app.inject('/v1/thermal');
    expect(r.statusCode).toBe(200);
    const z = r.json().zones[0];
    expect(z).toMatchObject({ temperature: null, sampleAgeSeconds: null, tuned: null });
    expect(z.temperatures[0]).toEqual({ gpu: 0, celsius: null, ageSeconds: null });
  });
});
