/**
 * The thermal page (served by the daemon, plain ES modules, no build step) and what it needs:
 *   GET  /ui, /ui/app.js                the page
 *   GET  /zones/{zone}/model            the plant model previews run on (identified, or the simulator's)
 *   PUT  /zones/{zone}/model            store an identified model (gance thermal step|autotune --url)
 *   POST /zones/{zone}/preview          the response given gains would give on that model
 */
import { readFileSync } from 'node:fs';
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { ErrorReply } from '../../api/app.ts';
import { ConflictError, NotFoundError } from '../../api/errors.ts';
import { LIMITS } from '../config.ts';
import type { ThermalService } from '../service/service.ts';
import { expectedResponse } from '../tuning/gains.ts';
import { ZoneModel, loadModels, saveModel, simulatorModel } from '../tuning/models.ts';

const tags = ['thermal'];
const ZoneParams = Type.Object({ zone: Type.String({ minLength: 1, maxLength: LIMITS.id }) });
const html = readFileSync(new URL('./index.html', import.meta.url), 'utf8');
const js = readFileSync(new URL('./app.js', import.meta.url), 'utf8');

export function pageRoutes(service: ThermalService): FastifyPluginAsync {
  return async (fastify) => {
    const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
    const slotOr404 = (id: string) => {
      const s = service.zoneSlot(id);
      if (!s) throw new NotFoundError(`no zone "${id}" (zones: ${service.zoneIds().join(', ')})`);
      return s;
    };
    const modelOf = async (id: string): Promise<ZoneModel> => {
      const slot = slotOr404(id);
      const stored = (await loadModels(service.stateDir))[id];
      if (stored) return stored;
      const power = Math.max(0, ...slot.config.gpus.map((g) => service.source.latest().get(g)?.powerW ?? 0));
      const m = simulatorModel(slot.config.pid.setpoint, { watts: power > 40 ? power : 150, sensorIntervalS: service.config.sensors.intervalMs / 1000 });
      return { gain: m.gain, timeConstantS: m.timeConstantS, deadTimeS: m.deadTimeS, source: 'simulator' };
    };

    app.get('/ui', { schema: { description: 'The thermal page: live chart per zone, alarms, the PID settings with a preview on the identified plant', tags, hide: true } }, async (_req, reply) =>
      reply.type('text/html; charset=utf-8').send(html),
    );
    app.get('/ui/app.js', { schema: { hide: true } }, async (_req, reply) => reply.type('text/javascript; charset=utf-8').send(js));

    app.get('/zones/:zone/model', { schema: { description: 'The plant model previews of this zone run on', tags, params: ZoneParams, response: { 200: ZoneModel, 404: ErrorReply } } }, async (req) => modelOf(req.params.zone));

    app.put(
      '/zones/:zone/model',
      { schema: { description: 'Store an identified model of the zone (gance thermal step|autotune do this through --url)', tags, params: ZoneParams, body: ZoneModel, response: { 200: ZoneModel, 400: ErrorReply, 404: ErrorReply, 409: ErrorReply } } },
      async (req) => {
        slotOr404(req.params.zone);
        if (!service.stateDir) throw new ConflictError('the daemon has no state directory to keep the model in');
        await saveModel(service.stateDir, req.params.zone, req.body);
        return req.body;
      },
    );

    app.post(
      '/zones/:zone/preview',
      {
        schema: {
          description: 'The response these gains would give on the zone model (a plain PI(D), the setpoint lowered by stepC from equilibrium): overshoot, settling, a trace',
          tags,
          params: ZoneParams,
          body: Type.Object(
            {
              kp: Type.Number({ minimum: 0, maximum: 10 }),
              ki: Type.Number({ minimum: 0, maximum: 10 }),
              kd: Type.Number({ minimum: 0, maximum: 100, default: 0 }),
              stepC: Type.Number({ exclusiveMinimum: 0, maximum: 20, default: 5 }),
            },
            { additionalProperties: false },
          ),
          response: {
            200: Type.Object({
              model: ZoneModel,
              overshootC: Type.Number(),
              settlingS: Type.Union([Type.Number(), Type.Null()]),
              oscillating: Type.Boolean(),
              dutyTravel: Type.Number(),
              trace: Type.Array(Type.Object({ t: Type.Number(), temperature: Type.Number(), duty: Type.Number() })),
            }),
            400: ErrorReply,
            404: ErrorReply,
          },
        },
      },
      async (req) => {
        const model = await modelOf(req.params.zone);
        const slot = slotOr404(req.params.zone);
        const r = expectedResponse(model, req.body, { stepC: req.body.stepC, minDuty: slot.config.minDuty, maxDuty: slot.config.maxDuty, seconds: Math.min(7200, Math.max(600, 12 * model.timeConstantS)) });
        return { model, overshootC: r.overshootC, settlingS: r.settlingS, oscillating: r.oscillating, dutyTravel: r.dutyTravel, trace: r.trace };
      },
    );
  };
}
