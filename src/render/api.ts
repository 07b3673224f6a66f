/**
 * /v1/renders: submit a render (JSON naming files under render.mediaRoot, or a multipart upload),
 * list and inspect jobs, cancel, download the output and the debug video (Range requests), follow
 * progress (SSE); pause or limit the renders of a GPU (/gpus, ./gpus.ts).
 * Errors are thrown with their statusCode and leave the reply to the app's error handler.
 */
import multipart from '@fastify/multipart';
import send from '@fastify/send';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type, type TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest, FastifySchemaCompiler } from 'fastify';
import { createWriteStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ErrorReply, type ApiPlugin } from '../api/app.ts';
import { ApiError, ClientError } from '../api/errors.ts';
import { planRange, rangeForSend } from '../api/range.ts';
import type { AdmitRender } from './admit.ts';
import { makeOutputFolders, type OutputFolder } from './media.ts';
import type { RenderSpec } from './spec.ts';
import type { RenderConfig } from './config.ts';
import { gpuRoutes, type OperatorSettingsStore } from './gpus.ts';
import type { RenderDevice } from './throttle.ts';
import { newJobId, FINISHED_STATES, type Job, type JobState } from './queue.ts';
import type { RenderScheduler } from './scheduler.ts';
import { streamJobEvents } from './sse.ts';
import { valueErrorMessage } from './schema-message.ts';
import { claimOutputs, parseUploadSpec, prepareSpec, RenderRequest, RequestError, type SubmitContext, type UploadRequest } from './submit.ts';
import { publicPath } from './public-error.ts';
import { jobView, JobStateSchema, RenderJobView } from './view.ts';

export const RENDERS_PREFIX = '/v1/renders';

export interface RendersApiOptions {
  scheduler: RenderScheduler;
  config: RenderConfig;
  /** uploads are kept in here, one folder per job */
  uploadRoot: string;
  networks: SubmitContext['networks'];
  /** SSE keep-alive comment period */
  heartbeatMs?: number;
  /** checks against the networks and the audio itself before a render is queued (the daemon's: ./admit.ts) */
  admit?: AdmitRender;
  /** what renders run on (the synthesis workers' `gpu`s, and "cpu" for workers without one): /gpus pauses and limits them; default none */
  gpus?: readonly RenderDevice[];
  /** where PATCH /gpus saves the operator's settings (the daemon's: stateDir/render-gpus.json); none: not saved */
  gpuSettings?: OperatorSettingsStore;
  /** files the running live sessions record to (the daemon's live service): a render is not queued over one */
  liveOutputs?: () => ReadonlySet<string>;
  /** called when the HTTP app closes (the daemon closes the store then: requests may come until the listener stops) */
  onClose?: () => void;
}

const tags = ['renders'];

/** 429: render.maxQueued renders already wait; one more is refused before its upload is stored. */
export class QueueFullError extends ClientError {
  override readonly name = 'QueueFullError';
  // a queued render waits for whole renders ahead of it: minutes, not seconds
  override readonly headers = { 'retry-after': '60' };
  constructor(message: string) {
    super(429, message);
  }
}
const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64, description: 'render id' }) });
const ListQuery = Type.Object({
  state: Type.Optional(JobStateSchema),
  limit: Type.Integer({ minimum: 1, maximum: 500, default: 50, description: 'newest first, at most this many' }),
});

const UploadBody = Type.Union([
  Type.Null(),
  Type.Object({
    spec: Type.String({ description: 'the render as JSON (POST /v1/renders body; audio left out)' }),
    audio: Type.String({ format: 'binary', description: 'an audio file; repeat the part for several, joined in order' }),
  }),
]);

/**
 * The render body is checked as TypeBox does (defaults filled, nothing coerced), the way the CLI's
 * spec is: the app's Ajv coerces types, which turned `truncationPsi: null` (the network's psi)
 * into 0 through the union's number branch, a different render from the same JSON.
 */
// fastify hands each part's schema (here: each content type's) in turn; the route's type is its own
const specCompiler: FastifySchemaCompiler<unknown> = (route) => {
  const schema = route.schema as TSchema;
  const check = TypeCompiler.Compile(schema);
  return (value: unknown) => {
    const v = value === null || typeof value !== 'object' ? value : Value.Default(schema, Value.Clone(value));
    if (check.Check(v)) return { value: v };
    const first = check.Errors(v).First()!;
    // the app's error formatter puts "body" and the path in front
    const message = valueErrorMessage('', first).slice(first.path.length + 1);
    return { error: [{ instancePath: first.path, message, keyword: 'typebox', schemaPath: '', params: {} }] as never };
  };
};

