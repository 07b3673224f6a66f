/** A render job as the API shows it (and the CLI reads it). */
import { Type, type Static } from '@sinclair/typebox';
import { publicError, publicPath, publicSpec, type PublicRoots } from './public-error.ts';
import type { Job } from './queue.ts';
import { JOB_STATES } from './states.ts';
import { RenderSpec } from './spec.ts';
import type { JobSynthesis } from './synthesis-record.ts';
import { synthesisWorkerProperties } from './synthesis-schema.ts';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const Time = Nullable(Type.String({ format: 'date-time' }));

export const JobStateSchema = Type.Union(
  JOB_STATES.map((s) => Type.Literal(s)),
  { description: 'queued -> running -> done | failed | cancelled' },
);

const SynthesisWorker = Type.Object({
  ...synthesisWorkerProperties,
  frames: Nullable(Type.Integer({ minimum: 0, description: 'frames it made in the last run (null while it runs)' })),
});

export const RenderJobView = Type.Object({
  id: Type.String(),
  state: JobStateSchema,
  stage: Type.Union(['queued', 'analysing', 'rendering', 'encoding', 'muxing', 'debug', 'done'].map((s) => Type.Literal(s))),
  priority: Type.Integer(),
  framesDone: Type.Integer({ minimum: 0 }),
  framesTotal: Nullable(Type.Integer({ minimum: 0, description: 'known once the audio is analysed' })),
  progress: Nullable(Type.Number({ minimum: 0, maximum: 1, description: 'framesDone / framesTotal' })),
  fps: Nullable(Type.Number({ description: 'recent frames per second' })),
  etaSeconds: Nullable(Type.Number({ description: 'time left, as the runner estimates it' })),
  reason: Nullable(
    Type.Union(['bad-input', 'no-space', 'encoder', 'synthesis', 'cancelled', 'internal'].map((s) => Type.Literal(s)), { description: 'why it failed or ended' }),
  ),
  error: Nullable(Type.String({ description: 'why it failed, with files by the names the client gave them (the daemon\'s own folders left out)' })),
  output: Nullable(
    Type.String({
      description:
        'the finished file (only once complete): its name under the daemon\'s render.outputRoot. A render that failed because something was put at its output name while it ran has its finished video here, kept under another name (NAME.kept-XXXXXXXX.mp4)',
    }),
  ),
  outputUrl: Nullable(Type.String({ description: 'where to download it (mp4 renders that are done, or failed with their finished video kept under another name)' })),
  debugUrl: Nullable(Type.String({ description: 'where to download the debug video (renders with output.debugPath that are done)' })),
  attempts: Type.Integer({ description: 'runs of the render (more than 1: resumed after a restart)' }),
  synthesis: Nullable(
    Type.Object(
      {
        workers: Type.Array(SynthesisWorker),
        resumed: Nullable(
          Type.Object({
            frames: Type.Integer({ minimum: 0 }),
            workers: Nullable(Type.Array(SynthesisWorker, { description: 'null: the work folder had no record of what made them' })),
          }, { description: 'what made the segments this run resumed after (done renders)' }),
        ),
        mixed: Nullable(Type.Boolean({ description: "the output's frames came from more than one kind of synthesis (engine, provider, adapter, precision); null while it runs" })),
      },
      { description: "what renders it (while it runs) or rendered it (done: the run config's `synthesis`); null before its networks are loaded" },
    ),
  ),
  createdAt: Type.String({ format: 'date-time' }),
  startedAt: Time,
  finishedAt: Time,
  spec: { ...RenderSpec, description: 'the render as queued, defaults filled in; files by the names the client gave them (uploads by their file names, the rest as names under render.mediaRoot and render.outputRoot)' } as typeof RenderSpec,
});
export type RenderJobView = Static<typeof RenderJobView>;

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());

/**
 * `roots`: the daemon's media and output roots; with them the error, the output and the spec's
 * files are in the client's terms (public-error.ts). Without them (tests of the store) as stored.
 */
export function jobView(job: Job, prefix = '/v1/renders', roots?: PublicRoots): RenderJobView {
  return {
    id: job.id,
    state: job.state,
    stage: job.stage,
    priority: job.priority,
    framesDone: job.framesDone,
    framesTotal: job.framesTotal,
    progress: job.framesTotal ? Math.min(1, job.framesDone / job.framesTotal) : null,
    fps: job.fps,
    etaSeconds: job.etaSeconds,
    reason: job.reason,
    error: job.error !== null && roots ? publicError(job.error, job, roots) : job.error,
    output: job.output !== null && roots ? publicPath(job.output, job, roots) : job.output,
    outputUrl: (job.state === 'done' || (job.state === 'failed' && job.output !== null)) && job.spec.output.format === 'mp4' ? `${prefix}/${job.id}/output` : null,
    debugUrl: job.state === 'done' && (job.spec.output.debugPath ?? null) !== null ? `${prefix}/${job.id}/debug` : null,
    attempts: job.attempts,
    synthesis: job.synthesis satisfies JobSynthesis | null,
    createdAt: iso(job.createdAt)!,
    startedAt: iso(job.startedAt),
    finishedAt: iso(job.finishedAt),
    spec: roots ? publicSpec(job, roots) : job.spec,
  };
}
