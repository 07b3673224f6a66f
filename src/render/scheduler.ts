/**
 * Runs render jobs from the store with a runner (`RunRender`): up to `concurrency` at once,
 * interrupted ones first (same workDir, so the runner continues), then by priority. It records
 * progress, announces the load to thermal control, and tells listeners (event streams) about every
 * change of a job.
 *
 * Stopping pauses: a running job is aborted but stays `running` in the store, and the next start
 * resumes it. A cancel marks the job cancelled at once and aborts its runner.
 */
import { EventEmitter } from 'node:events';
import { rmdirSync } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { sep } from 'node:path';
import type { Logger } from 'pino';
import type { DaemonEventBus } from '../events.ts';
import type { RenderMetrics } from './metrics.ts';
import type { Job, JobQueue, NewJob } from './queue.ts';
import { removeStaleTemps } from './publish.ts';
import { runConfigPath } from './run-config.ts';
import type { GpuThrottle, RenderDevice } from './throttle.ts';
import { RenderFailure, type RenderDeps, type RenderProgress, type RenderResult, type RunRender } from './types.ts';
import { asWorkFolderFailure } from './disk.ts';

export interface SchedulerOptions {
  queue: JobQueue;
  /** resolved at the first run, so the runner's module loads only when a render needs it */
  loadRunner: () => Promise<RunRender>;
  deps: RenderDeps;
  concurrency: number;
  progressIntervalMs: number;
  /** the runner's resume granularity (its default when absent) */
  segmentFrames?: number;
  /** segments of a render encoded at once (the runner's default when absent) */
  encodeParallel?: number;
  /** frames in synthesis ahead of the encoders and waiting per encoder (the runner's defaults when absent) */
  framesAhead?: number;
  encodeQueueFrames?: number;
  log: Logger;
  events: DaemonEventBus;
  throttle: GpuThrottle;
  metrics?: RenderMetrics;
  /** the GPUs renders load (the inference workers' `gpu`s) and the power hinted per GPU; none: no hints */
  loadHint?: { gpus: number[]; watts: number; seconds: number };
  /** what a render runs on for the throttle's pause and rate: the GPUs, and "cpu" for workers without one; default the hint's GPUs */
  devices?: RenderDevice[];
  now?: () => number;
}

interface Active {
  job: Job;
  abort: AbortController;
  /** why it was aborted: a stop pauses it (stays running), a cancel ends it */
  abortedFor: 'stop' | 'cancel' | null;
  progress: RenderProgress;
  done: Promise<void>;
}

const ENCODE_STAGES = new Set(['encoding', 'muxing', 'debug']);

export class RenderScheduler extends EventEmitter<{ job: [job: Job]; closing: [] }> {
  readonly queue: JobQueue;
  readonly throttle: GpuThrottle;
  private readonly active = new Map<string, Active>();
  /** interrupted jobs found at start, run before the queue */
  private resumable: Job[] = [];
  private started = false;
  private stopping = false;
  private runner: Promise<RunRender> | undefined;
  private readonly now: () => number;

  constructor(private readonly opts: SchedulerOptions) {
    super();
    // one listener per open event stream: the number is bounded by the HTTP server, not by us
    this.setMaxListeners(0);
    this.queue = opts.queue;
    this.throttle = opts.throttle;
    this.now = opts.now ?? Date.now;
  }

  start(): void {
    this.started = true;
    this.stopping = false;
    this.resumable = this.queue.running();
    if (this.resumable.length > 0) {
      this.opts.log.info({ jobs: this.resumable.map((j) => j.id) }, `resuming ${this.resumable.length} interrupted render(s)`);
    }
    this.pump();
  }

  /** Pauses the running jobs (they resume at the next start) and waits for their runners to let go. */
  async stop(): Promise<void> {
    this.stopping = true;
    // event streams end now: an open one would hold the HTTP server's close until the stop times out
    this.emit('closing');
    for (const a of this.active.values()) {
      a.abortedFor ??= 'stop';
      a.abort.abort(new RenderFailure('cancelled', 'daemon stopping'));
    }
    await Promise.all([...this.active.values()].map((a) => a.done));
    this.started = false;
  }

  submit(input: NewJob): Job {
    const job = this.queue.create(input);
    this.opts.log.info({ job: job.id, priority: job.priority }, `render ${job.id} queued`);
    this.emit('job', job);
    this.pump();
    return this.queue.require(job.id);
  }

  /** Cancels a queued or running job (JobNotFoundError, JobFinishedError otherwise). */
  cancel(id: string): Job {
    const { job } = this.queue.cancel(id);
    const a = this.active.get(id);
    if (a) {
      a.abortedFor ??= 'cancel';
      a.abort.abort(new RenderFailure('cancelled', 'cancelled by request'));
    }
    this.resumable = this.resumable.filter((j) => j.id !== id);
    // a running job's runner may still read its uploads: those go once it has let go
    if (!a) {
      // before the answer, so the client finds them gone; cleanUp tries again after removing any temporaries a killed daemon left
      this.removeMadeFolders(job);
      void this.cleanUp(job).catch((err: unknown) => this.opts.log.warn({ err, job: id }, 'cannot remove a cancelled render\'s files'));
    }
    this.opts.log.info({ job: id }, `render ${id} cancelled`);
    this.emit('job', job);
    return job;
  }

