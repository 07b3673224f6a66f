/**
 * Is there anything in a track for a video to react to? The loudest sample of the channels' mix,
 * through ffmpeg, read only as far as the first sample that is loud enough: a track with music
 * answers within its first moments, and only a silent one is decoded to its end (or to a cap:
 * `maxSeconds`). `checkSilence` adds the analysis's own test, a frame loud enough, so what it
 * passes the analysis does not refuse as silent.
 */
import { AudioError } from './errors.ts';
import { LIBROSA_HOP } from './features/rms.ts';
import { lastLine, runTool } from './ffmpeg.ts';

/**
 * One step of 16-bit audio, 2^-15 (-90.3 dBFS). A track whose every sample of the mix is smaller
 * has nothing a 16-bit file (CD, most WAVs) could even hold: digital silence, or dither and
 * rounding noise at most. Music mastered anywhere near 0 dBFS, a quiet intro included, is tens of
 * dB above it. The render's analysis refuses a track whose loudest frame RMS is below the same
 * level; a frame's RMS is never above the peak, so a track refused by the peak would also be
 * refused there, only later.
 */
export const SILENCE_LEVEL = 2 ** -15;

export const dbfs = (v: number) => 20 * Math.log10(v);

/** Ends the decode early: a sample (or frame) at or above the level was found. */
class LoudEnough extends Error {}

export interface PeakOptions {
  ffmpegPath?: string;
  /** stop at the first sample at least this loud (its peak is then that sample's); default: SILENCE_LEVEL */
  stopAt?: number;
  /** read at most this many seconds of the file (ffmpeg -t reads no further); default: all of it */
  maxSeconds?: number;
}

export interface PeakScan {
  peak: number;
  /** samples read (at the file's own rate) */
  samples: number;
  /** the sample at which the peak reached stopAt; null: it did not */
  loudAt: number | null;
}

/** The little-endian float32 samples of a chunk (with what the last one left over): an aligned copy, read at array speed. */
function floats(rest: Buffer, chunk: Buffer): { samples: Float32Array; rest: Buffer } {
  const buf = rest.length > 0 ? Buffer.concat([rest, chunk]) : chunk;
  const whole = buf.length - (buf.length % 4);
  const samples = new Float32Array(whole / 4);
  Buffer.from(samples.buffer).set(buf.subarray(0, whole));
  return { samples, rest: Buffer.from(buf.subarray(whole)) };
}

/**
 * The largest |sample| of a file mixed to mono (ffmpeg's mix, as the analysis averages the
 * channels: two channels in opposite phase cancel there too), or the first one at or above `stopAt`,
 * and where it was.
 */
export async function scanPeak(file: string, opts: PeakOptions = {}): Promise<PeakScan> {
  const stopAt = opts.stopAt ?? SILENCE_LEVEL;
  let peak = 0;
  let samples = 0;
  let loudAt: number | null = null;
  let rest: Buffer = Buffer.alloc(0);
  const limit = opts.maxSeconds === undefined ? [] : ['-t', String(opts.maxSeconds)];
  const args = ['-nostdin', '-v', 'error', ...limit, '-i', file, '-map', '0:a:0', '-vn', '-ac', '1', '-f', 'f32le', '-c:a', 'pcm_f32le', 'pipe:1'];
  try {
    const res = await runTool(opts.ffmpegPath ?? 'ffmpeg', args, file, (chunk) => {
      const got = floats(rest, chunk);
      rest = got.rest;
      const x = got.samples;
      for (let i = 0; i < x.length; i++) {
        const v = Math.abs(x[i]!);
        // NaN is the decoder's business (the analysis refuses it), not a loud sample
        if (v > peak) peak = v;
        if (peak >= stopAt) {
          loudAt = samples + i;
          samples += i + 1;
          throw new LoudEnough();
        }
      }
      samples += x.length;
    });
    if (res.code !== 0) throw new AudioError('AUDIO_UNREADABLE', `ffmpeg could not decode it (${lastLine(res.stderrTail)})`, file);
  } catch (err) {
    if (!(err instanceof LoudEnough)) throw err;
  }
  return { peak, samples, loudAt };
}

/**
 * The largest |sample| of the track mixed to mono, or the first one at or above `stopAt`
 * (scanPeak's peak).
 */
export async function audioPeak(file: string, opts: PeakOptions = {}): Promise<number> {
  return (await scanPeak(file, opts)).peak;
}

