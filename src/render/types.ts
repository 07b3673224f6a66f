/**
 * The contract between the render pipeline (`run.ts`: one render, resumable) and whoever runs it
 * (`gance render` in-process, the daemon's job queue). Data flows one way: spec + deps in, progress
 * events out, a result or a `RenderFailure` at the end.
 */
import type { Logger } from 'pino';
import type { LatentsService } from '../latents/service.ts';
import type { NetworkManager } from '../synthesis/networks/manager.ts';
import type { RenderSpec } from './spec.ts';
import type { SynthesisRecord, SynthesisWorkerInfo } from './synthesis-record.ts';

/** debug: drawing the debug video after the output is muxed (frames count again from 0) */
export type RenderStage = 'queued' | 'analysing' | 'rendering' | 'encoding' | 'muxing' | 'debug' | 'done';

export interface RenderProgress {
  stage: RenderStage;
  framesDone: number;
  /** known once the audio is analysed */
  framesTotal: number | null;
  /** recent frames per second */
  fps: number | null;
  etaSeconds: number | null;
}

export interface RenderDeps {
  networks: NetworkManager;
  latents: LatentsService;
  log: Logger;
  /** ffmpeg binary (default: `ffmpeg` on PATH) */
  ffmpeg?: string;
}

export interface RenderRunOptions {
  /**
   * The render's own folder: finished segments, the analysis cache, the run config. Running the
   * same spec with the same workDir again continues after the last complete segment.
   */
  workDir: string;
  signal?: AbortSignal;
  onProgress?: (p: RenderProgress) => void;
  /** pause/slow hook (thermal): awaited before each frame is submitted */
  throttle?: () => Promise<void>;
  /** frames per segment, the resume granularity (config render.segmentFrames; default 240) */
  segmentFrames?: number;
  /**
   * the track's loudness once analysed: per second at the listener, dBA, loudest second 95
   * (src/thermal/music/loudness.ts), for music-aware cooling; `fps` turns frames into track seconds
   */
  onLoudness?: (track: { levelsDba: number[]; fps: number }) => void;
  /** segments encoded at once (config render.encodeParallel; default: one per 4 CPU cores, see encodeParallel()) */
  encodeParallel?: number;
  /** frames in synthesis ahead of the encoders (config render.framesAhead; default FRAMES_AHEAD_PER_SEGMENT per segment encoding at once) */
  framesAhead?: number;
  /** frames waiting per encoder for its pipe (config render.encodeQueueFrames; default DEFAULT_ENCODE_QUEUE_FRAMES), see segment-writer.ts */
  encodeQueueFrames?: number;
  /**
   * replace a file already at the output, debug or run config path when the render puts its own
   * there (gance render --force). Without it a file that appeared there while the render ran is
   * left alone and the render fails naming it, its finished output kept under another name.
   */
  replace?: boolean;
  /**
   * the workers that render it and on what (provider after any fallback, adapter, precision,
   * binding), once its networks are loaded and before the first frame
   */
  onSynthesis?: (workers: SynthesisWorkerInfo[]) => void;
}

export interface RenderResult {
  /** the finished output (mp4 file or png folder), renamed into place */
  output: string;
  runConfig: string;
  /** the debug video, when the spec asked for one */
  debugOutput?: string;
  frames: number;
  fps: number;
  seconds: number;
  /** frames taken from complete segments of an earlier run in the same workDir (0: rendered afresh) */
  resumedFrames: number;
  /** what synthesized the frames (the run config's `synthesis`) */
  synthesis?: SynthesisRecord;
}

/** Why a render failed, as a stable code for metrics (`reason` label) and API clients. */
export type RenderFailureReason =
  | 'bad-input' // unreadable/silent audio, unknown network, projection that does not fit, sizes
  | 'no-space' // the disk filled (checked before start and while running)
  | 'encoder' // ffmpeg missing or crashed
  | 'synthesis' // a frame failed on every worker it was tried on
  | 'cancelled'
  | 'internal';

export class RenderFailure extends Error {
  /** the finished output kept under another name when its own was taken at the end (run.ts) */
  readonly kept: string | undefined;

  constructor(
    readonly reason: RenderFailureReason,
    message: string,
    options?: { cause?: unknown; kept?: string },
  ) {
    super(message, options);
    this.name = 'RenderFailure';
    this.kept = options?.kept;
  }
}

/** `run.ts` exports `runRender` of this type; the queue takes any function of it (tests inject one). */
export type RunRender = (spec: RenderSpec, deps: RenderDeps, opts: RenderRunOptions) => Promise<RenderResult>;
