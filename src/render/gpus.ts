/**
 * /v1/renders/gpus: the operator's pause and rate limit on the renders of each GPU, over the
 * renders' throttle (./throttle.ts). Thermal yielding keeps its own layer above the operator's:
 * a change made here while yielding holds a GPU is kept and applies once yielding lets go, and
 * the view says whose pause and rate are in force. The operator's settings are saved in the state
 * directory (render-gpus.json) and set again at the next start: a restart resumes the interrupted
 * renders, and must not lift a pause with them. The synthesis workers without a gpu (CPU
 * inference: the embedded default) are one more entry, "cpu": the operator pauses and limits the
 * renders there too (a CPU-only machine freed for a live show); thermal yielding never holds it.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { FastifyPluginAsync } from 'fastify';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { writeFileAtomic } from '../thermal/service/atomic-file.ts';
import { ErrorReply } from '../api/app.ts';
import { NotFoundError } from '../api/errors.ts';
import { byDevice, CPU, MAX_FPS, type GpuThrottle, type GpuThrottleState, type RenderDevice } from './throttle.ts';

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

const DEVICE = 'GPU index (synthesis.workers[].gpu), or "cpu": the synthesis workers without a gpu (CPU inference, as in the embedded default)';
const Device = Type.Union([Type.Integer({ minimum: 0, maximum: 1023 }), Type.Literal(CPU)], { description: DEVICE });

export const RenderGpuView = Type.Object({
  gpu: Device,
  paused: Type.Boolean({ description: 'renders on the GPU hold before their next batch: paused by the operator or by thermal yielding' }),
  maxFps: Nullable(Type.Number(), "the rate renders on the GPU are held to, the lower of the operator's and yielding's; null: no limit"),
  maxFpsFrom: Nullable(Type.Union([Type.Literal('operator'), Type.Literal('yield')]), "whose rate maxFps is (the operator's when both are equal); null: no limit"),
  reason: Nullable(Type.String(), 'why the GPU is paused, else why it is held to maxFps'),
  operator: Layer('the operator', "the operator's settings (PATCH's): kept while yielding holds the GPU, and what applies once it lets go"),
  yield: Nullable(Layer('thermal yielding', 'thermal yielding (thermal.yield) on the GPU'), 'null while thermal yielding does not hold the GPU'),
  persisted: Type.Optional(
    Type.Boolean({ description: "PATCH only: the operator's settings were saved in the state directory; false: applied, but a restart forgets them (the daemon's log says why)" }),
  ),
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

/** The operator's settings as saved: per GPU, what PATCH set. */
const SavedSettings = Type.Object({
  version: Type.Literal(1),
  gpus: Type.Record(
    Type.String({ pattern: '^([0-9]+|cpu)$' }),
    Type.Object({ paused: Type.Boolean(), maxFps: Type.Union([Type.Number({ exclusiveMinimum: 0, maximum: MAX_FPS }), Type.Null()]), reason: Type.Union([Type.String(), Type.Null()]) }),
  ),
});
type SavedSettings = Static<typeof SavedSettings>;
export type OperatorSetting = SavedSettings['gpus'][string];

export interface OperatorSettingsStore {
  /** the saved settings per GPU; none when there is no file, or one that does not parse (logged) */
  load(): Map<RenderDevice, OperatorSetting>;
  /** saves these (the whole set); false when the write failed (logged) */
  save(settings: Map<RenderDevice, OperatorSetting>): Promise<boolean>;
}

