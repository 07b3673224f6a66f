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
import { LiveStart, type LivePatch } from './spec.ts';

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
  audioRetryMs?: number;
}

export type LiveView = ReturnType<LiveSession['view']>;

export function createLiveService(deps: LiveServiceDeps) {
  const sessions = new Map<string, LiveSession>();
  const metrics: LiveMetrics = createLiveMetrics(deps.registry);
  const log = deps.log.child({ subsystem: 'live' });
  const maxSessions = deps.maxSessions ?? 4;
  let starting = 0;

  function hint(on: boolean): void {
    const h = deps.loadHint;
    if (!deps.events || !h || h.gpus.length === 0 || h.watts <= 0) return;
    if (on) deps.events.emit('load-hint', { gpus: h.gpus, watts: h.watts, seconds: h.seconds, source: 'live' });
    else deps.events.emit('load-end', { gpus: h.gpus, source: 'live' });
  }

  function get(id: string): LiveSession {
    const s = sessions.get(id);
    if (!s) throw new NotFoundError(`no live session "${id}"`);
    return s;
  }

  return {
    metrics,

    async start(body: unknown): Promise<LiveSession> {
      const spec = Value.Default(LiveStart, Value.Clone(body));
      if (!Value.Check(LiveStart, spec)) {
        const e = Value.Errors(LiveStart, spec).First();
        throw new BadRequestError(`live session: ${e?.path || '/'} ${e?.message ?? 'is invalid'}`);
      }
      if (sessions.size + starting >= maxSessions) throw new ConflictError(`${maxSessions} live sessions are running; stop one first`);
      starting++;
      const id = randomUUID().slice(0, 8);
      try {
        if (sessions.size === 0) hint(true);
        const s = await LiveSession.start(id, spec as LiveStart, {
          networks: deps.networks,
          latents: deps.latents,
          log,
          metrics,
          ...(deps.ffmpeg ? { ffmpeg: deps.ffmpeg } : {}),
          ...(deps.audioRetryMs !== undefined ? { audioRetryMs: deps.audioRetryMs } : {}),
        });
        sessions.set(id, s);
        metrics.sessions.set(sessions.size);
        const a = (spec as LiveStart).audio;
        if (a.kind === 'file' && deps.events && deps.loadHint && deps.loadHint.gpus.length > 0) {
          void announceFileTrack({ events: deps.events, gpus: deps.loadHint.gpus, source: `live:${id}`, path: a.path, loop: a.loop ?? true, startedAtMs: performance.now(), ...(deps.ffmpeg ? { ffmpeg: deps.ffmpeg } : {}), log });
        }
        log.info({ live: id, networks: s.networkIds, fps: s.fps, audio: spec.audio }, `live session ${id} started`);
        return s;
      } catch (err) {
        if (sessions.size === 0) hint(false);
        throw err;
      } finally {
        starting--;
      }
    },

    list(): LiveView[] {
      return [...sessions.values()].map((s) => s.view());
    },

    get,

    patch(id: string, patch: LivePatch): LiveView {
      const s = get(id);
      s.patch(patch);
      return s.view();
    },

    async stop(id: string): Promise<LiveView> {
      const s = get(id);
      sessions.delete(id);
      await s.stop();
      metrics.sessions.set(sessions.size);
      // its track (music-aware cooling) ends with it
      if (deps.events && deps.loadHint && deps.loadHint.gpus.length > 0 && s.spec.audio.kind === 'file') deps.events.emit('load-end', { gpus: deps.loadHint.gpus, source: `live:${id}` });
      if (sessions.size === 0) hint(false);
      log.info({ live: id }, `live session ${id} stopped`);
      return s.view();
    },

    async stopAll(): Promise<void> {
      await Promise.all([...sessions.keys()].map((id) => this.stop(id)));
    },
  };
}

export type LiveService = ReturnType<typeof createLiveService>;