  /** The stored job with the live progress of a running one (the store is written at most every progressIntervalMs). */
  view(id: string): Job | undefined {
    const job = this.queue.get(id);
    const a = this.active.get(id);
    if (!job || !a || job.state !== 'running') return job;
    const p = a.progress;
    return { ...job, stage: p.stage, framesDone: p.framesDone, framesTotal: p.framesTotal, fps: p.fps, etaSeconds: p.etaSeconds };
  }

  runningFps(): number[] {
    return [...this.active.values()].map((a) => a.progress.fps ?? 0);
  }

  /** Resolves once no job is running (tests; a stop waits on the same promises). */
  async idle(): Promise<void> {
    while (this.active.size > 0) await Promise.all([...this.active.values()].map((a) => a.done));
  }

  private pump(): void {
    if (!this.started || this.stopping) return;
    while (this.active.size < this.opts.concurrency) {
      const resumed = this.resumable.shift();
      const job = resumed ? this.queue.markResumed(resumed.id) : this.queue.claimNext();
      if (!job) return;
      this.launch(job, resumed !== undefined);
    }
  }

  private launch(job: Job, resumed: boolean): void {
    const a: Active = {
      job,
      abort: new AbortController(),
      abortedFor: null,
      progress: { stage: job.stage, framesDone: job.framesDone, framesTotal: job.framesTotal, fps: null, etaSeconds: job.etaSeconds },
      done: Promise.resolve(),
    };
    this.active.set(job.id, a);
    a.done = this.run(a, resumed)
      // the store or the disk failed under the bookkeeping itself; the daemon carries on
      .catch((err: unknown) => this.opts.log.error({ err, job: job.id }, `render ${job.id}: ${(err as Error).message}`))
      .finally(() => {
        this.active.delete(job.id);
        this.pump();
      });
  }

  private async run(a: Active, resumed: boolean): Promise<void> {
    const { job } = a;
    const log = this.opts.log.child({ job: job.id });
    log.info({ workDir: job.workDir, attempt: job.attempts }, resumed ? `render ${job.id} resumed` : `render ${job.id} started`);
    this.emit('job', this.view(job.id)!);
    const hint = this.opts.loadHint;
    const source = `render:${job.id}`;
    if (hint && hint.gpus.length > 0 && hint.watts > 0) this.opts.events.emit('load-hint', { gpus: hint.gpus, watts: hint.watts, seconds: hint.seconds, source });

    let lastWrite = -Infinity;
    let lastFrames = job.framesDone;
    // the track's pace in frames per second once the runner has analysed it (music-aware cooling)
    let trackFps: number | null = null;
    const musicGpus = hint?.gpus ?? [];
    const onLoudness = (t: { levelsDba: number[]; fps: number }) => {
      if (musicGpus.length === 0) return;
      trackFps = t.fps;
      this.opts.events.emit('music', { gpus: musicGpus, source, levelsDba: t.levelsDba, positionSeconds: a.progress.framesDone / t.fps });
    };
    let stageSince = this.now();
    const onProgress = (p: RenderProgress) => {
      const prev = a.progress;
      a.progress = { ...p };
      if (p.framesDone > lastFrames) this.opts.metrics?.frames.inc(p.framesDone - lastFrames);
      lastFrames = Math.max(lastFrames, p.framesDone);
      const t = this.now();
      if (p.stage !== prev.stage) {
        if (ENCODE_STAGES.has(prev.stage)) this.opts.metrics?.encodeSeconds.inc((t - stageSince) / 1000);
        stageSince = t;
      }
      if (p.stage === prev.stage && t - lastWrite < this.opts.progressIntervalMs) return;
      lastWrite = t;
      if (trackFps !== null) this.opts.events.emit('music-position', { source, positionSeconds: p.framesDone / trackFps });
      if (this.queue.progress(job.id, p)) this.emit('job', this.view(job.id)!);
    };

    try {
      // a read-only or full stateDir: a storage failure naming the folder, not an internal error
      await mkdir(job.workDir, { recursive: true }).catch((err: unknown) => {
        throw asWorkFolderFailure(err, job.workDir);
      });
      // a runner that failed to load is tried again by the next render
      const runRender = await (this.runner ??= this.opts.loadRunner().catch((err: unknown) => {
        this.runner = undefined;
        throw err;
      }));
      const result = await runRender(job.spec, { ...this.opts.deps, log }, {
        workDir: job.workDir,
        signal: a.abort.signal,
        onProgress,
        throttle: this.throttle.hook(this.opts.devices ?? hint?.gpus ?? [], () => a.progress.framesDone, a.abort.signal),
        onLoudness,
        onSynthesis: (workers) => {
          if (this.queue.setSynthesis(job.id, { workers: workers.map((w) => ({ ...w, frames: null })), resumed: null, mixed: null })) this.emit('job', this.view(job.id)!);
        },
        ...(this.opts.segmentFrames === undefined ? {} : { segmentFrames: this.opts.segmentFrames }),
        ...(this.opts.encodeParallel === undefined ? {} : { encodeParallel: this.opts.encodeParallel }),
        ...(this.opts.framesAhead === undefined ? {} : { framesAhead: this.opts.framesAhead }),
        ...(this.opts.encodeQueueFrames === undefined ? {} : { encodeQueueFrames: this.opts.encodeQueueFrames }),
      });
      await checkOutput(job, result);
      if (ENCODE_STAGES.has(a.progress.stage)) this.opts.metrics?.encodeSeconds.inc((this.now() - stageSince) / 1000);
      // false: cancelled while the runner was finishing; either way its segments are of no more use
      if (this.queue.complete(job.id, { output: result.output, frames: result.frames, ...(result.synthesis ? { synthesis: result.synthesis } : {}) })) {
        log.info({ output: result.output, frames: result.frames, resumedFrames: result.resumedFrames, seconds: result.seconds }, `render ${job.id} done: ${result.output}`);
      }
      await this.cleanUp(job);
    } catch (err) {
      await this.ended(a, err, log);
    } finally {
      // also ends the render's track on the thermal side
      if (hint && hint.gpus.length > 0 && (hint.watts > 0 || trackFps !== null)) this.opts.events.emit('load-end', { gpus: hint.gpus, source });
      const final = this.queue.get(job.id);
      if (final) this.emit('job', final);
    }
  }

