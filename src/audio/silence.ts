/**
 * Is there anything in a track for a video to react to? The loudest sample of the channels' mix,
 * through ffmpeg, read only as far as the first sample that is loud enough: a track with music
 * answers within its first moments, and only a silent one is decoded to its end.
 */
import { AudioError } from './errors.ts';
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

/** Ends the decode early: a sample at or above the level was found. */
class LoudEnough extends Error {}

export interface PeakOptions {
  ffmpegPath?: string;
  /** stop at the first sample at least this loud (its peak is then that sample's); default: SILENCE_LEVEL */
  stopAt?: number;
}

/**
 * The largest |sample| of the track mixed to mono (ffmpeg's mix, as the analysis averages the
 * channels: two channels in opposite phase cancel there too), or the first one at or above `stopAt`.
 */
export async function audioPeak(file: string, opts: PeakOptions = {}): Promise<number> {
  const stopAt = opts.stopAt ?? SILENCE_LEVEL;
  let peak = 0;
  let rest = Buffer.alloc(0);
  const args = ['-nostdin', '-v', 'error', '-i', file, '-map', '0:a:0', '-vn', '-ac', '1', '-f', 'f32le', '-c:a', 'pcm_f32le', 'pipe:1'];
  try {
    const res = await runTool(opts.ffmpegPath ?? 'ffmpeg', args, file, (chunk) => {
      const buf = rest.length > 0 ? Buffer.concat([rest, chunk]) : chunk;
      const whole = buf.length - (buf.length % 4);
      for (let at = 0; at < whole; at += 4) {
        const v = Math.abs(buf.readFloatLE(at));
        // NaN is the decoder's business (the analysis refuses it), not a loud sample
        if (v > peak) peak = v;
        if (peak >= stopAt) throw new LoudEnough();
      }
      rest = Buffer.from(buf.subarray(whole));
    });
    if (res.code !== 0) throw new AudioError('AUDIO_UNREADABLE', `ffmpeg could not decode it (${lastLine(res.stderrTail)})`, file);
  } catch (err) {
    if (!(err instanceof LoudEnough)) throw err;
  }
  return peak;
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