/** How the render's analysis frames the track (src/latents/offline.ts, src/audio/features/rms.ts). */
export interface AnalysisFrames {
  fps: number;
  vectorLength: number;
}

/**
 * The analysis's rate and frames: the mono track resampled to vectorLength x fps Hz (GANce's
 * truncation), frames of vectorLength samples every 512 (librosa's hop).
 */
export function analysisGrid(f: AnalysisFrames): { rate: number; frame: number; hop: number } {
  return { rate: Math.trunc(f.vectorLength * f.fps), frame: f.vectorLength, hop: LIBROSA_HOP };
}

export interface FrameScanOptions extends AnalysisFrames {
  ffmpegPath?: string;
  /** where to start, in seconds into the file (ffmpeg -ss) */
  fromSeconds?: number;
  maxSeconds?: number;
  /** stop at the first frame whose RMS is at least this; default SILENCE_LEVEL */
  stopAt?: number;
}

/**
 * The loudest frame RMS of a file as the render's analysis frames it: mixed to mono, resampled by
 * ffmpeg to the analysis rate (which drops what lies above its Nyquist, as the analysis's resampler
 * does), frames of `vectorLength` samples every 512, the last one zero-padded. Stops at the first
 * frame at `stopAt`. Returns the loudest RMS and the seconds read.
 */
export async function loudestFrame(file: string, opts: FrameScanOptions): Promise<{ rms: number; seconds: number }> {
  const stopAt = opts.stopAt ?? SILENCE_LEVEL;
  const { rate, frame, hop } = analysisGrid(opts);
  let loudest = 0;
  let rest: Buffer = Buffer.alloc(0);
  // samples from `base` on, not yet past every frame that needs them; `next`: the next frame's first sample
  let pending = new Float32Array(0);
  let base = 0;
  let next = 0;
  const frames = (x: Float32Array, final: boolean) => {
    const all = pending.length === 0 ? x : new Float32Array(pending.length + x.length);
    if (all !== x) {
      all.set(pending);
      all.set(x, pending.length);
    }
    const end = base + all.length;
    while (next + frame <= end || (final && next < end)) {
      let sq = 0;
      const stop = Math.min(next + frame, end) - base;
      for (let i = next - base; i < stop; i++) sq += all[i]! * all[i]!;
      const rms = Math.sqrt(sq / frame);
      if (rms > loudest) loudest = rms;
      if (loudest >= stopAt) throw new LoudEnough();
      next += hop;
    }
    const drop = Math.min(next - base, all.length);
    pending = all.slice(drop);
    base += drop;
  };
  const from = opts.fromSeconds ?? 0;
  const args = [
    '-nostdin',
    '-v',
    'error',
    ...(from > 0 ? ['-ss', String(from)] : []),
    ...(opts.maxSeconds === undefined ? [] : ['-t', String(opts.maxSeconds)]),
    '-i',
    file,
    '-map',
    '0:a:0',
    '-vn',
    '-ac',
    '1',
    '-ar',
    String(rate),
    '-f',
    'f32le',
    '-c:a',
    'pcm_f32le',
    'pipe:1',
  ];
  try {
    const res = await runTool(opts.ffmpegPath ?? 'ffmpeg', args, file, (chunk) => {
      const got = floats(rest, chunk);
      rest = got.rest;
      frames(got.samples, false);
    });
    if (res.code !== 0) throw new AudioError('AUDIO_UNREADABLE', `ffmpeg could not decode it (${lastLine(res.stderrTail)})`, file);
    frames(new Float32Array(0), true);
  } catch (err) {
    if (!(err instanceof LoudEnough)) throw err;
  }
  return { rms: loudest, seconds: (base + pending.length) / rate };
}

/** how far short of its -t a cut read may end (ffmpeg cuts compressed audio on its frames) */
const CUT_SLACK_SECONDS = 0.1;

export interface SilenceCheck {
  /** why the joined track gives the video nothing to react to (after `audio is silent: ` and the names); null: it does, or it was not read to its end */
  why: string | null;
  /** false: `maxSeconds` ended the reading before anything was found (the job's preflight reads the rest) */
  complete: boolean;
}

/**
 * Is there something in the joined track for the video to react to, as the analysis will judge it
 * (its loudest frame RMS at SILENCE_LEVEL)? First the peak at the files' own rates, stopping at the
 * first sample at the level (music answers at once; a silent track is refused with its peak); then,
 * from just before that sample, the analysis's frames, stopping at the first one at the level (a
 * lone click in minutes of silence has a peak but no such frame: the analysis would refuse it).
 * Each pass reads at most `maxSeconds` of the joined track; past that the answer is "not complete".
 */
