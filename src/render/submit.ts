/**
 * From an API request to the spec a job stores: names resolved against the media and output
 * roots, networks checked against the catalogue, defaults filled in. Every refusal names the field.
 */
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { ClientError } from '../api/errors.ts';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { RenderConfig } from './config.ts';
import { LIVE_CLAIM, refuseClaimed, RENDER_CLAIM, RENDER_CLAIM_ANY, RequestPathError, resolveMediaFile, resolveOutputPath } from './media.ts';
import { runConfigPath } from './run-config.ts';
import { valueErrorMessage } from './schema-message.ts';
import { latentsRangeProblems, outputNameProblem, RenderOutput, RenderSpec } from './spec.ts';

/** RenderSpec as the API takes it: paths are names under the daemon's roots, output.path may be left to the daemon. */
export const RenderRequest = Type.Object(
  {
    ...RenderSpec.properties,
    audio: Type.Array(Type.String({ minLength: 1, maxLength: 4096 }), {
      minItems: 1,
      maxItems: 64,
      description: 'audio files under the daemon\'s render.mediaRoot, joined in order (same sample rate); left out in an upload, whose files are the audio',
    }),
    networks: Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { minItems: 1, maxItems: 16, description: 'network ids (GET /v1/networks); with several, loudness picks each frame\'s' }),
    output: Type.Object(
      {
        ...RenderOutput.properties,
        path: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: 'name under render.outputRoot (default: ID.mp4, or folder ID for png); one that already exists, or that a queued or running render will write (or a name under one), is 409: a render never overwrites a file' })),
        debugPath: Type.Union([Type.String({ minLength: 1, maxLength: 1024 }), Type.Null()], {
          default: null,
          description: 'name under render.outputRoot for a debug video (GANce --debug-path): the frames beside charts of features, latents and network index; GET /v1/renders/{id}/debug once done',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);
export type RenderRequest = Static<typeof RenderRequest>;

/** The spec of a multipart upload: the same, without audio (the uploaded files are the audio). */
export const UploadRequest = Type.Object({ ...RenderRequest.properties, audio: Type.Optional(RenderRequest.properties.audio) }, { additionalProperties: false });
export type UploadRequest = Static<typeof UploadRequest>;

/** A render request the client must change (400/403/404/409/413/416/422); the app's one error handler sends it. */
export class RequestError extends ClientError {
  override readonly name = 'RequestError';
}

export interface SubmitContext {
  config: RenderConfig;
  /** the network catalogue: ids and why one cannot be used */
  networks: () => Array<{ id: string; state: string; error?: string }>;
  /** outputs (and debug videos) of queued and running jobs (two renders never write one file) */
  activeOutputs: () => Set<string>;
  /** files the running live sessions record to: a render is not queued over one */
  liveOutputs?: () => ReadonlySet<string>;
}

/** Parses and checks the `spec` field of an upload (it is a string there, not validated by the route). */
export function parseUploadSpec(text: string | undefined): UploadRequest {
  if (text === undefined) throw new RequestError(400, 'body/spec: an upload needs a "spec" field with the render\'s JSON');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new RequestError(400, `body/spec: not JSON (${(err as Error).message})`);
  }
  const withDefaults = Value.Default(UploadRequest, Value.Clone(raw));
  const first = Value.Errors(UploadRequest, withDefaults).First();
  if (first) throw new RequestError(400, valueErrorMessage('body/spec', first));
  return withDefaults as UploadRequest;
}

