/**
 * The factory the daemon wires: takes the `synthesis.latents` config section, a logger and the app's metrics
 * registry, and hands out per-frame latent streams for render jobs (offline) and live sessions.
 */
import type { Logger } from 'pino';
import { Counter, Histogram, type Registry } from 'prom-client';
import { liveFrames, type LiveFramesOptions, type LiveSource } from '../audio/live.ts';
import { ProjectionFileReader } from './projection/reader.ts';
import { analysisPool, type AnalysisPool } from './analysis-pool.ts';
import type { LatentsConfig } from './config.ts';
import type { LatentFrame } from './frame.ts';
import { offlineLatents, prepareOffline, type OfflineOptions, type OfflinePlan } from './offline.ts';
import { createLiveParams, type LiveParams } from './params.ts';
import { noiseLoop, streamingLatents } from './streaming.ts';

export interface LatentsServiceDeps {
  config: LatentsConfig;
  logger: Logger;
  registry: Registry;
}

export function createLatentsService({ config, logger, registry }: LatentsServiceDeps) {
  const base = config;
  const log = logger.child({ subsystem: 'latents' });
  const frames = new Counter({ name: 'gance_latents_frames_total', help: 'Latent frames produced', labelNames: ['mode', 'source'] as const, registers: [registry] });
  const prepareSeconds = new Histogram({
    name: 'gance_latents_prepare_seconds',
    help: 'Seconds per offline preparation stage (decode, resample, spectrogram, noise, ...)',
    labelNames: ['stage'] as const,
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60],
    registers: [registry],
  });
  const liveLatency = new Histogram({
    name: 'gance_latents_live_latency_seconds',
    help: 'From the arrival of an audio block to the latent of its frame (includes the look-ahead)',
    buckets: [0.005, 0.01, 0.02, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1],
    registers: [registry],
  });
  // Noise loops by what shapes them (not fps): sessions and restarts with the same networks share one.
  const noiseTables = new Map<string, Float32Array>();
  function noiseFor(c: LatentsConfig): Float32Array {
    const key = JSON.stringify([c.noise, c.streaming.noiseLoopFrames, c.vectorLength]);
    let t = noiseTables.get(key);
    if (!t) {
      if (noiseTables.size >= 4) noiseTables.delete(noiseTables.keys().next().value!);
      t = noiseLoop(c);
      noiseTables.set(key, t);
    }
    return t;
  }
  // Analysis threads, started and warmed at the first track and kept for the next ones.
  let pool: { threads: AnalysisPool; ready: Promise<void> } | null = null;
  async function analysisThreads(): Promise<AnalysisPool | null> {
    if (config.analysisThreads <= 1) return null;
    if (!pool) {
      const threads = analysisPool(config.analysisThreads);
      const started = { threads, ready: threads.ready() };
      pool = started;
      // threads that failed to start are not kept: the next track tries afresh
      started.ready.catch(() => {
        if (pool === started) pool = null;
        void threads.close();
      });
    }
    await pool.ready;
    return pool.threads;
  }

  function liveSource(): LiveSource {
    const l = config.live;
    if (l.source === 'alsa') return { kind: 'alsa', device: l.device, sampleRate: l.sampleRate, channels: l.channels };
    if (l.source === 'stdin') return { kind: 'stream', stream: process.stdin, format: l.format, sampleRate: l.sampleRate, channels: l.channels, name: 'stdin' };
    return { kind: 'socket', address: l.socket, format: l.format, sampleRate: l.sampleRate, channels: l.channels };
  }

  return {
    config,
    params(networkCount: number): LiveParams {
      return createLiveParams(config, networkCount);
    },

    /**
     * A track's offline analysis. `opts.config` replaces the service's config for this track (a
     * render's overrides merged over synthesis.latents); the analysis threads stay the service's.
     */
    async prepare(files: readonly string[], opts: Omit<OfflineOptions, 'files' | 'config'> & { config?: LatentsConfig } = {}): Promise<OfflinePlan> {
      const threads = opts.pool ? null : await analysisThreads();
      const plan = await prepareOffline({ ...opts, ...(threads ? { pool: threads } : {}), files, config: opts.config ?? config });
      for (const [stage, s] of Object.entries(plan.timings)) prepareSeconds.observe({ stage }, s);
      log.info({ files, frames: plan.frames, mode: plan.mode, timings: plan.timings }, 'audio prepared for latents');
      return plan;
    },

    /** Stops the analysis threads (the daemon's stop); a later prepare starts them again. */
    async close(): Promise<void> {
      const p = pool;
      pool = null;
      await p?.threads.close();
    },

    /** Frames `from`.. of a prepared plan (a resumed render skips the frames it has). */
    async *offline(plan: OfflinePlan, params: LiveParams, from = 0): AsyncGenerator<LatentFrame> {
      for await (const f of offlineLatents(plan, params, from)) {
        frames.inc({ mode: plan.mode, source: 'offline' });
        yield f;
      }
    },

    /**
     * Latents from live audio. `opts.config` replaces the service's config for this stream (a live
     * session's fps and its networks' latent size over synthesis.latents).
     */
    async *live(params: LiveParams, source: LiveSource = liveSource(), opts: { config?: LatentsConfig; monitor?: LiveFramesOptions['monitor']; signal?: AbortSignal } = {}): AsyncGenerator<LatentFrame> {
      const config = opts.config ?? base;
      let projection: ProjectionFileReader | undefined;
      if (config.mode === 'projection-file-blend') {
        if (!config.projectionFile) throw new Error('synthesis.latents.projectionFile is required for projection-file-blend');
        projection = await ProjectionFileReader.open(config.projectionFile, { numWs: config.numWs, ...(config.projectionNetworkMd5 ? { networkMd5: config.projectionNetworkMd5 } : {}) });
      }
      const table = projection ? undefined : noiseFor(config);
      const blocks = liveFrames(source, { fps: config.fps, samplesPerFrame: config.vectorLength, ...(opts.monitor ? { monitor: opts.monitor } : {}), ...(opts.signal ? { signal: opts.signal } : {}) });
      log.info({ source: source.kind, mode: config.mode }, 'live latents started');
      try {
        for await (const f of streamingLatents(blocks, { config, params, ...(projection ? { projection } : {}), ...(table ? { noiseTable: table } : {}) })) {
          if (f.audioReceivedAt !== undefined) liveLatency.observe(Number(process.hrtime.bigint() - f.audioReceivedAt) / 1e9);
          frames.inc({ mode: config.mode, source: 'live' });
          yield f;
        }
      } finally {
        projection?.close();
        log.info('live latents stopped');
      }
    },
  };
}

export type LatentsService = ReturnType<typeof createLatentsService>;
