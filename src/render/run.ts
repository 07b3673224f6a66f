/**
 * One render: audio + networks + latents settings -> one mp4 (audio muxed) or a folder of PNGs,
 * resumable. The frame pipeline is a chain of async iterators, data flowing one way, each pulled
 * by the next so the slowest stage sets the pace:
 *
 *   latents (per frame, from the analysed track) -> frame requests (z+psi or w; throttle awaited)
 *   -> pool.stream (several workers, results in order) -> rgb24 bytes -> ffmpeg stdin per segment
 *
 * Several segments encode at once (`encodeParallel`): the requests go round-robin across them
 * (interleave.ts), so each encoder gets its own frames in order and none holds up the others.
 *
 * Segments end at fixed frame multiples in `workDir` and are joined (video copied) with the audio
 * at the end, into a temporary name renamed once complete, with NAME.run.json beside it. A debug
 * video (output.debugPath) is drawn after that from the finished output and the latents
 * (debug/video.ts), under a temporary name too, and renamed just before the output.
 *
 * Nothing is replaced at the end (publish.ts): a file put at the output, debug or run config name
 * while the render ran stays, and the render fails naming it, its finished output kept beside it
 * under a name the error gives (RenderRunOptions.replace, gance render --force, replaces instead).
 * Its own files there from a run killed while it placed them are known as its own (publish.ts
 * placedRecord) and the placement finished.
 *
 * Failure policy: a render that fails or is cancelled removes its partial output (the temporary
 * output and the segment being encoded). Complete segments stay in workDir, so running the same
 * spec with the same workDir resumes after them; a spec that no longer matches them (another
 * fingerprint) discards them. A completed render clears the workDir of its segments.
 */
