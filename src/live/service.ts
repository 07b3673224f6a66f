/**
 * The daemon's live sessions: start (checked against the schema), list, show, change, stop. Load
 * hints go out as a session starts and after the last one stops, so thermal feed-forward leads a
 * set rather than following it. Errors are the API's typed errors (the app's one handler answers them).
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Value } from '@sinclair/typebox/value';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { BadRequestError, ConflictError, NotFoundError } from '../api/errors.ts';
import type { DaemonEventBus } from '../events.ts';
import type { LatentsService } from '../latents/service.ts';
import type { NetworkManager } from '../synthesis/networks/manager.ts';
import { createLiveMetrics, type LiveMetrics } from './metrics.ts';
import { announceFileTrack } from './music.ts';
import { LiveSession } from './session.ts';
import { LiveStart, rangeProblem, type LivePatch } from './spec.ts';
import { firstProblem } from '../api/union.ts';
import { publicText } from '../render/public-error.ts';
import { describeWorker, fallbackWarnings } from '../render/synthesis-record.ts';
import { fileOutputs, resolveTargets, type LiveRoots } from './targets.ts';
import { LIVE_CLAIM, makeOutputFolders, refuseClaimed, RENDER_CLAIM_ANY } from '../render/media.ts';

export interface LiveServiceDeps {
  networks: NetworkManager;
  latents: LatentsService;
  log: Logger;
  registry: Registry;
  events?: DaemonEventBus;
  /** GPUs and watts of a load hint (the synthesis workers'); no hint when gpus is empty */
  loadHint?: { gpus: number[]; watts: number; seconds: number };
  ffmpeg?: string;
  maxSessions?: number;
  /**
   * The daemon's render.mediaRoot and render.outputRoot: the API's file sources and outputs stay
   * under them. Left out by `gance live` in-process (the operator's own files).
   */
  roots?: LiveRoots;
  /**
   * Files queued and running renders will write (their outputs, debug videos and run configs): a
   * recording is not started over one of them. None: no renders (`gance live`).
   */
  renderOutputs?: () => ReadonlySet<string>;
  /** how long a start waits for the source's first audio before failing */
  startTimeoutMs?: number;
  audioRetryMs?: number;
  cameraRetryMs?: number;
}

export type LiveView = ReturnType<LiveSession['view']>;


