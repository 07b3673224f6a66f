/**
 * One live session: audio -> latents (the latents service's live stream, at the session's fps) ->
 * frames through the pool, paced to the audio clock (pacing.ts) -> JPEG (jpeg.ts) -> the frame hub
 * its outputs read (hub.ts). Parameters change between two latents; a new network set loads in the
 * background while the previous one keeps showing. The session holds the networks it shows and the
 * set it is switching to in the network manager, as a render does: none can be unloaded under it,
 * and one loaded only for it goes once it lets go. Nothing here stops the daemon: an audio source
 * that fails is retried, a frame that fails is dropped (counted), the last good frame stays up.
 */
import { rmdirSync, statSync, unlinkSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import type { Logger } from 'pino';
import { BadRequestError, ConflictError, UnprocessableError } from '../api/errors.ts';
import type { LiveSource } from '../audio/live.ts';
import { checkLatentsConfig, type LatentsConfig } from '../latents/config.ts';
import type { LatentFrame } from '../latents/frame.ts';
import { createLiveParams, updateLiveParams, type LiveParams } from '../latents/params.ts';
import type { LatentsService } from '../latents/service.ts';
import { LATENT_WIDTH } from '../latents/projection/format.ts';
import { rgbBytes } from '../render/pixels.ts';
import { findNetwork, renderNetwork, type RenderNetwork } from '../render/resolve.ts';
import type { SynthesisWorkerInfo } from '../render/synthesis-record.ts';
import { RenderFailure } from '../render/types.ts';
import { InvalidNetworkError, SynthesisUnavailableError, UnknownNetworkError, type NetworkManager } from '../synthesis/networks/manager.ts';
import { FrameHub, type LiveFrame } from './hub.ts';
import { JpegEncoders } from './jpeg.ts';
import { BYTES_PER_SAMPLE, FfmpegOutput, MONITOR_RATE } from './record.ts';
import { LATENCY_ENDS, LATENCY_STAGES, type LatencyEnd, type LatencyStage, type LiveMetrics } from './metrics.ts';
import { DROP_CAUSES, Pacer, RateMeter, RecentWindow, type DropCause } from './pacing.ts';
import { Framer, type Rect } from './compose.ts';
import { LiveSynthesis } from './synthesis.ts';
import { isUrl } from './targets.ts';
import { framingProblem, patchProblem, pushFormat, type Framing, type LiveAudio, type LivePatch, type LiveStart } from './spec.ts';

export interface SessionDeps {
  networks: NetworkManager;
  latents: LatentsService;
  log: Logger;
  metrics: LiveMetrics;
  ffmpeg?: string;
  /** wait before reopening an audio source that failed mid-session */
  audioRetryMs?: number;
  /** wait before reopening a camera that failed */
  cameraRetryMs?: number;
  /** how long a start waits for the first latent before answering with the session still starting */
  startTimeoutMs?: number;
  /**
   * The daemon's: the audio as the client named it and its messages in the client's terms (the
   * spec holds the real paths under the daemon's roots, which are none of a client's business).
   */
  publicView?: { audio: LiveAudio; text: (message: string) => string };
  /**
   * makes the folders of the file outputs (the daemon's, under its output root) once the start's
   * checks have passed; returns the folders it made, outermost first (a failed start removes them)
   */
  makeOutputFolders?: () => string[];
}

export type SessionState = 'starting' | 'running' | 'audio-lost' | 'ended' | 'failed' | 'stopped';

interface NetworkSet {
  networks: RenderNetwork[];
  psi: number[];
}

interface Item {
  seq: number;
  latent: LatentFrame;
  set: NetworkSet;
  audioAt: bigint;
  latentAt: bigint;
  /** the music's time on the session's timeline (LiveFrame.at) */
  at: number;
}

const PATCH_PARAMS = ['alpha', 'blendDepth', 'amplitudeRange', 'pulse', 'motion', 'chroma'] as const;
/** the encoder may hold this many pictures before new frames are dropped (cause "encode") */
const ENCODE_BACKLOG = 2;

/** A file's identity and content stamp, or null when there is none. */
function fileIdentity(path: string): string | null {
  try {
    const st = statSync(path);
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch {
    return null;
  }
}

/**
 * After a failed start: the files its outputs began (one that was there before and is untouched
 * stays: its content is not this start's) and the folders the start made, innermost first, when
 * they are empty again.
 */
function removePartialOutputs(before: ReadonlyMap<string, string | null>, folders: readonly string[], log: Logger): void {
  for (const [path, was] of before) {
    const now = fileIdentity(path);
    if (now === null || now === was) continue;
    try {
      unlinkSync(path);
      log.info({ path }, 'failed live start: removed the output file it began');
    } catch (err) {
      log.warn({ path, err: message(err) }, 'failed live start: cannot remove the output file it began');
    }
  }
  for (const dir of [...folders].reverse()) {
    try {
      rmdirSync(dir);
    } catch {
      // not empty: something else is in it, so it is not only this start's to remove
    }
  }
}

const msBetween = (from: bigint, to: bigint) => Number(to - from) / 1e6;
const now = () => process.hrtime.bigint();

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class LiveSession {
  readonly hub = new FrameHub();
  readonly params: LiveParams;
  readonly startedAt = new Date();
  /** WebSocket connections, subscribed to frames or not: the session's client limit counts them all */
  controls = 0;
  private state: SessionState = 'starting';
  private error: string | null = null;
  private set: NetworkSet;
  private pending: { ids: string[]; token: object } | null = null;
  /** the networks this session holds in the manager: its set and the pending one */
  private readonly held: Set<string>;
  /** releases still under way (a network loaded for the session being unloaded) */
  private readonly releasing = new Set<Promise<void>>();
  private latentsConfig: LatentsConfig;
  private readonly pacer: Pacer<Item>;
  private readonly encoders: JpegEncoders;
  /** the canvas the picture is placed on, or null for the picture as it is */
  private framer: Framer | null = null;
  private readonly stop$ = new AbortController();
  private restart$ = new AbortController();
  private push: PassThrough | null = null;
  private seq = 0;
  private shown = 0;
  private readonly dropped = Object.fromEntries(DROP_CAUSES.map((c) => [c, 0])) as Record<DropCause, number>;
  private readonly windows = Object.fromEntries([...LATENCY_STAGES, ...LATENCY_ENDS].map((k) => [k, new RecentWindow(4096)])) as Record<LatencyStage | LatencyEnd, RecentWindow>;
  private readonly rate = new RateMeter();
  /** audio times of recent frames, for the page's paint reports */
  private readonly recent = new Map<number, bigint>();
  private readonly log: Logger;
  private loop: Promise<void> | null = null;
  /** the latest audio stream's end (its ffmpeg gone) */
  private audioClosed: Promise<void> = Promise.resolve();
  private readonly inSynthesis = new Set<Promise<void>>();
  private readonly synthesis: LiveSynthesis;
  private readonly recorders: FfmpegOutput[] = [];
  private latencyCache: { at: number; value: ReturnType<LiveSession['latencyNow']> } | null = null;
  private firstLatent!: { resolve: () => void; reject: (e: unknown) => void };
  /** the session's timeline: monitor samples passed to the outputs, and where the current audio stream began on it */
  private timeline = { samples: 0, generation: 0, streamStart: 0, streamFps: 1 };

  private constructor(
    readonly id: string,
    readonly spec: LiveStart,
    private readonly deps: SessionDeps,
    set: NetworkSet,
  ) {
    this.log = deps.log.child({ live: id });
    this.set = set;
    this.synthesis = new LiveSynthesis(set.networks, this.log);
    this.held = new Set(set.networks.map((n) => n.id));
    this.params = createLiveParams(deps.latents.config, set.networks.length);
    updateLiveParams(this.params, pick(spec));
    if (spec.networkOverride !== undefined) this.params.networkOverride = spec.networkOverride;
    this.latentsConfig = this.configFor(spec.fps, set);
    this.pacer = new Pacer<Item>(spec.maxInFlight, (item) => this.synthesize(item), (cause) => this.drop(cause));
    this.encoders = new JpegEncoders(spec.jpegQuality, deps.ffmpeg);
    if (spec.framing) this.framer = this.makeFramer(spec.framing);
    this.warmEncoders(set);
    for (const o of spec.outputs ?? []) {
      const size = spec.framing ?? set.networks[0]!;
      const r = new FfmpegOutput(o.target, { width: size.width, height: size.height }, spec.fps, () => deps.metrics.clientDropped.inc({ output: 'ffmpeg' }), deps.ffmpeg);
      this.recorders.push(r);
      this.hub.add(r);
      // an output that fails (a URL nobody listens on, a full disk) is said, the session goes on
      void r.exited.then(({ error }) => {
        this.hub.remove(r);
        if (error && !this.stop$.signal.aborted) {
          this.error = `output ${o.target}: ${error}`;
          this.log.warn(this.error);
        }
      });
    }
  }

  /** ffmpeg takes a while to start on a loaded machine: start the encoders before their first frame. */
  private warmEncoders(set: NetworkSet): void {
    if (this.framer) this.encoders.get(this.framer.width, this.framer.height);
    else for (const n of set.networks) this.encoders.get(n.width, n.height);
  }

  private makeFramer(f: Framing): Framer {
    return new Framer(
      f,
      this.spec.fps,
      {
        cameraError: (m) => {
          this.error = `${m}; showing the canvas colour, trying again`;
          this.log.warn(this.error);
        },
        cameraRunning: () => {
          if (this.error?.startsWith('camera ')) this.error = null;
        },
      },
      this.deps.ffmpeg,
      this.deps.cameraRetryMs,
    );
  }

  /** A framing change: on the same canvas the picture glides to its new place; a new canvas restarts the encoders. */
  private reframe(f: Framing | null): void {
    if (f && this.framer?.fits(f)) return this.framer.update(f);
    this.framer?.close();
    this.framer = f ? this.makeFramer(f) : null;
    this.encoders.close();
    this.warmEncoders(this.set);
  }

  /**
   * Resolves the networks, waits for them to load, starts the audio, and resolves once the first
   * latent is made (so a missing device or an unreadable file is the start's error, not a black screen).
   */
  static async start(id: string, spec: LiveStart, deps: SessionDeps): Promise<LiveSession> {
    const set = resolveSet(deps.networks, spec.networks, spec.projectionFile);
    if (spec.networkOverride != null && spec.networkOverride >= set.networks.length) throw new BadRequestError(`networkOverride ${spec.networkOverride} is not below the ${set.networks.length} networks of the set`);
    const framing = framingProblem(spec.framing);
    if (framing) throw new BadRequestError(framing);
    await loadSet(deps.networks, holderOf(id), set);
    // what was at the file outputs' paths before this start's ffmpeg could write there
    const files = (spec.outputs ?? []).map((o) => o.target).filter((t) => !isUrl(t));
    const before = new Map(files.map((f) => [f, fileIdentity(f)]));
    // only now: a start refused above leaves no folder behind under the output root
    const folders = deps.makeOutputFolders?.() ?? [];
    let s: LiveSession;
    try {
      s = new LiveSession(id, spec, deps, set);
    } catch (err) {
      removePartialOutputs(before, folders, deps.log);
      throw err;
    }
    const first = new Promise<void>((resolve, reject) => (s.firstLatent = { resolve, reject }));
    s.loop = s.run();
    // pushed audio comes only once a client has the session's id: nothing to wait for
    if (spec.audio.kind === 'push') {
      first.catch(() => {});
      return s;
    }
    // a source that neither fails nor sends (a FIFO nobody writes to, a capture device that hangs)
    // fails the start: left starting it would hold a session slot and its ffmpeg for ever
    const limit = deps.startTimeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    const bounded = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), limit)));
    try {
      const r = await Promise.race([first.then(() => 'started' as const), bounded]);
      if (r === 'late') throw new UnprocessableError(`live audio (${describe(spec.audio)}): no audio within ${limit / 1000} s (a FIFO nobody writes to, a capture device that hangs?)`);
    } catch (err) {
      first.catch(() => {});
      await s.stop();
      // a failed start leaves nothing that claims to be a recording (its outputs have exited here)
      removePartialOutputs(before, folders, deps.log);
      throw err;
    } finally {
      clearTimeout(timer);
    }
    return s;
  }

  /** aborts when the session stops (its outputs close) */
  get stopped(): AbortSignal {
    return this.stop$.signal;
  }

  get fps(): number {
    return this.latentsConfig.fps;
  }

  get networkIds(): string[] {
    return this.set.networks.map((n) => n.id);
  }

  /** Applies a patch; a bad one changes nothing. Network sets load in the background (see `view().pendingNetworks`). */
  patch(patch: LivePatch): void {
    const problem = patchProblem(patch);
    if (problem) throw new BadRequestError(`live patch: ${problem}`);
    if (this.state === 'stopped') throw new ConflictError(`live session ${this.id} is stopped`);
    const next = patch.networks ? resolveSet(this.deps.networks, patch.networks, this.spec.projectionFile) : null;
    const count = (next ?? this.set).networks.length;
    if (patch.networkOverride != null && patch.networkOverride >= count) throw new BadRequestError(`networkOverride ${patch.networkOverride} is not below the ${count} networks of the set`);
    const framing = framingProblem(patch.framing);
    if (framing) throw new BadRequestError(framing);
    updateLiveParams(this.params, pick(patch));
    // an override for the set that is loading applies when that set takes over
    if (patch.networkOverride !== undefined && !next) this.params.networkOverride = patch.networkOverride;
    if (patch.fps !== undefined && patch.fps !== this.fps) {
      this.latentsConfig = this.configFor(patch.fps, this.set);
      this.restartAnalysis();
    }
    if (patch.framing !== undefined) this.reframe(patch.framing);
    if (next) this.switchTo(next, patch.networkOverride);
  }

  /** Raw PCM from the session's WebSocket (audio kind "push"). */
  pushAudio(chunk: Buffer): void {
    if (this.spec.audio.kind !== 'push') throw new BadRequestError(`live session ${this.id} takes its audio from ${this.spec.audio.kind}, not from the WebSocket`);
    const p = this.push;
    // a stalled analysis must not grow memory without bound: past a second of audio, chunks are let go
    const f = pushFormat(this.spec.audio);
    const perSecond = (f.format === 's16le' ? 2 : 4) * f.sampleRate * f.channels;
    // between sources (a failed analysis, an fps restart, an ended session) the stream is ended:
    // a write there emitted an error nobody listens for, and that took the daemon down
    if (p && !p.writableEnded && !p.destroyed && p.writableLength < perSecond) p.write(chunk);
  }

  /** Starts the latency windows afresh (a benchmark leaves out its warm-up). */
  clearLatency(): void {
    for (const w of Object.values(this.windows)) w.clear();
    this.latencyCache = null;
  }

  /** A projector page painted frame `seq` (its report's arrival is the paint time). */
  reportPaint(seq: number): void {
    const at = this.recent.get(seq);
    if (at !== undefined) this.observeEnd('paint', msBetween(at, now()));
  }

  /** An MJPEG client's socket took a frame. */
  reportWrite(frame: LiveFrame): void {
    this.observeEnd('mjpeg', msBetween(frame.audioAt, now()));
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.setState('stopped');
    this.stop$.abort();
    this.restart$.abort();
    this.push?.end();
    this.hub.closeAll();
    // the camera too: left open, its ffmpeg went on reading (the device held) until the daemon was gone
    const closing = Promise.all([this.encoders.close(), this.framer?.close()]);
    this.deps.metrics.fps.remove({ session: this.id });
    // the loop ends at once; the abort kills the audio source's ffmpeg (SIGKILL if SIGTERM is not
    // enough), so a source that sends nothing is gone too (bounded, should a source not end)
    await this.loop;
    let audioTimer: NodeJS.Timeout | undefined;
    await Promise.race([this.audioClosed, new Promise((r) => (audioTimer = setTimeout(r, 5_000)))]);
    clearTimeout(audioTimer);
    // frames in synthesis finish (a frame takes milliseconds to a second; bounded for a stuck worker)
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.inSynthesis]), new Promise((r) => (timer = setTimeout(r, 10_000)))]);
    clearTimeout(timer);
    // the encoders' and the camera's ffmpegs are gone (SIGKILL follows SIGTERM; bounded, should one hang in the kernel)
    let closeTimer: NodeJS.Timeout | undefined;
    await Promise.race([closing, new Promise((r) => (closeTimer = setTimeout(r, 5_000)))]);
    clearTimeout(closeTimer);
    // the outputs finish their files
    const ends = await Promise.all(this.recorders.map((r) => r.exited));
    const failed = ends.map((e, i) => (e.error ? `output ${this.recorders[i]!.target}: ${e.error}` : null)).filter((e) => e !== null);
    // said: at a daemon's stop nobody reads the view, and a recording cut short would pass unnoticed
    for (const f of failed) this.log.warn(`live session stopped: ${f}`);
    if (failed.length > 0) this.error = failed[0]!;
    // no frame needs the networks now: a network loaded only for this session goes
    this.pending = null;
    this.letGo();
    await Promise.all([...this.releasing]);
  }

  /** Lets go of every held network that is neither showing nor pending. */
  private letGo(): void {
    const keep = this.stop$.signal.aborted ? new Set<string>() : new Set([...this.networkIds, ...(this.pending?.ids ?? [])]);
    for (const id of [...this.held]) {
      if (keep.has(id)) continue;
      this.held.delete(id);
      const p = this.deps.networks.release(id, holderOf(this.id));
      this.releasing.add(p);
      void p.finally(() => this.releasing.delete(p));
    }
  }

  view() {
    const t = performance.now();
    // sorting the windows costs; every WebSocket asks each second and a page may poll: share one computation
    if (!this.latencyCache || t - this.latencyCache.at > 250) this.latencyCache = { at: t, value: this.latencyNow() };
    return {
      id: this.id,
      state: this.state,
      error: this.error !== null && this.deps.publicView ? this.deps.publicView.text(this.error) : this.error,
      audio: this.deps.publicView?.audio ?? this.spec.audio,
      fps: this.fps,
      measuredFps: Math.round(this.rate.rate(t) * 10) / 10,
      networks: this.networkIds,
      pendingNetworks: this.pending?.ids ?? null,
      params: { alpha: this.params.alpha, blendDepth: this.params.blendDepth, amplitudeRange: this.params.amplitudeRange, networkOverride: this.params.networkOverride, pulse: this.params.pulse, motion: this.params.motion, chroma: this.params.chroma },
      frames: { started: this.seq, shown: this.shown, latest: this.hub.latest?.seq ?? null, dropped: { ...this.dropped } },
      latencyMs: this.latencyCache.value,
      framing: this.framer?.framing ?? null,
      clients: this.clientCounts(),
      synthesis: this.synthesis.view(this.deps.networks.pool, this.set.networks),
      startedAt: this.startedAt.toISOString(),
    };
  }

  /** The workers serving the session as it starts, for its start line (later changes are logged as frames show them). */
  synthesisAtStart(): SynthesisWorkerInfo[] {
    return this.synthesis.starting(this.deps.networks.pool, this.set.networks);
  }

  /**
   * Who is connected, by kind: every WebSocket counts (a control page that never subscribes holds a
   * maxClients place as a projector does), so `connected` is what maxClients bounds.
   */
  clientCounts() {
    const mjpeg = this.hub.count('mjpeg');
    return { mjpeg, ws: this.controls, wsSubscribed: this.hub.count('ws'), connected: mjpeg + this.controls, maxClients: this.spec.maxClients, ffmpeg: this.hub.count('ffmpeg') };
  }

  private latencyNow(): Record<LatencyStage | LatencyEnd, { p50: number | null; p99: number | null; count: number }> {
    const r = (v: number | null) => (v === null ? null : Math.round(v * 10) / 10);
    const lat = (k: LatencyStage | LatencyEnd) => {
      const w = this.windows[k];
      return { p50: r(w.quantile(0.5)), p99: r(w.quantile(0.99)), count: w.count };
    };
    return Object.fromEntries([...LATENCY_STAGES, ...LATENCY_ENDS].map((k) => [k, lat(k)])) as Record<LatencyStage | LatencyEnd, { p50: number | null; p99: number | null; count: number }>;
  }

  private configFor(fps: number, set: NetworkSet): LatentsConfig {
    const c = structuredClone(this.deps.latents.config);
    c.fps = fps;
    if (this.spec.projectionFile !== undefined) {
      // w networks: the projection file's w latents blended with the audio, as a render does
      c.mode = 'projection-file-blend';
      c.projectionFile = this.spec.projectionFile;
      c.numWs = set.networks[0]!.sidecar.numWs;
      c.vectorLength = LATENT_WIDTH;
      // the configured depth may be deeper than a small network's rows (the blend clamps it per frame too)
      c.blendDepth = Math.min(c.blendDepth, c.numWs);
    } else {
      c.mode = 'noise-blend';
      // GANce: the latent length is the network's input length, and the audio samples per frame
      c.vectorLength = set.networks[0]!.sidecar.zDim;
    }
    if (this.spec.lookaheadFrames !== undefined) c.streaming.lookaheadFrames = this.spec.lookaheadFrames;
    const issues = checkLatentsConfig(c, (n) => `latents.${String(n)}`);
    if (issues.length > 0) throw new UnprocessableError(`live latents: ${issues.join('; ')}`);
    return c;
  }

  private source(audio: LiveAudio): LiveSource {
    switch (audio.kind) {
      case 'file':
        return { kind: 'file', path: audio.path, loop: audio.loop ?? true };
      case 'alsa':
        return { kind: 'alsa', device: audio.device, ...(audio.sampleRate ? { sampleRate: audio.sampleRate } : {}), ...(audio.channels ? { channels: audio.channels } : {}) };
      case 'push':
        this.push = new PassThrough();
        // the analysis reports what went wrong with the audio; an error event left unheard would end the daemon
        this.push.on('error', (err) => this.log.warn({ err: message(err) }, `pushed audio: ${message(err)}`));
        return { kind: 'stream', stream: this.push, ...pushFormat(audio), name: `live ${this.id} websocket` };
    }
  }

  /**
   * While the session runs (audio lost and retried included) it holds the pool, so a render on the
   * same workers keeps one batch in each at a time and a frame of this session waits for at most that
   * one (see SynthesisPool.holdLive); from the start, so the render's second batches have drained
   * by the first frame.
   */
  private async run(): Promise<void> {
    const release = this.deps.networks.pool?.holdLive();
    try {
      await this.runAudio();
    } finally {
      release?.();
    }
  }

  private async runAudio(): Promise<void> {
    let started = false;
    while (!this.stop$.signal.aborted) {
      const restart = this.restart$.signal;
      const monitor = this.startTimeline();
      const signal = AbortSignal.any([restart, this.stop$.signal]);
      const latents = this.deps.latents.live(this.params, this.source(this.spec.audio), { config: this.latentsConfig, signal, ...(monitor ? { monitor } : {}) });
      try {
        for (;;) {
          const next = await untilAborted(latents.next(), AbortSignal.any([restart, this.stop$.signal]));
          if (next === null || next.done) break;
          if (!started) {
            started = true;
            this.setState('running');
            this.firstLatent.resolve();
          } else if (this.state === 'audio-lost') {
            this.setState('running');
            this.error = null;
          }
          this.onLatent(next.value);
        }
        if (this.stop$.signal.aborted) break;
        if (restart.aborted) continue;
        this.log.info('live audio ended');
        this.setState('ended');
        break;
      } catch (err) {
        if (this.stop$.signal.aborted) break;
        if (restart.aborted) continue;
        this.error = `audio: ${message(err)}`;
        if (!started) {
          this.setState('failed');
          this.firstLatent.reject(new UnprocessableError(`live audio (${describe(this.spec.audio)}): ${message(err)}`));
          return;
        }
        // the projector keeps the last frame; the source is tried again (a replugged card comes back)
        this.log.warn({ err: message(err) }, `live audio failed, retrying: ${message(err)}`);
        this.setState('audio-lost');
        await untilAborted(new Promise((r) => setTimeout(r, this.deps.audioRetryMs ?? 1000).unref()), this.stop$.signal);
      } finally {
        this.push?.end();
        this.audioClosed = latents.return(undefined).then(
          () => undefined,
          () => undefined,
        );
      }
    }
    if (!started) this.firstLatent.reject(new ConflictError(`live session ${this.id} stopped before its audio started`));
  }

  /**
   * A new audio stream starts where the timeline stands: its frame k is at start + k / fps. The
   * stream's monitor PCM goes to the outputs (whole samples only; a stream replaced is not heard).
   */
  private startTimeline(): { sampleRate: number; onPcm(chunk: Buffer): void } | undefined {
    const t = this.timeline;
    const generation = ++t.generation;
    t.streamStart = t.samples / MONITOR_RATE;
    t.streamFps = this.latentsConfig.fps;
    if (this.recorders.length === 0) return undefined;
    let rest: Buffer = Buffer.alloc(0);
    return {
      sampleRate: MONITOR_RATE,
      onPcm: (chunk) => {
        if (generation !== t.generation) return;
        const all = rest.length ? Buffer.concat([rest, chunk]) : chunk;
        const whole = all.length - (all.length % BYTES_PER_SAMPLE);
        rest = Buffer.from(all.subarray(whole));
        if (whole === 0) return;
        const pcm = all.subarray(0, whole);
        t.samples += whole / BYTES_PER_SAMPLE;
        for (const r of this.recorders) r.audio(pcm);
      },
    };
  }

  private restartAnalysis(): void {
    this.restart$.abort();
    this.restart$ = new AbortController();
    this.pacer.clearWaiting();
  }

  private onLatent(latent: LatentFrame): void {
    const latentAt = now();
    const audioAt = latent.audioReceivedAt ?? latentAt;
    this.observeStage('latents', msBetween(audioAt, latentAt));
    const at = this.timeline.streamStart + latent.index / this.timeline.streamFps;
    this.pacer.offer({ seq: this.seq++, latent, set: this.set, audioAt, latentAt, at });
  }

  private synthesize(item: Item): void {
    const { latent } = item;
    // a latent that waited through a switch is drawn by the set that took over: the set it was made
    // for was let go (a latent of another size would have been dropped by the analysis restart)
    const set = item.set === this.set ? item.set : this.set;
    const i = latent.network < set.networks.length ? latent.network : latent.network % set.networks.length;
    const net = set.networks[i]!;
    const pool = this.deps.networks.pool;
    const input = net.kind === 'w' ? latent.w : latent.z;
    if (!pool || !input) {
      this.error = pool ? `frame ${item.seq}: no ${net.kind} latent` : 'synthesis workers are not running';
      this.drop('synthesis');
      this.pacer.finished();
      return;
    }
    const feeds: Record<string, Float32Array> = { [net.latentInput]: input };
    if (net.psiInput) feeds[net.psiInput] = Float32Array.of(set.psi[i]!);
    const submittedAt = now();
    this.observeStage('queue', msBetween(item.latentAt, submittedAt));
    // no abort signal: an aborted frame would go on running in its worker, and a pool closed just
    // after (the daemon's stop) would terminate that worker mid-inference; stop() waits for it instead
    // live: ahead of a render's queued frames on the same workers
    const running = pool.submit({ feeds, network: net.id, live: true }).then(
      (frame) => {
        const doneAt = now();
        this.pacer.finished();
        // stopped meanwhile: encoders.get would start an encoder nobody closes (its ffmpeg would keep the process up)
        if (this.stop$.signal.aborted) return;
        this.synthesis.frame(frame);
        this.observeStage('synthesis', msBetween(submittedAt, doneAt));
        let rgb: Uint8Array;
        try {
          rgb = rgbBytes(frame, net, item.seq);
        } catch (err) {
          this.frameFailed(err);
          return;
        }
        const framer = this.framer;
        const encoder = this.encoders.get(framer?.width ?? net.width, framer?.height ?? net.height);
        if (encoder.pending >= ENCODE_BACKLOG) return this.drop('encode');
        let placement: Rect | null = null;
        if (framer) ({ rgb, placement } = framer.compose(rgb, net.width, net.height, item.at));
        encoder.encode(rgb).then(
          (jpeg) => this.publish(item, net, jpeg, doneAt, encoder.width, encoder.height, placement),
          (err: unknown) => {
            if (this.stop$.signal.aborted) return;
            // an encoder closed for new framing is no fault; its pending pictures are just dropped
            if (!encoder.closedOnPurpose) this.error = `JPEG: ${message(err)}`;
            this.drop('encode');
          },
        );
      },
      (err: unknown) => {
        this.pacer.finished();
        if (!this.stop$.signal.aborted) this.frameFailed(err);
      },
    );
    this.inSynthesis.add(running);
    void running.finally(() => this.inSynthesis.delete(running));
  }

  private frameFailed(err: unknown): void {
    const m = err instanceof RenderFailure ? err.message : `synthesis: ${message(err)}`;
    if (this.error !== m) this.log.warn({ err: m }, `live frame failed: ${m}`);
    this.error = m;
    this.drop('synthesis');
  }

  private publish(item: Item, net: RenderNetwork, jpeg: Buffer, doneAt: bigint, width: number, height: number, placement: Rect | null): void {
    if (this.stop$.signal.aborted || !this.pacer.admit(item.seq)) return;
    const at = now();
    this.observeStage('encode', msBetween(doneAt, at));
    this.observeEnd('publish', msBetween(item.audioAt, at));
    this.recent.set(item.seq, item.audioAt);
    if (this.recent.size > 256) this.recent.delete(this.recent.keys().next().value!);
    this.shown++;
    const t = performance.now();
    this.rate.tick(t);
    this.deps.metrics.frames.inc();
    this.deps.metrics.fps.set({ session: this.id }, this.rate.rate(t));
    this.hub.publish({ seq: item.seq, network: net.id, width, height, jpeg, audioAt: item.audioAt, at: item.at, placement, publishedAt: t });
  }

  private switchTo(next: NetworkSet, override: number | null | undefined): void {
    const token = {};
    const ids = next.networks.map((n) => n.id);
    acquireAll(this.deps.networks, holderOf(this.id), ids, this.held);
    this.synthesis.addNetworks(next.networks);
    this.pending = { ids, token };
    // a set still loading that this one replaces is let go
    this.letGo();
    this.warmEncoders(next);
    this.log.info({ networks: ids }, `live networks ${ids.join(', ')} loading; ${this.networkIds.join(', ')} showing meanwhile`);
    void (async () => {
      for (const n of next.networks) await this.deps.networks.settled(n.id);
      if (this.pending?.token !== token || this.stop$.signal.aborted) return; // superseded or stopped
      this.pending = null;
      const pool = this.deps.networks.pool;
      const missing = next.networks.filter((n) => !pool?.isLoaded(n.id));
      if (missing.length > 0) {
        const why = missing.map((n) => `"${n.id}": ${this.deps.networks.list().networks.find((v) => v.id === n.id)?.error ?? 'not loaded'}`).join('; ');
        this.error = `networks ${ids.join(', ')} could not be loaded (${why}); keeping ${this.networkIds.join(', ')}`;
        this.log.warn(this.error);
        this.letGo();
        return;
      }
      const size = next.networks[0]!.kind === 'w' ? next.networks[0]!.sidecar.numWs : next.networks[0]!.sidecar.zDim;
      this.set = next;
      // the set it replaces is let go: frames already submitted with it finish first (the pool's unload waits for them)
      this.letGo();
      this.params.networkCount = next.networks.length;
      if (override !== undefined) this.params.networkOverride = override;
      else if (this.params.networkOverride !== null && this.params.networkOverride >= next.networks.length) this.params.networkOverride = null;
      if (size !== (this.spec.projectionFile !== undefined ? this.latentsConfig.numWs : this.latentsConfig.vectorLength)) {
        this.latentsConfig = this.configFor(this.fps, next);
        this.restartAnalysis();
      }
      this.error = null;
      this.log.info({ networks: ids }, `live networks ${ids.join(', ')} showing`);
    })();
  }

  private drop(cause: DropCause): void {
    this.dropped[cause]++;
    this.deps.metrics.dropped.inc({ cause });
  }

  private observeStage(stage: LatencyStage, ms: number): void {
    this.windows[stage].add(ms);
    this.deps.metrics.stage.observe({ stage }, ms / 1000);
  }

  private observeEnd(to: LatencyEnd, ms: number): void {
    this.windows[to].add(ms);
    this.deps.metrics.latency.observe({ to }, ms / 1000);
  }

  private setState(s: SessionState): void {
    if (this.state === 'stopped') return;
    this.state = s;
  }
}