  private async ended(a: Active, err: unknown, log: Logger): Promise<void> {
    const { job } = a;
    if (a.abortedFor === 'stop') {
      log.info(`render ${job.id} paused by the stop; it resumes at the next start`);
      return;
    }
    if (a.abortedFor === 'cancel') {
      this.opts.metrics?.failures.inc({ reason: 'cancelled' });
      await this.cleanUp(job);
      return;
    }
    const reason = err instanceof RenderFailure ? err.reason : 'internal';
    const message = (err as Error)?.message ?? String(err);
    const kept = err instanceof RenderFailure ? (err.kept ?? null) : null;
    if (this.queue.fail(job.id, reason, message, kept)) {
      this.opts.metrics?.failures.inc({ reason });
      log.error({ reason, err }, `render ${job.id} failed (${reason}): ${message}`);
      // a failed render is not retried (a new one is submitted), so its segments would only fill the disk
      await this.cleanUp(job);
    }
  }

  /**
   * Segments and uploads are of no more use once the job has ended, however it ended; nor is a
   * temporary output a killed daemon left beside its output (a job cancelled before it resumed).
   */
  private async cleanUp(job: Job): Promise<void> {
    await rm(job.workDir, { recursive: true, force: true });
    await this.removeUploads(job);
    const out = job.spec.output.path;
    const debug = job.spec.output.debugPath ?? null; // a job stored before debug videos has none
    for (const p of [out, runConfigPath(out), ...(debug === null ? [] : [debug])]) await removeStaleTemps(p);
    if (this.queue.get(job.id)?.state !== 'done') this.removeMadeFolders(job);
  }

  /**
   * The output folders made when the render was accepted, innermost first, where still empty: a
   * cancelled or failed render left e.g. outputRoot/flood/ behind. Never one that was there before
   * (not in the list), holds anything (rmdir refuses), or leads to a file a queued or running render
   * will write (the runner makes no folders: it counts on these). Synchronous: a request's
   * makeOutputFolders, also synchronous, cannot find a folder and then lose it half way.
   */
  private removeMadeFolders(job: Job): void {
    if (job.madeDirs.length === 0) return;
    const active = [...this.queue.activeOutputs()];
    for (const dir of [...job.madeDirs].reverse()) {
      if (active.some((p) => p.startsWith(dir + sep))) continue;
      try {
        rmdirSync(dir);
      } catch {
        // not empty (or gone): then it is not only this render's to remove
      }
    }
  }

  private async removeUploads(job: Job): Promise<void> {
    if (job.uploadDir) await rm(job.uploadDir, { recursive: true, force: true });
  }
}

/** A job is done only with its whole output in place: the runner's word is checked on disk. */
async function checkOutput(job: Job, result: RenderResult): Promise<void> {
  const want = job.spec.output.format === 'png' ? 'directory' : 'file';
  const st = await stat(result.output).catch(() => undefined);
  const ok = st !== undefined && (want === 'file' ? st.isFile() && st.size > 0 : st.isDirectory());
  if (!ok) throw new RenderFailure('internal', `the runner finished but its output ${result.output} is not a complete ${want}`);
  if (!(result.frames > 0)) throw new RenderFailure('internal', `the runner finished with ${result.frames} frames`);
  const debug = job.spec.output.debugPath ?? null; // a job stored before debug videos has none
  if (debug !== null && !((await stat(debug).catch(() => undefined))?.isFile() ?? false)) {
    throw new RenderFailure('internal', `the runner finished but the debug video ${debug} is not there`);
  }
}
