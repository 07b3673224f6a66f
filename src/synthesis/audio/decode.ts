/**
 * Audio files to mono float32 through ffmpeg.
 *
 * GANce reads WAV with scipy and maps integer PCM onto [-1, 1] with scipy's interp1d over the full
 * integer range ((x + 32768) * 2/65535 - 1 for 16 bit), then averages channels in float32. To give a
 * GANce user the same numbers, integer sources are decoded as raw integers and mapped that way here;
 * float sources (mp3, ogg, float WAV) are taken as ffmpeg decodes them.
 */
import { AudioError } from './errors.ts';
import { lastLine, runTool } from './ffmpeg.ts';

export interface AudioProbe {
  file: string;
  sampleRate: number;
  channels: number;
  /** ffmpeg sample format of the decoded stream (s16, s32, fltp, ...). */
  sampleFormat: string;
  codec: string;
  /** Seconds, when the container says. */
  duration: number | null;
}

export interface DecodedAudio {
  /** Mono samples, float32, GANce's channel average. */
  samples: Float32Array;
  sampleRate: number;
  /** Source files in order, with the sample count each contributed. */
  sources: { file: string; samples: number; channels: number; sampleFormat: string }[];
}

export interface DecodeOptions {
  /**
   * Resample to this rate with ffmpeg (non-GANce uses: live features, previews). Omit to keep the
   * file's own rate, as GANce does before its own resampling.
   */
  sampleRate?: number;
  ffmpegPath?: string;
  ffprobePath?: string;
}

interface FfprobeStream {
  codec_type?: string;
  codec_name?: string;
  sample_rate?: string;
  channels?: number;
  sample_fmt?: string;
  duration?: string;
}

export async function probeAudio(file: string, opts: DecodeOptions = {}): Promise<AudioProbe> {
  const res = await runTool(
    opts.ffprobePath ?? 'ffprobe',
    ['-v', 'error', '-select_streams', 'a:0', '-show_entries', 'stream=codec_type,codec_name,sample_rate,channels,sample_fmt,duration', '-of', 'json', file],
    file,
  );
  if (res.code !== 0) {
    throw new AudioError('AUDIO_UNREADABLE', `not a readable audio file (${lastLine(res.stderrTail)})`, file);
  }
  let streams: FfprobeStream[] = [];
  try {
    streams = (JSON.parse(res.stdout.toString('utf8')) as { streams?: FfprobeStream[] }).streams ?? [];
  } catch (err) {
    throw new AudioError('AUDIO_UNREADABLE', 'ffprobe printed output that is not JSON', file, { cause: err });
  }
  const s = streams[0];
  if (!s || s.codec_type !== 'audio') throw new AudioError('AUDIO_UNREADABLE', 'contains no audio stream', file);
  const sampleRate = Number(s.sample_rate);
  const channels = Number(s.channels);
  if (!Number.isFinite(sampleRate) || sampleRate <= 0) throw new AudioError('AUDIO_UNREADABLE', `audio stream has no valid sample rate (${s.sample_rate})`, file);
  if (!Number.isInteger(channels) || channels <= 0) throw new AudioError('AUDIO_UNREADABLE', `audio stream has no valid channel count (${s.channels})`, file);
  const duration = s.duration === undefined ? null : Number(s.duration);
  return {
    file,
    sampleRate,
    channels,
    sampleFormat: s.sample_fmt ?? 'unknown',
    codec: s.codec_name ?? 'unknown',
    duration: duration !== null && Number.isFinite(duration) ? duration : null,
  };
}

type SourceKind = 's16' | 's32' | 'float';

function sourceKind(probe: AudioProbe, resampling: boolean): SourceKind {
  if (resampling) return 'float';
  const f = probe.sampleFormat.replace(/p$/, '');
  if (f === 's16') return 's16';
  if (f === 's32') return 's32';
  return 'float';
}

/**
 * Interleaved float64 PCM from ffmpeg to GANce-style mono float32. ffmpeg converts integers to double
 * exactly (x / 2^15, x / 2^31), so integer sources are recovered bit for bit and mapped through
 * interp1d's line; float sources are rounded to float32 as scipy would have read them. Channels are
 * averaged the way numpy averages float32: (a + b) rounded to float32, then divided by the count.
 */
