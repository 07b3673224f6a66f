/**
 * Tuning routes under /v1/thermal (registered by the thermal plugin):
 *   GET  /fans                   the stored fan characterisation and the figures in use
 *   POST /fans/measure           start measuring (202); 409 while one runs
 *   GET  /fans/measure           the measurement's state, progress and report
 *   DELETE /fans/measure         stop it (fans to full, then back to control)
 *   GET  /zones/{zone}/chart.svg temperature, setpoint, duty and rpm of the last N seconds
 */
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Logger } from 'pino';
import { ErrorReply } from '../../api/app.ts';
import { ConflictError, NotFoundError, UnprocessableError } from '../../api/errors.ts';
import { FanConfig } from '../../cooler/config.ts';
import { LIMITS } from '../config.ts';
import type { ThermalService } from '../service/service.ts';
import { zoneChart } from '../charts/svg.ts';
import { FAN_FILE, FanReport, loadFanReport } from './fan-measure.ts';
import { FanMeasureJob } from './daemon-jobs.ts';

const tags = ['thermal'];
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

export const MeasureJobView = Type.Object({
  state: Type.Union(['idle', 'running', 'passed', 'failed', 'aborted', 'error'].map((s) => Type.Literal(s)), { description: 'failed: measured, some check did not pass; aborted: stopped for safety (fans at full); error: could not run' }),
  fans: Type.Array(Type.String()),
  startedAt: Nullable(Type.String()),
  finishedAt: Nullable(Type.String()),
  progress: Nullable(Type.Object({ fan: Type.String(), phase: Type.String(), duty: Type.Number(), rpm: Nullable(Type.Number()) })),
  report: Nullable(FanReport),
  error: Nullable(Type.String()),
  savedTo: Nullable(Type.String()),
});

export function tuningRoutes(service: ThermalService, job?: FanMeasureJob): FastifyPluginAsync {
  return async (fastify) => {
    const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
    const measure = job ?? new FanMeasureJob(service, fastify.log.child({ part: 'fan-measure' }) as unknown as Logger);
    fastify.addHook('onClose', async () => measure.close());

    app.get(
      '/fans',
      {
        schema: {
          description: 'The stored fan characterisation (gance fans measure) and the fan figures thermal control uses now (measured ones apply from the next start, unless thermal.measuredFans pins the fan)',
          tags,
          response: {
            200: Type.Object({
              report: Nullable(FanReport),
              reportProblem: Type.Optional(Type.String({ description: 'why the stored report is not shown (and was not used at start): the file is truncated, not JSON or not a report' })),
              inUse: Type.Array(FanConfig),
            }),
            500: ErrorReply,
          },
        },
      },
      async () => {
        const inUse = [...service.fanConfigs];
        if (!service.stateDir) return { report: null, inUse };
        try {
          return { report: await loadFanReport(service.stateDir), inUse };
        } catch (err) {
          // a broken file is the operator's to see, not a daemon fault: start ignored it the same way
          const e = err as NodeJS.ErrnoException;
          return { report: null, reportProblem: e instanceof SyntaxError ? `${service.stateDir}/${FAN_FILE}: not JSON (${e.message})` : e.message, inUse };
        }
      },
    );

    app.post(
      '/fans/measure',
      {
        schema: {
          description:
            'Measure fans (all, or those listed): each is ramped with the others at full; start duty, minimum running duty, max rpm, rpm curve, and the end-of-line checks. ' +
            'While it runs the measured fans leave thermal control (no kick-start, no stall re-kick); a zone GPU past its setpoint + 5 C stops it with every fan at full. Runs in the background: poll GET.',
          tags,
          // an empty list is refused, not read as every fan: a client whose selection came out empty
          // would have taken every fan out of thermal control
          body: Type.Object(
            { fans: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: LIMITS.id }), { minItems: 1, maxItems: 16, uniqueItems: true, description: 'fan ids to measure; leave it out to measure every fan' })) },
            { additionalProperties: false },
          ),
          response: { 202: MeasureJobView, 400: ErrorReply, 409: ErrorReply, 422: ErrorReply },
        },
      },
      async (req, reply) => {
        if (measure.running) throw new ConflictError('a fan measurement is running (GET /v1/thermal/fans/measure)');
        let done: Promise<void>;
        try {
          done = measure.start(req.body.fans);
        } catch (err) {
          if (err instanceof RangeError) throw new UnprocessableError(`body/fans: ${err.message}`);
          throw err;
        }
        done.catch(() => undefined);
        return reply.code(202).send(measure.state);
      },
    );

    app.delete(
      '/fans/measure',
      { schema: { description: 'Stop the running fan measurement: every fan at full for a while, then back to thermal control', tags, response: { 200: MeasureJobView, 409: ErrorReply } } },
      async () => {
        if (!measure.cancel()) throw new ConflictError('no fan measurement is running');
        return measure.state;
      },
    );

    app.get('/fans/measure', { schema: { description: 'The fan measurement: state, progress, report', tags, response: { 200: MeasureJobView } } }, async () => measure.state);

    const maxSeconds = service.config.history.seconds;
    app.get(
      '/zones/:zone/chart.svg',
      {
        schema: {
          description: "SVG chart of a zone's temperature, setpoint, duty and mean fan rpm over the last N seconds (from the history)",
          tags,
          params: Type.Object({ zone: Type.String({ minLength: 1, maxLength: LIMITS.id }) }),
          querystring: Type.Object({ seconds: Type.Integer({ minimum: 10, maximum: 86_400, default: 300, description: `how far back; the history reaches ${maxSeconds} s (longer asks get that)` }) }),
          produces: ['image/svg+xml'],
          response: { 200: Type.String({ description: 'image/svg+xml' }), 400: ErrorReply, 404: ErrorReply },
        },
      },
      async (req, reply) => {
        const id = req.params.zone;
        const slot = service.zoneSlot(id);
        if (!slot) throw new NotFoundError(`no zone "${id}" (zones: ${service.zoneIds().join(', ')})`);
        const now = Date.now();
        const seconds = Math.min(req.query.seconds, maxSeconds);
        const rows = service.historySince(seconds).map((e) => {
          const z = e.zones[id];
          const rpms = slot.config.fans.map((f) => e.fans[f]?.rpm).filter((r): r is number => typeof r === 'number');
          return { t: (e.t - now) / 1000, temperature: z?.temperature ?? null, setpoint: z?.setpoint ?? null, duty: z?.duty ?? null, rpm: rpms.length ? rpms.reduce((s, r) => s + r, 0) / rpms.length : null };
        });
        const svg = zoneChart(`zone ${id}: last ${seconds} s`, rows, { timeLabel: 'seconds before now' });
        return reply.type('image/svg+xml; charset=utf-8').send(svg);
      },
    );
  };
}