export function createLiveService(deps: LiveServiceDeps) {
  const sessions = new Map<string, LiveSession>();
  // file outputs of the sessions running or starting, by path: ffmpeg opens them with -y, so two
  // outputs naming one file (in one start or two) wrote over each other's recording
  const recording = new Map<string, string>();
  const metrics: LiveMetrics = createLiveMetrics(deps.registry);
  const log = deps.log.child({ subsystem: 'live' });
  const maxSessions = deps.maxSessions ?? 4;
  let starting = 0;
  // thermal yield: per GPU a share of each session's own fps (null: none); the lowest applies, at least 1 fps
  const fpsCaps = new Map<number, number>();
  const wantedFps = new Map<string, number>();
  const capped = (fps: number) => (fpsCaps.size === 0 ? fps : Math.max(1, Math.round(fps * Math.min(...fpsCaps.values()))));
  const applyCap = (s: LiveSession) => {
    const fps = capped(wantedFps.get(s.id) ?? s.fps);
    if (fps !== s.fps) s.patch({ fps });
  };

  function hint(on: boolean): void {
    const h = deps.loadHint;
    if (!deps.events || !h || h.gpus.length === 0 || h.watts <= 0) return;
    if (on) deps.events.emit('load-hint', { gpus: h.gpus, watts: h.watts, seconds: h.seconds, source: 'live' });
    else deps.events.emit('load-end', { gpus: h.gpus, source: 'live' });
  }

  function release(id: string): void {
    for (const [path, owner] of recording) if (owner === id) recording.delete(path);
  }

  function get(id: string): LiveSession {
    const s = sessions.get(id);
    if (!s) throw new NotFoundError(`no live session "${id}"`);
    return s;
  }

  return {
    metrics,

    async start(body: unknown): Promise<LiveSession> {
      const checked = Value.Default(LiveStart, Value.Clone(body));
      if (!Value.Check(LiveStart, checked)) {
        const e = firstProblem(Value.Errors(LiveStart, checked));
        throw new BadRequestError(`live session: ${e?.path ?? '/'} ${e?.message ?? 'is invalid'}`);
      }
      const reversed = rangeProblem(checked as LiveStart);
      if (reversed) throw new BadRequestError(`live session: ${reversed}`);
      const spec = await resolveTargets(checked as LiveStart, deps.roots);
      if (sessions.size + starting >= maxSessions) throw new ConflictError(`${maxSessions} live sessions are running; stop one first`);
      const id = randomUUID().slice(0, 8);
      // no await from here to the claim: two starts cannot both pass the check
      const files = fileOutputs(checked as LiveStart, spec);
      files.forEach((f, k) => {
        refuseClaimed(f.path, f.name, new Set(files.slice(0, k).map((e) => e.path)), f.field, { is: 'also an earlier output of this start (one file, one output)', under: 'an earlier output of this start' });
        refuseClaimed(f.path, f.name, new Set(recording.keys()), f.field, LIVE_CLAIM);
        if (deps.renderOutputs) refuseClaimed(f.path, f.name, deps.renderOutputs(), f.field, RENDER_CLAIM_ANY);
      });
      for (const f of files) recording.set(f.path, id);
      starting++;
      try {
        if (sessions.size === 0) hint(true);
        const s = await LiveSession.start(id, spec, {
          networks: deps.networks,
          latents: deps.latents,
          log,
          metrics,
          ...(deps.ffmpeg ? { ffmpeg: deps.ffmpeg } : {}),
          ...(deps.audioRetryMs !== undefined ? { audioRetryMs: deps.audioRetryMs } : {}),
          ...(deps.cameraRetryMs !== undefined ? { cameraRetryMs: deps.cameraRetryMs } : {}),
          ...(deps.startTimeoutMs !== undefined ? { startTimeoutMs: deps.startTimeoutMs } : {}),
          ...(deps.roots ? { publicView: { audio: (checked as LiveStart).audio, text: (m: string) => publicText(m, { mediaRoot: deps.roots!.media, outputRoot: deps.roots!.output }) } } : {}),
          ...(deps.roots ? { makeOutputFolders: () => makeOutputFolders(deps.roots!.output, fileOutputs(checked as LiveStart, spec)) } : {}),
        });
        sessions.set(id, s);
        wantedFps.set(id, s.fps);
        applyCap(s);
        metrics.sessions.set(sessions.size);
        const a = spec.audio;
        if (a.kind === 'file' && deps.events && deps.loadHint && deps.loadHint.gpus.length > 0) {
          void announceFileTrack({ events: deps.events, gpus: deps.loadHint.gpus, source: `live:${id}`, path: a.path, loop: a.loop ?? true, startedAtMs: performance.now(), ...(deps.ffmpeg ? { ffmpeg: deps.ffmpeg } : {}), log });
        }
        // as a render says it (render/run.ts): frames from a CPU fallback must not pass for the GPU's
        const workers = s.synthesisAtStart();
        log.info({ live: id, networks: s.networkIds, fps: s.fps, audio: spec.audio, synthesis: workers }, `live session ${id} started; synthesis: ${workers.map(describeWorker).join('; ')}`);
        for (const w of fallbackWarnings(workers)) log.warn({ live: id }, w);
        return s;
      } catch (err) {
        release(id);
        if (sessions.size === 0) hint(false);
        // a refused start (the source's error, a network's) goes to the client: in its terms
        if (deps.roots && err instanceof Error && typeof (err as { statusCode?: unknown }).statusCode === 'number') {
          err.message = publicText(err.message, { mediaRoot: deps.roots.media, outputRoot: deps.roots.output });
        }
        throw err;
      } finally {
        starting--;
      }
    },

    /** the files the running and starting sessions record to (a render is not queued over one) */
    outputs(): Set<string> {
      return new Set(recording.keys());
    },

    list(): LiveView[] {
      return [...sessions.values()].map((s) => s.view());
    },

    get,

    patch(id: string, patch: LivePatch): LiveView {
      const s = get(id);
      if (patch.fps !== undefined) {
        s.patch({ ...patch, fps: capped(patch.fps) });
        wantedFps.set(id, patch.fps);
      } else s.patch(patch);
      return s.view();
    },

    async stop(id: string): Promise<LiveView> {
      const s = get(id);
      sessions.delete(id);
      wantedFps.delete(id);
      try {
        await s.stop();
      } finally {
        // its recordings are finished (or given up): the files are there, and a new output of that name is 409 as any file is
        release(id);
      }
      metrics.sessions.set(sessions.size);
      // its track (music-aware cooling) ends with it
      if (deps.events && deps.loadHint && deps.loadHint.gpus.length > 0 && s.spec.audio.kind === 'file') deps.events.emit('load-end', { gpus: deps.loadHint.gpus, source: `live:${id}` });
      if (sessions.size === 0) hint(false);
      log.info({ live: id }, `live session ${id} stopped`);
      return s.view();
    },

    /**
     * Thermal yield: sessions run at `share` of their own fps (lowest share over the GPUs, at
     * least 1 fps) until it is lifted with null: a steady lower rate rather than frames dropped
     * at random once the GPU throttles. A session's own fps comes back when the caps are lifted.
     */
    setThermalFpsCap(gpu: number, share: number | null): void {
      if (share !== null && !(share >= 0 && share <= 1)) throw new RangeError(`fps cap share must be within 0..1 or null, got ${share}`);
      if (share === null || share >= 1) fpsCaps.delete(gpu);
      else fpsCaps.set(gpu, share);
      for (const s of sessions.values()) applyCap(s);
    },

    /** the share of their fps live sessions run at (1: no thermal cap) */
    thermalFpsShare(): number {
      return fpsCaps.size === 0 ? 1 : Math.min(...fpsCaps.values());
    },

    async stopAll(): Promise<void> {
      await Promise.all([...sessions.keys()].map((id) => this.stop(id)));
    },
  };
}

export type LiveService = ReturnType<typeof createLiveService>;