export function operatorSettingsFile(path: string, log: Logger): OperatorSettingsStore {
  // one write at a time, in order: the last PATCH's settings are the ones left in the file
  let queue: Promise<unknown> = Promise.resolve();
  return {
    load() {
      let text: string;
      try {
        text = readFileSync(path, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') log.warn({ err, path }, `cannot read the renders' GPU settings ${path}; starting with none`);
        return new Map();
      }
      let data: unknown;
      try {
        data = JSON.parse(text);
      } catch {
        data = undefined;
      }
      if (!Value.Check(SavedSettings, data)) {
        log.warn({ path }, `the renders' GPU settings ${path} are not what this daemon writes; starting with none`);
        return new Map();
      }
      return new Map(Object.entries(data.gpus).map(([g, v]) => [g === CPU ? CPU : Number(g), v]));
    },
    save(settings) {
      const body: SavedSettings = { version: 1, gpus: Object.fromEntries([...settings].map(([g, v]) => [String(g), v])) };
      const done = queue.then(() => writeFileAtomic(path, `${JSON.stringify(body, null, 2)}\n`)).then(
        () => true,
        (err: unknown) => {
          log.error({ err, path }, `cannot save the renders' GPU settings in ${path}: they apply, but a restart forgets them`);
          return false;
        },
      );
      queue = done;
      return done;
    },
  };
}

/** Sets the saved settings of the GPUs renders run on (others are logged and left). */
export function restoreOperatorSettings(throttle: GpuThrottle, gpus: readonly RenderDevice[], store: OperatorSettingsStore, log: Logger): void {
  for (const [gpu, s] of store.load()) {
    if (!gpus.includes(gpu)) {
      log.warn({ gpu }, `saved render settings for ${name(gpu)}, which renders no longer run on: left`);
      continue;
    }
    const st = throttle.setOperator(gpu, { paused: s.paused, fps: s.maxFps }, s.reason ?? undefined);
    if (st.operator.paused || st.operator.fps !== null) log.info({ gpu, operator: st.operator }, `renders on ${name(gpu)}: ${describe(st)} (saved before the restart)`);
  }
}

const GpuParams = Type.Object({ gpu: Device });

/** "GPU 0", "the CPU workers" */
export const name = (d: RenderDevice): string => (d === CPU ? 'the CPU workers' : `GPU ${d}`);

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
export function gpuRoutes(throttle: GpuThrottle, gpus: readonly RenderDevice[], store?: OperatorSettingsStore): FastifyPluginAsync {
  const known = [...new Set(gpus)].sort(byDevice);
  const check = (gpu: RenderDevice) => {
    if (known.includes(gpu)) return;
    const indices = known.filter((d) => d !== CPU);
    const gpusText = `GPU ${indices.join(', ')} (synthesis.workers[].gpu)`;
    const cpuText = '"cpu" (the workers without a gpu)';
    const on = indices.length === 0 ? `${cpuText} alone: no synthesis worker names a gpu` : known.includes(CPU) ? `${gpusText} and ${cpuText}` : gpusText;
    throw new NotFoundError(
      known.length === 0
        ? `no ${gpu === CPU ? 'CPU workers' : `GPU ${gpu}`}: renders run on no synthesis worker, so there is nothing to pause or limit`
        : gpu === CPU
          ? `no CPU workers: every synthesis worker names a gpu; renders run on ${on}`
          : `no GPU ${gpu}: renders run on ${on}`,
    );
  };
  const tags = ['renders'];
  return async (fastify) => {
    const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
    app.get(
      '/gpus',
      {
        schema: {
          description: 'The GPUs renders run on, and "cpu" when synthesis workers without a gpu make their frames too: whether their renders are paused or held to a rate, by the operator or by thermal yielding',
          tags,
          response: { 200: Type.Object({ gpus: Type.Array(RenderGpuView) }) },
        },
      },
      async () => ({ gpus: known.map((g) => gpuView(throttle.gpu(g))) }),
    );
    app.get(
      '/gpus/:gpu',
      { schema: { description: 'One GPU (or "cpu"): pause and rate limit of its renders, and whose they are', tags, params: GpuParams, response: { 200: RenderGpuView, 400: ErrorReply, 404: ErrorReply } } },
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
            "Pause the renders on a GPU (or \"cpu\": the workers without a gpu), resume them, or limit their rate (the operator's settings; absent keys keep their value). Applies before each render's next batch. " +
            "While thermal yielding holds the GPU (paused, or a lower rate) the change is kept and applies once yielding lets go. " +
            'Saved in the state directory and set again at the next start (persisted: false when the write failed: it applies, but a restart forgets it). 404: a GPU renders do not run on (or "cpu" where every worker names a gpu).',
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
        req.log.info({ gpu, operator: s.operator, effective: { paused: s.paused, fps: s.fps, from: s.fpsFrom } }, `renders on ${name(gpu)}: ${describe(s)}`);
        if (!store) return gpuView(s);
        const saved = new Map<RenderDevice, OperatorSetting>();
        for (const g of known) {
          const o = throttle.operator(g);
          if (o.paused || o.fps !== null) saved.set(g, { paused: o.paused, maxFps: o.fps, reason: o.reason });
        }
        const persisted = await store.save(saved);
        // the state as it is now: another PATCH may have come while this one was saved
        return { ...gpuView(throttle.gpu(gpu)), persisted };
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