export async function checkSilence(files: ReadonlyArray<{ file: string; sampleRate: number }>, opts: AnalysisFrames & { ffmpegPath?: string; maxSeconds?: number }): Promise<SilenceCheck> {
  const ffmpeg = opts.ffmpegPath === undefined ? {} : { ffmpegPath: opts.ffmpegPath };
  let budget = opts.maxSeconds ?? Infinity;
  let peak = 0;
  let loud: { k: number; seconds: number } | null = null;
  for (const [k, f] of files.entries()) {
    if (budget <= 0) return { why: null, complete: false };
    const s = await scanPeak(f.file, { ...ffmpeg, ...(budget === Infinity ? {} : { maxSeconds: budget }) });
    peak = Math.max(peak, s.peak);
    if (s.loudAt !== null) {
      loud = { k, seconds: s.loudAt / f.sampleRate };
      break;
    }
    const read = s.samples / f.sampleRate;
    // ffmpeg -t stopped it (give or take a compressed frame): the rest is unread. A file that only
    // just fits counts as cut too: it is then queued, and the job reads it whole
    if (read >= budget - CUT_SLACK_SECONDS) return { why: null, complete: false };
    budget -= read;
  }
  if (loud === null) return { why: silenceReason(peak, files.length), complete: true };
  const grid = analysisGrid(opts);
  const hopSeconds = grid.hop / grid.rate;
  budget = opts.maxSeconds ?? Infinity;
  let loudest = 0;
  for (let k = loud.k; k < files.length; k++) {
    if (budget <= 0) return { why: null, complete: false };
    // a second of lead-in, on the frame grid of the file's start (the analysis's, up to the earlier files' lengths)
    const from = k === loud.k ? Math.max(0, Math.floor((loud.seconds - 1) / hopSeconds)) * hopSeconds : 0;
    const f = await loudestFrame(files[k]!.file, { ...ffmpeg, fps: opts.fps, vectorLength: opts.vectorLength, fromSeconds: from, ...(budget === Infinity ? {} : { maxSeconds: budget }) });
    loudest = Math.max(loudest, f.rms);
    if (loudest >= SILENCE_LEVEL) return { why: null, complete: true };
    if (f.seconds >= budget - CUT_SLACK_SECONDS) return { why: null, complete: false };
    budget -= f.seconds;
  }
  return { why: sparseReason(peak, loudest, files.length, opts.fps), complete: true };
}

/** Why a track with a peak at the level has no frame there: too little sound to fill one frame. */
export function sparseReason(peak: number, loudestFrameRms: number, files: number, fps: number): string {
  const frame = loudestFrameRms > 0 ? `${dbfs(loudestFrameRms).toFixed(1)} dBFS RMS` : 'digital silence';
  return `${files === 1 ? 'peaks' : 'peak'} at ${dbfs(peak).toFixed(1)} dBFS, but ${files === 1 ? 'its' : 'their'} loudest video frame (1/${Number(fps.toFixed(3))} s) is at ${frame} (below ${dbfs(SILENCE_LEVEL).toFixed(1)} dBFS, one 16-bit step): too sparse for the video to react to`;
}

/**
 * The loudest of several files (joined in one render), stopping at the first that is loud enough.
 * Returns the peak; below SILENCE_LEVEL the joined track is silent.
 */
export async function joinedPeak(files: readonly string[], opts: PeakOptions = {}): Promise<number> {
  let peak = 0;
  for (const f of files) {
    peak = Math.max(peak, await audioPeak(f, opts));
    if (peak >= (opts.stopAt ?? SILENCE_LEVEL)) break;
  }
  return peak;
}

/**
 * Why a joined track is silent, after `audio is silent: ` and the names (null: it is not): the
 * peak and the level it is measured against, the same words for the API and the CLI.
 */
export function silenceReason(peak: number, files: number): string | null {
  if (peak >= SILENCE_LEVEL) return null;
  const level = `(below ${dbfs(SILENCE_LEVEL).toFixed(1)} dBFS, one 16-bit step): nothing for the video to react to`;
  if (peak === 0) return `${files === 1 ? 'has' : 'have'} only zero samples ${level}`;
  return `${files === 1 ? 'peaks' : 'peak'} at ${dbfs(peak).toFixed(1)} dBFS ${level}`;
}