import { readFile, readdir, rm, rmdir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { AudioError } from '../audio/errors.ts';
import { FeatureError } from '../audio/features/errors.ts';
import { SILENCE_LEVEL } from '../audio/silence.ts';
import { LatentError } from '../latents/errors.ts';
import { ProjectionError } from '../latents/projection/errors.ts';
import type { LatentFrame } from '../latents/frame.ts';
import type { OfflinePlan } from '../latents/offline.ts';
import { createLiveParams } from '../latents/params.ts';
import { reactiveActive } from '../latents/reactive.ts';
import { loudnessSchedule } from '../thermal/music/loudness.ts';
import type { SynthesisPool } from '../synthesis/pool/pool.ts';
import { assemble } from './assemble.ts';
import { asNoSpace, asWorkFolderFailure, checkSpace, frameBytesBound, type SpaceNeed } from './disk.ts';
import { debugArgs, writeDebugVideo } from './debug/video.ts';
import { encodeParallel } from './encode-args.ts';
import { DEFAULT_ENCODE_QUEUE_FRAMES, FRAMES_AHEAD_PER_SEGMENT } from './limits.ts';
import { ffmpegVersion } from './ffmpeg.ts';
import { interleaveSegments } from './interleave.ts';
import { loadNetworks } from './networks.ts';
import { rgbBytes } from './pixels.ts';
import { ProgressMeter } from './progress.ts';
import { frameRequests } from './requests.ts';
import { preflight } from './preflight.ts';
import { keptName, place, placedRecord, releaseTemp, removeStaleTemps, TakenError, tempName } from './publish.ts';
import type { ResolvedRender } from './resolve.ts';
import { renderFingerprint, runConfigPath, writeRunConfig } from './run-config.ts';
import { writeSegments, type RgbFrame } from './segment-writer.ts';
import { describeWorker, loadedWorkers, SynthesisTally, type SynthesisRecord } from './synthesis-record.ts';
import { clearWorkDir, lockWorkDir, openWorkDir, readCheckpoint, type SegmentPlan } from './segments.ts';
import { RenderFailure, type RenderDeps, type RenderResult, type RenderRunOptions, type RunRender } from './types.ts';

export const DEFAULT_SEGMENT_FRAMES = 240;
/**
 * A track whose loudest frame is quieter than this has nothing to react to. Preflight and the
 * daemon's admission judge the track the same way (src/audio/silence.ts checkSilence: ffmpeg's
 * resampler for this analysis's), so this catches only a file changed since, or a frame within a
 * hair of the level on which the two resamplers disagree.
 */
const SILENCE_RMS = SILENCE_LEVEL;

function cancelled(signal: AbortSignal | undefined, where: string): void {
  if (signal?.aborted) throw new RenderFailure('cancelled', `cancelled ${where}`);
}

/** Any error of a stage as the render's failure. */
function asFailure(err: unknown, signal: AbortSignal | undefined, fallback: RenderFailure['reason']): RenderFailure {
  // a cancel makes the stages fail in their own ways (ffmpeg killed, frames dropped): it is still a cancel
  if (signal?.aborted && !(err instanceof RenderFailure && err.reason === 'cancelled')) {
    return new RenderFailure('cancelled', `cancelled (${err instanceof Error ? err.message : String(err)})`, { cause: err });
  }
  if (err instanceof RenderFailure) return err;
  const spaced = asNoSpace(err, 'writing the render');
  if (spaced instanceof RenderFailure) return spaced;
  return new RenderFailure(fallback, (err as Error)?.message ?? String(err), { cause: err });
}

async function analyse(spec: ResolvedRender, deps: RenderDeps, ffmpeg: string): Promise<OfflinePlan> {
  let plan: OfflinePlan;
  try {
    // the debug video charts the per-frame features; they change no latent unless reactive motion is on
    const richFeatures = reactiveActive(spec.latents.reactive) || spec.spec.output.debugPath !== null;
    plan = await deps.latents.prepare(spec.spec.audio, { config: spec.latents, richFeatures, decode: { ffmpegPath: ffmpeg } });
  } catch (err) {
    // FeatureError: a track too short for GANce's smoothing is the input's fault, as unreadable audio is
    if (err instanceof AudioError || err instanceof FeatureError || err instanceof LatentError || err instanceof ProjectionError) throw new RenderFailure('bad-input', err.message, { cause: err });
    throw err;
  }
  let loudest = 0;
  for (const v of plan.rms) if (v > loudest) loudest = v;
  if (!(loudest >= SILENCE_RMS)) {
    plan.projection?.reader.close();
    const db = loudest > 0 ? `${(20 * Math.log10(loudest)).toFixed(1)} dBFS` : 'digital silence';
    throw new RenderFailure('bad-input', `audio ${spec.spec.audio.join(' + ')}: silent (loudest frame ${db}); nothing for the video to react to`);
  }
  return plan;
}

/** Ends with a result or a RenderFailure, never another error (the queue records the reason). */
export const runRender: RunRender = async (rawSpec, deps, opts) => {
  try {
    return await render(rawSpec, deps, opts);
  } catch (err) {
    throw asFailure(err, opts.signal, 'internal');
  }
};

const render: RunRender = async (rawSpec, deps, opts) => {
  const t0 = performance.now();
  const ffmpeg = deps.ffmpeg ?? 'ffmpeg';
  const meter = new ProgressMeter(opts.onProgress);
  const { resolved: r, ffmpegLine } = await preflight(rawSpec, deps.networks.catalogue, deps.latents.config, ffmpeg);
  cancelled(opts.signal, 'before the analysis');
  // a resumed render has its checkpoint's frames done while it analyses again, not 0 (the bar went back)
  const saved = await readCheckpoint(resolve(opts.workDir));
  meter.stage('analysing', saved?.frames, saved?.framesDone);
  const plan = await analyse(r, deps, ffmpeg);
  try {
    cancelled(opts.signal, 'after the analysis');
    // the whole track's loudness is known from here: the thermal side can plan the fans' noise around it
    opts.onLoudness?.({ levelsDba: loudnessSchedule(plan.rms, r.latents.fps), fps: r.latents.fps });
    const params = createLiveParams(r.latents, r.networks.length);
    return await renderResolved(r, { frames: plan.frames, latents: (from) => deps.latents.offline(plan, params, from) }, deps, opts, { meter, ffmpegLine, t0 });
  } finally {
    plan.projection?.reader.close();
  }
};

export interface FrameSource {
  frames: number;
  /** the latents from frame `from` on, in order */
  latents: (from: number) => AsyncIterable<LatentFrame>;
}

/**
 * Everything after the analysis, on any latents source (tests feed their own): networks loaded,
 * workDir opened (resume), disk checked, frames rendered into segments, output assembled, run
 * config written, output renamed into place.
 */
export async function renderResolved(
  r: ResolvedRender,
  source: FrameSource,
  deps: RenderDeps,
  opts: RenderRunOptions,
  ctx: { meter?: ProgressMeter; ffmpegLine?: string; t0?: number } = {},
): Promise<RenderResult> {
  // the result's seconds count from the start of the render, analysis included
  const t0 = ctx.t0 ?? performance.now();
  const ffmpeg = deps.ffmpeg ?? 'ffmpeg';
  const signal = opts.signal;
  const meter = ctx.meter ?? new ProgressMeter(opts.onProgress);
  const ffmpegLine = ctx.ffmpegLine ?? (await ffmpegVersion(ffmpeg));
  const out = resolve(r.spec.output.path);
  const workDir = resolve(opts.workDir);
  const log = deps.log.child({ render: basename(out) });
  const plan: SegmentPlan = { frames: source.frames, segmentFrames: opts.segmentFrames ?? DEFAULT_SEGMENT_FRAMES, format: r.spec.output.format };
  if (plan.frames < 1) throw new RenderFailure('bad-input', `audio ${r.spec.audio.join(' + ')}: too short for one frame`);
  if (!Number.isInteger(plan.segmentFrames) || plan.segmentFrames < 1) throw new RenderFailure('internal', `segmentFrames must be a positive integer, got ${plan.segmentFrames}`);

  const { pool, release } = await loadNetworks(deps.networks, r.networks, signal, `render ${basename(out)}`);
  try {
    cancelled(signal, 'after loading the networks');
    const workers = loadedWorkers(pool, r.networks);
    log.info({ workers }, `synthesis: ${workers.map(describeWorker).join('; ')}`);
    opts.onSynthesis?.(workers);
    const fingerprint = await renderFingerprint(r, plan, ffmpegLine);
    let unlock: () => Promise<void>;
    try {
      unlock = await lockWorkDir(workDir);
    } catch (err) {
      throw asFailure(asWorkFolderFailure(err, workDir), signal, 'internal');
    }
    try {
      return await renderInWorkDir(r, source, deps, opts, { meter, ffmpegLine, fingerprint, plan, pool, out, workDir, log, t0 });
    } finally {
      await unlock();
    }
  } finally {
    // however it ended: a network this render loaded goes unless someone else holds or asked for it
    await release();
  }
}

async function renderInWorkDir(
  r: ResolvedRender,
  source: FrameSource,
  deps: RenderDeps,
  opts: RenderRunOptions,
  c: { meter: ProgressMeter; ffmpegLine: string; fingerprint: string; plan: SegmentPlan; pool: SynthesisPool; out: string; workDir: string; log: RenderDeps['log']; t0: number },
): Promise<RenderResult> {
  const { meter, ffmpegLine, fingerprint, plan, pool, out, workDir, log, t0 } = c;
  const ffmpeg = deps.ffmpeg ?? 'ffmpeg';
  const signal = opts.signal;
  let opened;
  try {
    opened = await openWorkDir(workDir, plan, fingerprint);
  } catch (err) {
    throw asFailure(asWorkFolderFailure(err, workDir), signal, 'internal');
  }
  const from = Math.min(opened.complete * plan.segmentFrames, plan.frames);
  const tally = await SynthesisTally.open(workDir, { fingerprint, segmentFrames: plan.segmentFrames, complete: opened.complete, networks: r.networks });
  const parallel = encodeParallel(opts.encodeParallel);
  if (!Number.isInteger(parallel) || parallel < 1) throw new RenderFailure('internal', `encodeParallel must be a positive integer, got ${parallel}`);
  if (opened.discarded > 0) log.warn({ workDir, discarded: opened.discarded }, `work folder ${workDir} held segments of another render; they were discarded`);
  if (from > 0) log.info({ workDir, from, frames: plan.frames }, `resuming after ${opened.complete} complete segments (${from} of ${plan.frames} frames)`);

  const bound = frameBytesBound(r.encode);
  const audioBound = r.encode.format === 'mp4' ? Math.ceil((plan.frames / r.encode.fps) * (r.encode.audioCodec === 'alac' ? 8 * 768_000 : 512_000) / 8) : 0;
  const needs = (perFrame: number, done: number): SpaceNeed[] => [
    { dir: workDir, bytes: (plan.frames - done) * perFrame, what: 'segments' },
    ...(r.encode.format === 'mp4' ? [{ dir: dirname(out), bytes: plan.frames * perFrame + audioBound, what: 'output' }] : []),
  ];
  // a daemon killed while it muxed left its temporary output here (as big as the output): this is
  // the render that would have placed it, and nothing else will remove it
  const stale = (await Promise.all([out, runConfigPath(out), ...(r.spec.output.debugPath === null ? [] : [resolve(r.spec.output.debugPath)])].map((p) => removeStaleTemps(p)))).flat();
  if (stale.length > 0) log.info({ removed: stale }, `removed ${stale.length} temporary file(s) an interrupted run of this render left beside its output`);
  const debugOut = r.spec.output.debugPath === null ? null : resolve(r.spec.output.debugPath);
  const runJson = runConfigPath(out);
  const finished = async (resumedFrames: number, synthesis?: SynthesisRecord): Promise<RenderResult> => {
    // the lock goes with the rest: the folder is removed when nothing else is in it
    await clearWorkDir(workDir);
    await rmdir(workDir).catch(() => {});
    meter.stage('done');
    const seconds = (performance.now() - t0) / 1000;
    log.info({ output: out, frames: plan.frames, seconds, resumedFrames }, `rendered ${out}: ${plan.frames} frames in ${seconds.toFixed(1)} s`);
    return { output: out, runConfig: runJson, frames: plan.frames, fps: r.encode.fps, seconds, resumedFrames, synthesis, ...(debugOut !== null ? { debugOutput: debugOut } : {}) };
  };
  // An earlier run of this render killed while it placed its files left some at their names: they
  // are its own, not something put there. All of them: it had finished but for the clean-up.
  const placing = await placedRecord(workDir, fingerprint);
  if ([runJson, ...(debugOut === null ? [] : [debugOut]), out].every((p) => placing.own.has(p))) {
    log.info({ output: out, workDir }, `an interrupted run of this render had placed ${out} already: finishing`);
    // what made its frames is in the run config it placed
    const placedSynthesis = await readFile(runJson, 'utf8').then(
      (text) => (JSON.parse(text) as { synthesis?: SynthesisRecord | null }).synthesis ?? undefined,
      () => undefined,
    );
    return finished(plan.frames, placedSynthesis);
  }
  await checkSpace(needs(bound, from));

  meter.stage('rendering', plan.frames, from);
  let written = 0;
  let writtenFrames = 0;
  let doneFrames = from;
  const tmpOut = tempName(out);
  const tmpDebug = debugOut === null ? null : tempName(debugOut);
  const replace = opts.replace ?? false;
  // its own file at a name (see placing above) is replaced, never taken for someone's
  const replaces = (p: string) => replace || placing.own.has(p);
  const folder = r.spec.output.format === 'png';
  let runJsonPlaced = false;
  let synthesis: SynthesisRecord | undefined;
  let debugPlaced = false;
  try {
    if (from < plan.frames) {
      await writeSegments(pipeline(r, source, pool, plan, opened.complete, parallel, opts, tally), {
        ffmpeg,
        workDir,
        encode: r.encode,
        plan,
        firstSegment: opened.complete,
        concurrency: parallel,
        queueFrames: opts.encodeQueueFrames ?? DEFAULT_ENCODE_QUEUE_FRAMES,
        onFrame: () => meter.frame(),
        // its workers are in the folder's record before the segment counts as complete
        beforeRename: (k) => tally.segmentDone(k),
        onFlush: () => meter.stage('encoding'),
        onSegment: async (k, path) => {
          const [a, b] = [k * plan.segmentFrames, Math.min(plan.frames, (k + 1) * plan.segmentFrames)];
          written += await sizeOf(path);
          writtenFrames += b - a;
          // segments finish in any order when several encode at once: count frames, not positions
          doneFrames += b - a;
          // measured sizes, with headroom, once they say more than the bound does
          const perFrame = Math.min(bound, Math.ceil((written / writtenFrames) * 2));
          await checkSpace(needs(perFrame, doneFrames));
          cancelled(signal, 'between segments');
        },
      });
    }
    cancelled(signal, 'before muxing');
    meter.stage('muxing');
    const muxArgs = await assemble({ ffmpeg, workDir, encode: r.encode, plan, audio: r.spec.audio, target: tmpOut, signal });
    let debug: { path: string; args: string[] } | null = null;
    if (debugOut !== null && tmpDebug !== null) {
      meter.stage('debug', plan.frames, 0);
      await writeDebugVideo({
        ffmpeg,
        frames: plan.frames,
        fps: r.encode.fps,
        networks: r.networks.map((n) => n.id),
        rowWidth: r.kind === 'z' ? r.networks[0]!.sidecar.zDim : r.networks[0]!.sidecar.wDim,
        latents: (from) => guard(source.latents(from), signal),
        main: { format: r.encode.format, path: tmpOut },
        audio: r.spec.audio,
        target: tmpDebug,
        signal,
        onFrame: () => meter.frame(),
      });
      debug = { path: debugOut, args: debugArgs({ fps: r.encode.fps, main: { format: r.encode.format, path: out }, audio: r.spec.audio, target: debugOut }) };
    }
    synthesis = tally.record(from, opened.complete);
    await writeRunConfig(runJson, { r, plan, ffmpegLine, muxArgs, fingerprint, debug, replace: replaces(runJson), beforePlace: (tmp) => placing.note(runJson, tmp), synthesis });
    runJsonPlaced = true;
    cancelled(signal, 'before the output was renamed into place');
    // the debug video first: the output in place means the render is whole
    if (debugOut !== null && tmpDebug !== null) {
      await placing.note(debugOut, tmpDebug);
      if (!(await place(tmpDebug, debugOut, { replace: replaces(debugOut), folder: false }))) throw new TakenError(debugOut);
      debugPlaced = true;
    }
    await placing.note(out, tmpOut);
    if (!(await place(tmpOut, out, { replace: replaces(out), folder }))) throw new TakenError(out);
  } catch (caught) {
    let err = caught;
    if (caught instanceof TakenError) {
      // Something was put at one of the render's names while it ran (checked free at the start):
      // it is someone's and stays. The finished output is hours of GPU time, so it is kept under
      // a name of its own that the error reports; the job fails, so nothing claims the render
      // went where it was asked to. What this render had placed already (run config, debug) goes.
      const kept = await keepAside(tmpOut, out, folder).catch(() => null);
      const what = caught.path === out ? `output ${out}` : caught.path === debugOut ? `output.debugPath ${debugOut}` : `output ${out}: its run config ${caught.path}`;
      const keptText = kept === null ? 'the finished output could not be kept' : `the finished ${folder ? 'frames were' : 'video was'} kept as ${kept}`;
      err = new RenderFailure('bad-input', `${what}: something was put there while the render ran; it was left as it is and ${keptText}`, kept === null ? {} : { kept });
    }
    await rm(tmpOut, { recursive: true, force: true });
    if (tmpDebug !== null) await rm(tmpDebug, { force: true });
    if (debugPlaced && debugOut !== null) await rm(debugOut, { force: true });
    if (runJsonPlaced) await rm(runJson, { force: true });
    const failure = asFailure(err, signal, 'internal');
    // debug: whoever ran it says it, once: the scheduler logs a failure (error) or a cancel or stop
    // (info), the CLI prints one line; a warning here put a second, JSON copy under the CLI's
    log.debug({ reason: failure.reason, err: failure.message, workDir }, `render failed (${failure.reason}): ${failure.message}`);
    throw failure;
  } finally {
    releaseTemp(tmpOut);
    if (tmpDebug !== null) releaseTemp(tmpDebug);
  }
  return finished(from, synthesis);
}

/** The finished output under a free name beside `out` (keptName; a few tries should one be taken too), or null. */
async function keepAside(tmp: string, out: string, folder: boolean): Promise<string | null> {
  for (let k = 0; k < 5; k++) {
    const name = keptName(out);
    if (await place(tmp, name, { replace: false, folder })) return name;
  }
  return null;
}

async function sizeOf(path: string): Promise<number> {
  const s = await stat(path);
  if (!s.isDirectory()) return s.size;
  let n = 0;
  for (const f of await readdir(path)) n += (await stat(join(path, f))).size;
  return n;
}

/**
 * latents -> requests -> pool (in submit order) -> rgb bytes, for the segments from `firstSegment`
 * on, `parallel` of them at a time, their frames interleaved (each segment's in order).
 */
async function* pipeline(
  r: ResolvedRender,
  source: FrameSource,
  pool: SynthesisPool,
  plan: SegmentPlan,
  firstSegment: number,
  parallel: number,
  opts: RenderRunOptions,
  tally: SynthesisTally,
): AsyncGenerator<RgbFrame> {
  const signal = opts.signal;
  const byId = new Map(r.networks.map((n) => [n.id, n]));
  const segmentRequests = (start: number) => frameRequests(guard(source.latents(start), signal), { networks: r.networks, psi: r.psi, from: start, throttle: opts.throttle, signal });
  // the frame index of each request in the pool, in submit order (the pool answers in that order)
  const inFlight: number[] = [];
  async function* requests() {
    for await (const t of interleaveSegments(plan, firstSegment, parallel, segmentRequests)) {
      inFlight.push(t.index);
      yield t.value;
    }
  }
  let index = firstSegment * plan.segmentFrames;
  try {
    for await (const frame of pool.stream(requests(), { ...(signal ? { signal } : {}), window: opts.framesAhead ?? FRAMES_AHEAD_PER_SEGMENT * parallel })) {
      index = inFlight.shift()!;
      tally.count(frame, index);
      yield { index, rgb: rgbBytes(frame, byId.get(frame.network)!, index) };
    }
  } catch (err) {
    if (err instanceof RenderFailure) throw err;
    // the frame that failed is the oldest one still in the pool
    const at = inFlight[0] ?? index;
    if (signal?.aborted) throw new RenderFailure('cancelled', `cancelled at frame ${at}`, { cause: err });
    throw new RenderFailure('synthesis', `frame ${at}: ${(err as Error).message}`, { cause: err });
  }
  cancelled(signal, `at frame ${index}`);
}

/** The latents stage's own errors are the render's 'internal' ones, not synthesis failures. */
async function* guard(latents: AsyncIterable<LatentFrame>, signal: AbortSignal | undefined): AsyncGenerator<LatentFrame> {
  try {
    yield* latents;
  } catch (err) {
    throw asFailure(err, signal, 'internal');
  }
}

