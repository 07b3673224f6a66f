/**
 * /v1/thermal: every zone's state, run-time tuning (validated, bumpless, persisted), history.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { ErrorReply, type ApiPlugin } from '../api/app.ts';
import { NotFoundError, UnprocessableError } from '../api/errors.ts';
import type { ThermalService } from './service/service.ts';
import { ZoneTuning } from './service/tuning.ts';
import { ThermalView, ZoneView, thermalView, zoneView } from './service/view.ts';
import type { ZonePatch } from './control/index.ts';
import { LIMITS } from './config.ts';
import { tuningRoutes } from './tuning/api.ts';
import { pageRoutes } from './page/routes.ts';
import { modeRoutes } from './modes/api.ts';

const tags = ['thermal'];
const TuneQuery = Type.Object({
  source: Type.Union([Type.Literal('tuning'), Type.Literal('autotune')], { default: 'tuning', description: "what the change is, for the zone's provenance: a tuning (by hand) or an autotune result" }),
});
const ZoneParams = Type.Object({ zone: Type.String({ minLength: 1, maxLength: LIMITS.id, description: 'zone id from thermal.zones[].id' }) });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

const HistoryReply = Type.Object({
  intervalMs: Type.Integer(),
  seconds: Type.Integer(),
  samples: Type.Array(
    Type.Object({
      t: Type.Number({ description: 'epoch ms' }),
      zones: Type.Record(Type.String(), Type.Object({ temperature: Nullable(Type.Number()), setpoint: Type.Number(), duty: Type.Number(), failsafe: Type.Boolean() })),
      gpus: Type.Record(Type.String(), Type.Object({ temperature: Nullable(Type.Number()), power: Nullable(Type.Number()), utilization: Nullable(Type.Number()) })),
      fans: Type.Record(Type.String(), Type.Object({ duty: Type.Number(), rpm: Nullable(Type.Number()) })),
    }),
  ),
});

export function thermalPlugin(service: ThermalService): FastifyPluginAsync {
  return async (fastify) => {
    const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
    const errors = { 400: ErrorReply, 404: ErrorReply, 409: ErrorReply, 500: ErrorReply };
    const zoneOr404 = (id: string) => {
      const v = zoneView(service, id);
      if (!v) throw new NotFoundError(`no zone "${id}" (zones: ${service.zoneIds().join(', ')})`);
      return v;
    };

    // fan characterisation and charts (src/thermal/tuning/api.ts)
    await fastify.register(tuningRoutes(service));
    // the thermal page and its preview (src/thermal/page)
    await fastify.register(pageRoutes(service));
    // modes: GET/PUT/DELETE /mode (src/thermal/modes/api.ts)
    await fastify.register(modeRoutes(service));

    app.get('/', { schema: { description: 'State of every zone, GPU, fan and alarm', tags, response: { 200: ThermalView } } }, async () => thermalView(service));

    app.get(
      '/zones/:zone',
      { schema: { description: 'One zone: temperatures, setpoint, mode, duty, fans, PID terms, alarms, sample age', tags, params: ZoneParams, response: { 200: ZoneView, 404: ErrorReply } } },
      async (req) => zoneOr404(req.params.zone),
    );

    app.patch(
      '/zones/:zone',
      {
        schema: {
          description:
            'Change setpoint, mode, gains, curve or limits now (bumpless); absent keys keep their value. Saved in the state directory; ' +
            'if that write fails the change still applies (cooling asked for is cooling given): the reply has persisted: false and the zone a tuning-not-saved alarm.',
          tags,
          params: ZoneParams,
          querystring: TuneQuery,
          body: ZoneTuning,
          response: { 200: ZoneView, ...errors },
        },
      },
      async (req) => {
        await service.tune(req.params.zone, req.body as ZonePatch, 'merge', req.query.source);
        return zoneOr404(req.params.zone);
      },
    );

    app.put(
      '/zones/:zone',
      {
        schema: {
          description: "Set the zone's run-time settings: the config file's values plus these (earlier run-time changes are dropped). Saved, as PATCH (persisted: false if not).",
          tags,
          params: ZoneParams,
          querystring: TuneQuery,
          body: ZoneTuning,
          response: { 200: ZoneView, ...errors },
        },
      },
      async (req) => {
        await service.tune(req.params.zone, req.body as ZonePatch, 'replace', req.query.source);
        return zoneOr404(req.params.zone);
      },
    );

    app.delete(
      '/zones/:zone/tuning',
      {
        schema: {
          description: "Back to the config file's settings; the saved run-time tuning is removed (the active mode's settings too, unless keepMode)",
          tags,
          params: ZoneParams,
          querystring: Type.Object({
            keepMode: Type.Boolean({ default: false, description: "keep the active mode's settings on the zone (a tuning experiment giving the zone back as it was)" }),
          }),
          response: { 200: ZoneView, ...errors },
        },
      },
      async (req) => {
        await service.resetTuning(req.params.zone, req.query.keepMode);
        return zoneOr404(req.params.zone);
      },
    );

    app.post(
      '/load-hint',
      {
        schema: {
          description:
            'A load is coming (a render or live session started outside the daemon): the zones of these GPUs take this power as a floor of their feed-forward estimate for this long, so the fans lead the load step. The daemon\'s own synthesis sends these itself.',
          tags,
          body: Type.Object(
            {
              gpus: Type.Array(Type.Integer({ minimum: 0, maximum: LIMITS.gpuIndex }), { minItems: 1, maxItems: LIMITS.zones * LIMITS.gpusPerZone, uniqueItems: true, description: "nvidia-smi indices" }),
              watts: Type.Number({ minimum: 0, maximum: 2000, description: 'expected power per GPU' }),
              seconds: Type.Number({ exclusiveMinimum: 0, maximum: 3600, default: 30, description: 'how long the hint holds' }),
              source: Type.String({ maxLength: 100, default: 'api', description: 'who says so (logs)' }),
              startsInSeconds: Type.Number({
                minimum: 0,
                maximum: 86_400,
                default: 0,
                description: "the load starts this far ahead: the hint goes live (starting stopped fans, pre-cooling) thermal.music.preCoolTimeConstants of the rig's thermal time constants before it",
              }),
            },
            { additionalProperties: false },
          ),
          response: {
            202: Type.Object({ gpus: Type.Array(Type.Integer()), zones: Type.Array(Type.String()), watts: Type.Number(), seconds: Type.Number(), preCoolFromSeconds: Type.Number({ description: 'the hint goes live this many seconds from now' }) }),
            400: ErrorReply,
            422: ErrorReply,
          },
        },
      },
      async (req, reply) => {
        const { gpus, watts, seconds, source, startsInSeconds } = req.body;
        const zoneGpus = service.zoneIds().map((id) => ({ id, gpus: zoneView(service, id)!.gpus }));
        const known = new Set(zoneGpus.flatMap((z) => z.gpus));
        const unknown = gpus.filter((g) => !known.has(g));
        if (unknown.length > 0) {
          throw new UnprocessableError(`body/gpus: no zone controls GPU ${unknown.join(', ')} (zones cover ${[...known].sort((a, b) => a - b).join(', ')})`);
        }
        const covered = zoneGpus.filter((z) => z.gpus.some((g) => gpus.includes(g))).map((z) => z.id);
        service.hint(gpus, watts, seconds, source, startsInSeconds);
        return reply.code(202).send({ gpus, zones: covered, watts, seconds, preCoolFromSeconds: Math.max(0, startsInSeconds - service.preCoolLeadSeconds()) });
      },
    );

    const maxSeconds = service.config.history.seconds;
    app.get(
      '/history',
      {
        schema: {
          description: 'Recent samples for plotting, oldest first',
          tags,
          querystring: Type.Object({ seconds: Type.Integer({ minimum: 1, maximum: maxSeconds, default: Math.min(300, maxSeconds), description: `how far back, up to ${maxSeconds} s` }) }),
          response: { 200: HistoryReply, 400: ErrorReply },
        },
      },
      async (req) => ({ intervalMs: service.config.history.intervalMs, seconds: req.query.seconds, samples: service.historySince(req.query.seconds) }),
    );
  };
}

export function thermalApi(service: ThermalService): ApiPlugin {
  return { prefix: '/v1/thermal', plugin: thermalPlugin(service) };
}