function pick(p: Partial<LivePatch>): Partial<LiveParams> {
  const out: Record<string, unknown> = {};
  for (const k of PATCH_PARAMS) if (p[k] !== undefined) out[k] = p[k];
  return out as Partial<LiveParams>;
}

function describe(audio: LiveAudio): string {
  return audio.kind === 'file' ? `file ${audio.path}` : audio.kind === 'alsa' ? `ALSA device ${audio.device}` : 'pushed PCM';
}

/** The next value, or null once the signal aborts (the generator is left to finish on its own). */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T | null> {
  if (signal.aborted) {
    p.catch(() => {});
    return Promise.resolve(null);
  }
  return new Promise<T | null>((resolve, reject) => {
    const onAbort = () => {
      p.catch(() => {});
      resolve(null);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/**
 * The catalogue's networks as the render resolves them: z networks of one latent size (noise
 * blend), or with a projection file w networks of one w shape (projection blend).
 */
function resolveSet(manager: NetworkManager, ids: string[], projectionFile?: string): NetworkSet {
  const networks = ids.map((ref) => {
    try {
      return renderNetwork(ref, findNetwork(manager.catalogue, ref));
    } catch (err) {
      if (err instanceof RenderFailure) throw new UnprocessableError(err.message);
      throw err;
    }
  });
  if (projectionFile !== undefined) {
    const z = networks.find((n) => n.kind !== 'w');
    if (z) throw new UnprocessableError(`network "${z.id}" takes z (input "${z.latentInput}"); a projection blend (projectionFile) makes w latents: use networks with a w input, or no projectionFile`);
    const first = networks[0]!;
    const odd = networks.find((n) => n.sidecar.wDim !== LATENT_WIDTH || n.sidecar.numWs !== first.sidecar.numWs);
    if (odd) throw new UnprocessableError(`network "${odd.id}" takes w [${odd.sidecar.numWs}, ${odd.sidecar.wDim}]; projection latents are ${LATENT_WIDTH} wide and one set shares numWs (${first.sidecar.numWs})`);
    return { networks, psi: networks.map((n) => n.sidecar.truncationPsi) };
  }
  const w = networks.find((n) => n.kind !== 'z');
  if (w) throw new UnprocessableError(`network "${w.id}" takes w rows; give projectionFile (a GANce projection file whose w latents the audio blends) or use a network with a z input`);
  const other = networks.find((n) => n.sidecar.zDim !== networks[0]!.sidecar.zDim);
  if (other) throw new UnprocessableError(`networks: "${other.id}" takes z of ${other.sidecar.zDim}, "${networks[0]!.id}" of ${networks[0]!.sidecar.zDim}; one set shares one latent size`);
  return { networks, psi: networks.map((n) => n.sidecar.truncationPsi) };
}

/** how a session holds networks in the manager: the name a refused unload shows */
function holderOf(id: string): string {
  return `live session ${id}`;
}

/**
 * Holds `ids` for `holder` (loading those not there), adding them to `held`. On an error none of
 * the networks this call took up stays held, and the error is the API's.
 */
function acquireAll(manager: NetworkManager, holder: string, ids: string[], held: Set<string>): void {
  const taken: string[] = [];
  for (const id of ids) {
    if (held.has(id)) continue;
    try {
      manager.acquire(id, holder);
    } catch (err) {
      for (const t of taken) {
        held.delete(t);
        void manager.release(t, holder);
      }
      if (err instanceof UnknownNetworkError || err instanceof InvalidNetworkError) throw new UnprocessableError(`network "${id}": ${err.message}`);
      if (err instanceof SynthesisUnavailableError) throw new ConflictError(`network "${id}": ${err.message}`);
      throw err;
    }
    held.add(id);
    taken.push(id);
  }
}

/** Holds a session's first set until it is loaded; a set that cannot be is let go again. */
async function loadSet(manager: NetworkManager, holder: string, set: NetworkSet): Promise<void> {
  const held = new Set<string>();
  acquireAll(manager, holder, set.networks.map((n) => n.id), held);
  try {
    for (const n of set.networks) await manager.settled(n.id);
    for (const n of set.networks) {
      if (!manager.pool?.isLoaded(n.id)) {
        const why = manager.list().networks.find((v) => v.id === n.id)?.error ?? 'it is not loaded';
        throw new UnprocessableError(`network "${n.id}" could not be loaded: ${why}`);
      }
    }
  } catch (err) {
    for (const id of held) await manager.release(id, holder);
    throw err;
  }
}