export function rendersPlugin(opts: RendersApiOptions): FastifyPluginAsync {
  const { scheduler, config } = opts;
  const submitCtx: SubmitContext = {
    config,
    networks: opts.networks,
    activeOutputs: () => scheduler.queue.activeOutputs(),
    ...(opts.liveOutputs ? { liveOutputs: opts.liveOutputs } : {}),
  };
  const roots = { mediaRoot: config.mediaRoot, outputRoot: config.outputRoot };
  const view = (job: Job) => jobView(job, RENDERS_PREFIX, roots);
  /**
   * Submissions past the queue-length check and not yet queued (receiving an upload, being
   * checked): counted with the queued ones, or a burst would all pass the check together and each
   * store its upload.
   */
  let arriving = 0;
  const find = (id: string) => {
    const job = scheduler.view(id);
    if (!job) throw new RequestError(404, `no render "${id}"`);
    return job;
  };

  /** The folders of an accepted render's outputs, made only now: a refused request leaves none behind. */
  function makeFolders(spec: RenderSpec, request: Pick<UploadRequest, 'output'>): string[] {
    const outputs: OutputFolder[] = [{ path: spec.output.path, field: 'body/output/path', name: request.output.path ?? basename(spec.output.path) }];
    const debug = spec.output.debugPath;
    if (debug !== null) outputs.push({ path: debug, field: 'body/output/debugPath', name: request.output.debugPath ?? basename(debug) });
    return makeOutputFolders(config.outputRoot, outputs);
  }

  /** Multipart: files stream to the job's upload folder (limit: uploadMaxBytes each); the spec is a field. */
  async function receiveUpload(req: FastifyRequest, id: string): Promise<{ spec: UploadRequest; files: string[]; dir: string }> {
    const dir = join(opts.uploadRoot, id);
    await mkdir(dir, { recursive: true });
    const files: string[] = [];
    let specText: string | undefined;
    try {
      for await (const part of req.parts({ limits: { fileSize: config.uploadMaxBytes, files: config.maxUploadFiles, fields: 4, fieldSize: 1024 * 1024 } })) {
        if (part.type === 'field') {
          if (part.fieldname !== 'spec') throw new RequestError(400, `body/${part.fieldname}: unknown field (an upload has "spec" and "audio" parts)`);
          // taking the last of several would render something the client may not have meant
          if (specText !== undefined) throw new RequestError(400, 'body/spec: given more than once (an upload has one "spec" field)');
          specText = String(part.value);
        } else {
          if (part.fieldname !== 'audio') throw new RequestError(400, `body/${part.fieldname}: unknown file part (audio files go in "audio" parts)`);
          // the number keeps the order; the client's name is kept only as far as it is harmless
          const safe = basename(part.filename || 'audio').replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 100) || 'audio';
          const path = join(dir, `${String(files.length).padStart(2, '0')}-${safe}`);
          await pipeline(part.file, createWriteStream(path));
          files.push(path);
        }
      }
      return { spec: parseUploadSpec(specText), files, dir };
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      const code = (err as { statusCode?: number }).statusCode;
      // busboy's parse errors are plain Errors; a file system error (errno) stays the daemon's
      if (!(err instanceof ApiError) && code === undefined && (err as NodeJS.ErrnoException).errno === undefined) {
        throw new RequestError(400, `body: malformed multipart/form-data (${(err as Error).message})`);
      }
      const fst = (err as { code?: string }).code;
      if (fst === 'FST_FILES_LIMIT') throw new RequestError(413, `body/audio: more than ${config.maxUploadFiles} files (render.maxUploadFiles)`);
      if (fst === 'FST_FIELDS_LIMIT' || fst === 'FST_PARTS_LIMIT') throw new RequestError(413, 'body: too many parts (an upload has one "spec" field and its "audio" files)');
      if (code === 413) throw new RequestError(413, `body/audio: ${(err as Error).message} (render.uploadMaxBytes ${config.uploadMaxBytes}, at most ${config.maxUploadFiles} files)`);
      throw err;
    }
  }

  return async (fastify) => {
    await fastify.register(multipart, { throwFileSizeLimit: true });
    if (opts.onClose) {
      const onClose = opts.onClose;
      fastify.addHook('onClose', async () => onClose());
    }
    // the operator's pause and rate per GPU (./gpus.ts); render ids are hex, so "gpus" is never one
    await fastify.register(gpuRoutes(scheduler.throttle, opts.gpus ?? [], opts.gpuSettings));
    const app = fastify.withTypeProvider<TypeBoxTypeProvider>();

    app.post(
      '/',
      {
        schema: {
          description:
            'Queue a render (202). JSON: a RenderSpec whose audio and projection files are names under the daemon\'s render.mediaRoot and whose output.path is a name under render.outputRoot. ' +
            `Multipart: a "spec" field (the same JSON without audio) and "audio" file parts (each at most render.uploadMaxBytes: 413 over it). Any other content type: 415. ` +
            'Every audio file is probed (and the track they make checked for sound: silent audio, no sample of the mix at -90.3 dBFS, is 422) and the networks, latents settings and output size checked before the render is queued: what can only fail is 422 naming the field. ' +
            'A few renders are checked at once and a few more wait for their turn; past that the request is 429 with Retry-After. ' +
            'At most render.maxQueued renders wait in the queue (counting those being received and checked): past that the request is 429 with Retry-After, refused before an upload is stored.',
          tags,
          body: {
            content: {
              'application/json': { schema: RenderRequest },
              'multipart/form-data': { schema: UploadBody },
            },
          },
          response: { 202: RenderJobView, 400: ErrorReply, 403: ErrorReply, 409: ErrorReply, 413: ErrorReply, 415: ErrorReply, 422: ErrorReply, 429: ErrorReply, 507: ErrorReply },
        },
        validatorCompiler: specCompiler as never,
      },
      async (req, reply) => {
        const waiting = scheduler.queue.queuedCount() + arriving;
        if (waiting >= config.maxQueued) {
          throw new QueueFullError(`body: ${waiting} renders are waiting to run (render.maxQueued ${config.maxQueued}); send it again once one has started or is cancelled`);
        }
        arriving++;
        let held = true;
        // handed back as the job is inserted, in the same tick: it counts as queued from then on
        const release = () => {
          if (held) arriving--;
          held = false;
        };
        try {
          return await submitRender(req, reply, release);
        } finally {
          release();
        }
      },
    );

    /** The submission itself, once it has a place in the queue's bound. */
    async function submitRender(req: FastifyRequest, reply: FastifyReply, release: () => void) {
      const id = newJobId();
      let spec;
      let uploadDir: string | null = null;
      let request: UploadRequest;
      let madeDirs: string[];
      if (req.isMultipart()) {
        const up = await receiveUpload(req, id);
        uploadDir = up.dir;
        request = up.spec;
        try {
          spec = await prepareSpec(up.spec, submitCtx, { id, uploaded: up.files });
          await opts.admit?.(spec, { audio: up.files.map((f) => basename(f).replace(/^\d+-/, '')), projectionFile: up.spec.latents?.projectionFile });
          claimOutputs(spec, request, submitCtx);
          madeDirs = makeFolders(spec, request);
        } catch (err) {
          await rm(up.dir, { recursive: true, force: true });
          throw err;
        }
      } else {
        // fastify parses text/plain too, and no schema is declared for it: a string would reach prepareSpec
        if (req.body === null || typeof req.body !== 'object') {
          throw new RequestError(415, `content-type "${req.headers['content-type'] ?? ''}": a render is sent as application/json or multipart/form-data`);
        }
        request = req.body as RenderRequest;
        spec = await prepareSpec(request, submitCtx, { id });
        await opts.admit?.(spec, { audio: request.audio ?? [], projectionFile: request.latents?.projectionFile });
        claimOutputs(spec, request, submitCtx);
        madeDirs = makeFolders(spec, request);
      }
      // no await since claimOutputs: no other submission can come between the check and the insert
      release();
      const job = scheduler.submit({ id, spec, uploadDir, madeDirs });
      return reply.code(202).header('location', `${RENDERS_PREFIX}/${job.id}`).send(view(job));
    }

    app.get(
      '/',
      { schema: { description: 'Render jobs, newest first', tags, querystring: ListQuery, response: { 200: Type.Object({ renders: Type.Array(RenderJobView) }), 400: ErrorReply } } },
      async (req) => ({
        renders: scheduler.queue.list({ ...(req.query.state ? { state: req.query.state as JobState } : {}), limit: req.query.limit }).map((j) => view(scheduler.view(j.id) ?? j)),
      }),
    );

    app.get(
      '/:id',
      { schema: { description: 'One render: state, stage, frames done and total, fps, ETA, the reason it failed', tags, params: IdParams, response: { 200: RenderJobView, 404: ErrorReply } } },
      async (req) => view(find(req.params.id)),
    );

    app.delete(
      '/:id',
      {
        schema: {
          description: 'Cancel a queued or running render (its runner stops, its partial work is removed, and so are the folders under the output root made for it, if empty); 409 once it has finished',
          tags,
          params: IdParams,
          response: { 200: RenderJobView, 404: ErrorReply, 409: ErrorReply, 507: ErrorReply },
        },
      },
      async (req) => view(scheduler.cancel(req.params.id)),
    );

    /** A finished file with Range requests, or the status that says why not. */
    async function serveFile(req: FastifyRequest, reply: FastifyReply, job: Job, file: string, what: string) {
      // RFC 9110 14.2 judged here (../api/range.ts), send left the one form it reads right; a file
      // that is not there is send's 404 below
      const range = req.headers.range;
      if (range !== undefined) {
        const size = await stat(file).then((st) => st.size, () => null);
        const forSend = size === null ? undefined : rangeForSend(planRange(range, size), size);
        if (forSend === undefined) delete req.raw.headers.range;
        else req.raw.headers.range = forSend;
      }
      const r = await send(req.raw, basename(file), { root: dirname(file), dotfiles: 'allow', cacheControl: false, acceptRanges: true });
      if (r.type === 'error') {
        const status = (r.metadata.error as { status?: number }).status ?? r.statusCode;
        if (status === 404) throw new RequestError(404, `render "${job.id}": its ${what} ${publicPath(file, job, roots)} is no longer there`);
        if (status === 416) {
          // the client learns the size from it (RFC 9110 15.5.17)
          const range = r.headers['Content-Range'];
          if (range) reply.header('content-range', range);
          throw new RequestError(416, `range not satisfiable: ${range ?? ''}`);
        }
        throw new RequestError(status, r.metadata.error.message);
      }
      if (r.type !== 'file') throw new RequestError(409, `render "${job.id}": its ${what} is not a file`);
      return reply.code(r.statusCode as 200 | 206).headers(r.headers).type('video/mp4').send(r.stream);
    }
    const fileResponses = { 200: Type.Unsafe<unknown>({ type: 'string', format: 'binary' }), 206: Type.Unsafe<unknown>({ type: 'string', format: 'binary' }), 404: ErrorReply, 409: ErrorReply, 416: ErrorReply };

    app.get(
      '/:id/output',
      {
        schema: {
          description:
            'The finished mp4, with Range requests (206 for one range, several overlapping ones joined; 416 when no range of a valid Range header is in the file; a Range header that is not bytes, does not parse, or holds an invalid range such as bytes=5-2 is ignored, as are several disjoint ranges: 200, the whole file); 409 while the render is not done. ' +
            'A render that failed because something was put at its output name while it ran serves its finished video, kept under the name its output field gives',
          tags,
          params: IdParams,
          produces: ['video/mp4'],
          response: fileResponses,
        },
      },
      async (req, reply) => {
        const job = find(req.params.id);
        // a render that failed only because its output name was taken at the end kept its video under another name
        const kept = job.state === 'failed' && job.output !== null;
        if ((job.state !== 'done' && !kept) || !job.output) throw new RequestError(409, `render "${job.id}" is ${job.state}: its output is there once it is done`);
        if (job.spec.output.format !== 'mp4') throw new RequestError(409, `render "${job.id}" wrote PNG frames to a folder (${publicPath(job.output, job, roots)}); only mp4 outputs are served`);
        return serveFile(req, reply, job, job.output, 'output');
      },
    );

    app.get(
      '/:id/debug',
      {
        schema: {
          description: 'The finished debug video (a render submitted with output.debugPath), with Range requests as for the output; 404 for a render without one, 409 while it is not done',
          tags,
          params: IdParams,
          produces: ['video/mp4'],
          response: fileResponses,
        },
      },
      async (req, reply) => {
        const job = find(req.params.id);
        const debug = job.spec.output.debugPath ?? null;
        if (debug === null) throw new RequestError(404, `render "${job.id}" has no debug video (submit it with output.debugPath)`);
        if (job.state !== 'done') throw new RequestError(409, `render "${job.id}" is ${job.state}: its debug video is there once it is done`);
        return serveFile(req, reply, job, debug, 'debug video');
      },
    );

    app.get(
      '/:id/events',
      {
        schema: {
          description:
            'Server-Sent Events: "progress" events (the render, as GET /v1/renders/{id}) while it changes, then one "end" event with its final state, and the stream closes. A finished render sends only "end".',
          tags,
          params: IdParams,
          produces: ['text/event-stream'],
          response: { 200: Type.String({ description: 'text/event-stream' }), 404: ErrorReply },
        },
      },
      async (req, reply) => {
        const job = find(req.params.id);
        streamJobEvents(reply, scheduler, job, { view, heartbeatMs: opts.heartbeatMs ?? 15_000, finished: (j) => FINISHED_STATES.includes(j.state) });
      },
    );
  };
}

export function rendersApi(opts: RendersApiOptions): ApiPlugin {
  return { prefix: RENDERS_PREFIX, plugin: rendersPlugin(opts) };
}