export async function prepareSpec(req: UploadRequest, ctx: SubmitContext, opts: { id: string; uploaded?: string[] }): Promise<RenderSpec> {
  const catalogue = ctx.networks();
  req.networks.forEach((id, k) => {
    const entry = catalogue.find((n) => n.id === id);
    if (!entry) throw new RequestError(422, `body/networks/${k}: unknown network "${id}" (available: ${catalogue.map((n) => n.id).join(', ') || 'none'})`);
    if (entry.state === 'invalid') throw new RequestError(422, `body/networks/${k}: network "${id}" cannot be used: ${entry.error ?? 'invalid'}`);
  });

  let audio: string[];
  if (opts.uploaded) {
    if (req.audio?.length) throw new RequestError(400, 'body/spec/audio: give the audio either as uploaded files or as paths, not both');
    if (opts.uploaded.length === 0) throw new RequestError(400, 'body/audio: an upload needs at least one "audio" file part');
    audio = opts.uploaded;
  } else {
    if (!req.audio?.length) throw new RequestError(400, 'body/audio: at least one audio file is needed');
    audio = [];
    for (const [k, a] of req.audio.entries()) audio.push(await resolveMediaFile(ctx.config.mediaRoot, a, `body/audio/${k}`));
  }

  const latents = { ...req.latents };
  if (latents.projectionFile !== undefined) latents.projectionFile = await resolveMediaFile(ctx.config.mediaRoot, latents.projectionFile, 'body/latents/projectionFile');

  const name = req.output.path ?? (req.output.format === 'png' ? opts.id : `${opts.id}.mp4`);
  const misnamed = outputNameProblem(req.output.format ?? 'mp4', name);
  if (misnamed) throw new RequestPathError(400, 'body/output/path', `"${name}": ${misnamed}`);
  const debugMisnamed = req.output.debugPath == null ? null : outputNameProblem('mp4', req.output.debugPath);
  if (debugMisnamed) throw new RequestPathError(400, 'body/output/debugPath', `"${req.output.debugPath}": ${debugMisnamed}`);
  const output = await resolveOutputPath(ctx.config.outputRoot, name, 'body/output/path');
  refuseClaimed(output, name, ctx.activeOutputs(), 'body/output/path', RENDER_CLAIM);
  // the run config beside it is written at the end and never replaces a file either (publish.ts)
  if (await stat(runConfigPath(output)).then(() => true, () => false)) {
    throw new RequestPathError(409, 'body/output/path', `"${name}": its run config ${basename(runConfigPath(output))} already exists beside it under the output root`);
  }

  let debugPath: string | null = null;
  if (req.output.debugPath != null) {
    const field = 'body/output/debugPath';
    debugPath = await resolveOutputPath(ctx.config.outputRoot, req.output.debugPath, field);
    if (debugPath === output) throw new RequestPathError(409, field, `"${req.output.debugPath}" is the render's own output; give the debug video a name of its own`);
    if (debugPath === runConfigPath(output)) throw new RequestPathError(409, field, `"${req.output.debugPath}" is the render's own run config; give the debug video a name of its own`);
    refuseClaimed(debugPath, req.output.debugPath, ctx.activeOutputs(), field, RENDER_CLAIM_ANY);
  }

  const spec = Value.Default(RenderSpec, { ...req, audio, latents, output: { ...req.output, path: output, debugPath } }) as RenderSpec;
  const bad = Value.Errors(RenderSpec, spec).First();
  if (bad) throw new RequestError(400, valueErrorMessage('body', bad));
  const reversed = latentsRangeProblems(spec.latents)[0];
  if (reversed) throw new RequestError(400, `body/latents/${reversed.path.join('/')}: ${reversed.problem}`);
  return spec;
}

/**
 * Refuses a spec whose output or debug video a queued or running render will write. Called with
 * no await between it and the submit: checked earlier only, two requests that were both still
 * checking their files could both pass and overwrite each other's video.
 */
export function claimOutputs(spec: RenderSpec, req: Pick<UploadRequest, 'output'>, ctx: SubmitContext): void {
  // a render also writes NAME.run.json beside its output (a debug video's name claims one too: harmless)
  const active = new Set([...ctx.activeOutputs()].flatMap((p) => [p, runConfigPath(p)]));
  const name = req.output.path ?? basename(spec.output.path);
  refuseClaimed(spec.output.path, name, active, 'body/output/path', RENDER_CLAIM);
  if (active.has(runConfigPath(spec.output.path))) throw new RequestPathError(409, 'body/output/path', `"${name}" is the output of a render that is queued or running`);
  const debug = spec.output.debugPath;
  if (debug !== null) refuseClaimed(debug, req.output.debugPath ?? basename(debug), active, 'body/output/debugPath', RENDER_CLAIM_ANY);
  // a recording's file is there once its first frames are: before that only the session knows it
  const live = ctx.liveOutputs?.() ?? new Set<string>();
  refuseClaimed(spec.output.path, name, live, 'body/output/path', LIVE_CLAIM);
  if (debug !== null) refuseClaimed(debug, req.output.debugPath ?? basename(debug), live, 'body/output/debugPath', LIVE_CLAIM);
}
