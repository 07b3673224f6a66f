/**
 * /v1/renders/gpus: the operator's pause and rate limit on the renders of each GPU, over the
 * renders' throttle (./throttle.ts). Thermal yielding keeps its own layer above the operator's:
 * a change made here while yielding holds a GPU is kept and applies once yielding lets go, and
 * the view says whose pause and rate are in force. The settings last until the daemon stops.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { ErrorReply } from '../api/app.ts';
import { NotFoundError } from '../api/errors.ts';
import { MAX_FPS, type GpuThrottle, type GpuThrottleState } from './throttle.ts';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T, description?: string) =>
  Type.Union([t, Type.Null()], description === undefined ? {} : { description });

const Layer = (who: string, description: string) =>
  Type.Object(
    {
      paused: Type.Boolean({ description: `renders on the GPU paused by ${who}` }),
      maxFps: Nullable(Type.Number(), `${who}'s rate limit in frames per second; null: none`),
    },
    { description },
  );

export const RenderGpuView = Type.Object({
  gpu: Type.Integer({ description: 'GPU index (synthesis.workers[].gpu)' }),
  paused: Type.Boolean({ description: 'renders on the GPU hold before their next batch: paused by the operator or by thermal yielding' }),
  maxFps: Nullable(Type.Number(), "the rate renders on the GPU are held to, the lower of the operator's and yielding's; null: no limit"),
  maxFpsFrom: Nullable(Type.Union([Type.Literal('operator'), Type.Literal('yield')]), "whose rate maxFps is (the operator's when both are equal); null: no limit"),
  reason: Nullable(Type.String(), 'why the GPU is paused, else why it is held to maxFps'),
  operator: Layer('the operator', "the operator's settings (PATCH's): kept while yielding holds the GPU, and what applies once it lets go"),
  yield: Nullable(Layer('thermal yielding', 'thermal yielding (thermal.yield) on the GPU'), 'null while thermal yielding does not hold the GPU'),
});
export type RenderGpuView = Static<typeof RenderGpuView>;

export const RenderGpuPatch = Type.Object(
  {
    paused: Type.Optional(
      Type.Boolean({
        description:
          'true: renders on the GPU hold before their next batch (they stay running and keep their frames; a cancel still stops them); false: lifts the operator\'s pause (not yielding\'s)',
      }),
    ),
    maxFps: Type.Optional(
      Type.Union([Type.Number({ exclusiveMinimum: 0, maximum: MAX_FPS }), Type.Null()], {
        description: `at most this many frames per second for the renders on the GPU (a render on several GPUs keeps to the lowest); null lifts it. 0 is refused: pause instead`,
      }),
    ),
    reason: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: "why (the daemon's log and the view's reason); default: what the change does" })),
  },
  { additionalProperties: false, minProperties: 1, description: 'the operator\'s pause and rate limit; absent keys keep their value' },
);
export type RenderGpuPatch = Static<typeof RenderGpuPatch>;

const GpuParams = Type.Object({ gpu: Type.Integer({ minimum: 0, maximum: 1023, description: 'GPU index (synthesis.workers[].gpu)' }) });

export function gpuView(s: GpuThrottleState): RenderGpuView {
  return {
    gpu: s.gpu,
    paused: s.paused,
    maxFps: s.fps,
    maxFpsFrom: s.fpsFrom,
    reason: s.reason,
    operator: { paused: s.operator.paused, maxFps: s.operator.fps },
    yield: s.yield ? { paused: s.yield.paused, maxFps: s.yield.fps } : null,
  };
}

/**
 * The routes, under the renders' prefix. `gpus`: the GPUs renders load (the synthesis workers'
 * `gpu`s); the throttle holds a render on those only, so a setting on any other would do nothing.
 */
export function gpuRoutes(throttle: GpuThrottle, gpus: readonly number[]): FastifyPluginAsync {
  const known = [...new Set(gpus)].sort((a, b) => a - b);
  const check = (gpu: number) => {
    if (known.includes(gpu)) return;
    throw new NotFoundError(
      known.length === 0
        ? `no GPU ${gpu}: renders run on no GPU (no synthesis worker names one in synthesis.workers[].gpu), so there is nothing to pause or limit`
        : `no GPU ${gpu}: renders run on GPU ${known.join(', ')} (synthesis.workers[].gpu)`,
    );
  };
  const tags = ['renders'];
  return async (fastify) => {
    const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
    app.get(
      '/gpus',
      {
        schema: {
          description: 'The GPUs renders run on: whether their renders are paused or held to a rate, by the operator or by thermal yielding',
          tags,
          response: { 200: Type.Object({ gpus: Type.Array(RenderGpuView) }) },
        },
      },
      async () => ({ gpus: known.map((g) => gpuView(throttle.gpu(g))) }),
    );
    app.get(
      '/gpus/:gpu',
      { schema: { description: 'One GPU: pause and rate limit of its renders, and whose they are', tags, params: GpuParams, response: { 200: RenderGpuView, 400: ErrorReply, 404: ErrorReply } } },
      async (req) => {
        check(req.params.gpu);
        return gpuView(throttle.gpu(req.params.gpu));
      },
    );
    app.patch(
      '/gpus/:gpu',
      {
        schema: {
          description:
            "Pause the renders on a GPU, resume them, or limit their rate (the operator's settings; absent keys keep their value). Applies before each render's next batch. " +
            "While thermal yielding holds the GPU (paused, or a lower rate) the change is kept and applies once yielding lets go. Kept until the daemon stops. 404: a GPU renders do not run on.",
          tags,
          params: GpuParams,
          body: RenderGpuPatch,
          response: { 200: RenderGpuView, 400: ErrorReply, 404: ErrorReply },
        },
      },
      async (req) => {
        const { gpu } = req.params;
        check(gpu);
        const body = req.body;
        const s = throttle.setOperator(gpu, { ...(body.paused === undefined ? {} : { paused: body.paused }), ...(body.maxFps === undefined ? {} : { fps: body.maxFps }) }, body.reason);
        req.log.info({ gpu, operator: s.operator, effective: { paused: s.paused, fps: s.fps, from: s.fpsFrom } }, `renders on GPU ${gpu}: ${describe(s)}`);
        return gpuView(s);
      },
    );
  };
}

/** the operator's layer and what is in force, for the log */
function describe(s: GpuThrottleState): string {
  const mine = s.operator.paused ? 'paused by the operator' : s.operator.fps !== null ? `operator limit ${s.operator.fps} fps` : 'no operator pause or limit';
  const inForce = s.paused ? `held (${s.reason})` : s.fps !== null ? `${s.fps} fps (${s.fpsFrom})` : 'full speed';
  return `${mine}; in force: ${inForce}`;
}