export function interleavedToMono(buf: Buffer, kind: SourceKind, channels: number): Float32Array {
  const frames = Math.floor(buf.length / (8 * channels));
  const count = frames * channels;
  // Typed views need aligned offsets; copy the rare misaligned buffer.
  const src = buf.byteOffset % 8 === 0 ? buf : Buffer.from(buf);
  const view = new Float64Array(src.buffer, src.byteOffset, count);
  const out = new Float32Array(frames);
  const f32 = Math.fround;
  let scale = 0;
  let lo = 0;
  let slope = 0;
  if (kind === 's16') {
    scale = 32768;
    lo = -32768;
    slope = (1 - -1) / (32767 - -32768);
  } else if (kind === 's32') {
    scale = 2147483648;
    lo = -2147483648;
    slope = (1 - -1) / (2147483647 - -2147483648);
  }
  const isInt = kind !== 'float';
  let pos = 0;
  for (let i = 0; i < frames; i++) {
    let acc = 0;
    for (let c = 0; c < channels; c++) {
      const raw = view[pos++]!;
      const v = isInt ? f32(slope * (Math.round(raw * scale) - lo) + -1) : f32(raw);
      acc = c === 0 ? v : f32(acc + v);
    }
    out[i] = channels === 1 ? acc : f32(acc / channels);
  }
  return out;
}

function checkFinite(samples: Float32Array, rate: number, file: string): void {
  for (let i = 0; i < samples.length; i++) {
    const v = samples[i]!;
    if (!Number.isFinite(v)) {
      throw new AudioError('AUDIO_NON_FINITE', `sample ${i} (at ${(i / rate).toFixed(3)} s) is ${v}; audio must be finite numbers`, file);
    }
  }
}

/** Decode one file to mono float32 (ffprobe and ffmpeg run side by side). */
export async function decodeFile(file: string, opts: DecodeOptions = {}): Promise<DecodedAudio> {
  if (opts.sampleRate !== undefined && (!Number.isInteger(opts.sampleRate) || opts.sampleRate <= 0)) {
    throw new AudioError('AUDIO_BAD_PARAMETER', `requested sample rate must be a positive integer, got ${opts.sampleRate}`, file);
  }
  const args = ['-nostdin', '-v', 'error', '-i', file, '-map', '0:a:0', '-vn', '-f', 'f64le', '-c:a', 'pcm_f64le'];
  if (opts.sampleRate !== undefined) args.push('-ar', String(opts.sampleRate));
  args.push('pipe:1');
  const decoding = runTool(opts.ffmpegPath ?? 'ffmpeg', args, file);
  decoding.catch(() => undefined); // the probe's error, if any, is the one reported
  const probe = await probeAudio(file, opts);
  const res = await decoding;
  if (res.code !== 0) throw new AudioError('AUDIO_UNREADABLE', `ffmpeg could not decode it (${lastLine(res.stderrTail)})`, file);
  const resampling = opts.sampleRate !== undefined && opts.sampleRate !== probe.sampleRate;
  const samples = interleavedToMono(res.stdout, sourceKind(probe, resampling), probe.channels);
  const rate = resampling ? opts.sampleRate! : probe.sampleRate;
  if (samples.length === 0) throw new AudioError('AUDIO_EMPTY', 'decoded to zero samples (empty or zero-length track)', file);
  checkFinite(samples, rate, file);
  return { samples, sampleRate: rate, sources: [{ file, samples: samples.length, channels: probe.channels, sampleFormat: probe.sampleFormat }] };
}

/**
 * Decode several files and join them end to end, like GANce's repeated `--wav`. Without a requested
 * rate every file must share one sample rate; a mismatch is refused, naming the file.
 */
export async function decodeFiles(files: readonly string[], opts: DecodeOptions = {}): Promise<DecodedAudio> {
  if (files.length === 0) throw new AudioError('AUDIO_BAD_PARAMETER', 'no audio files given');
  const parts: DecodedAudio[] = [];
  for (const file of files) {
    const part = await decodeFile(file, opts);
    const first = parts[0];
    if (first && part.sampleRate !== first.sampleRate) {
      throw new AudioError(
        'AUDIO_RATE_MISMATCH',
        `sample rate ${part.sampleRate} Hz differs from ${first.sampleRate} Hz of ${first.sources[0]!.file}; concatenated files must share one rate`,
        file,
      );
    }
    parts.push(part);
  }
  const total = parts.reduce((n, p) => n + p.samples.length, 0);
  const samples = new Float32Array(total);
  let at = 0;
  for (const p of parts) {
    samples.set(p.samples, at);
    at += p.samples.length;
  }
  return { samples, sampleRate: parts[0]!.sampleRate, sources: parts.flatMap((p) => p.sources) };
}
