/** The app's error handler on what curl users get wrong most: a body sent without the JSON content type. */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/app.ts';

describe('unsupported content types', () => {
  it('415 says which content type came and which the route takes (curl -d without -H sends a form)', async () => {
    const plugin: FastifyPluginAsync = async (app) => {
      app.patch('/zones/:id', { schema: { body: Type.Object({ setpoint: Type.Number() }) } }, async (req) => req.body);
    };
    const app = await buildApp({ registry: new Registry(), notReady: () => [], plugins: [{ prefix: '/v1/test', plugin }] });
    try {
      const form = await app.inject({ method: 'PATCH', url: '/v1/test/zones/a', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'setpoint=70' });
      expect(form.statusCode).toBe(415);
      expect(form.json().message).toBe('content-type "application/x-www-form-urlencoded" is not accepted here: send the body as application/json');
      const none = await app.inject({ method: 'PATCH', url: '/v1/test/zones/a', payload: Buffer.from('{"setpoint":70}') });
      expect(none.statusCode).toBe(415);
      expect(none.json().message).toBe('the body has no content-type: send it as application/json');
      const ok = await app.inject({ method: 'PATCH', url: '/v1/test/zones/a', payload: { setpoint: 70 } });
      expect(ok.json()).toEqual({ setpoint: 70 });
    } finally {
      await app.close();
    }
  });
});
