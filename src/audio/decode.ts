/**
 * Audio files to mono float32 through ffmpeg.
 *
 * GANce reads WAV with scipy and maps integer PCM onto [-1, 1] with scipy's interp1d over the full
 * integer range ((x + 32768) * 2/65535 - 1 for 16 bit), then averages channels in float32. To give a
 * GANce user the same numbers, integer sources are decoded as raw integers and mapped that way here;
 * float sources (mp3, ogg, float WAV) are taken as ffmpeg decodes them.
 */
import { readFile } from 'node:fs/promises';
import wavefile from 'wavefile';
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
  /** Samples per channel when the container states them exactly (PCM with a sample-rate time base), else null. */
  exactSamples: number | null;
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
  duration_ts?: number;
  time_base?: string;
}

export async function probeAudio(file: string, opts: DecodeOptions = {}): Promise<AudioProbe> {
  const res = await runTool(
    opts.ffprobePath ?? 'ffprobe',
    ['-v', 'error', '-select_streams', 'a:0', '-show_entries', 'stream=codec_type,codec_name,sample_rate,channels,sample_fmt,duration,duration_ts,time_base', '-of', 'json', file],
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
  // Uncompressed PCM counts its samples exactly; a compressed stream's stated length may be off.
  const exact = (s.codec_name ?? '').startsWith('pcm_') && s.time_base === `1/${sampleRate}` && Number.isInteger(s.duration_ts) ? s.duration_ts! : null;
  return {
    file,
    sampleRate,
    channels,
    sampleFormat: s.sample_fmt ?? 'unknown',
    codec: s.codec_name ?? 'unknown',
    duration: duration !== null && Number.isFinite(duration) ? duration : null,
    exactSamples: exact,
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

/** What ffmpeg writes for each kind: integers as themselves (exact, and a quarter of the bytes of f64). */
const OUTPUT: Record<SourceKind, { format: string; codec: string; bytes: number }> = {
  s16: { format: 's16le', codec: 'pcm_s16le', bytes: 2 },
  s32: { format: 's32le', codec: 'pcm_s32le', bytes: 4 },
  float: { format: 'f64le', codec: 'pcm_f64le', bytes: 8 },
};

/**
 * Interleaved PCM from ffmpeg (OUTPUT[kind]) to GANce-style mono float32. Integer sources arrive as
 * their integers and are mapped through interp1d's line over the full integer range; float sources
 * arrive as float64 and are rounded to float32 as scipy would have read them. Channels are averaged
 * the way numpy averages float32: (a + b) rounded to float32, then divided by the count.
 */
export function interleavedToMono(buf: Buffer, kind: SourceKind, channels: number): Float32Array {
  const bytes = OUTPUT[kind].bytes;
  const frames = Math.floor(buf.length / (bytes * channels));
  const count = frames * channels;
  // Typed views need aligned offsets; copy the rare misaligned buffer.
  const src = buf.byteOffset % bytes === 0 ? buf : Buffer.from(buf);
  if (kind === 'float') return toMono(new Float64Array(src.buffer, src.byteOffset, count), channels, 1, 0, false);
  // interp1d between (min, -1) and (max, 1) of the integer type
  const lo = kind === 's16' ? -32768 : -2147483648;
  const slope = kind === 's16' ? (1 - -1) / (32767 - -32768) : (1 - -1) / (2147483647 - -2147483648);
  return toMono(kind === 's16' ? new Int16Array(src.buffer, src.byteOffset, count) : new Int32Array(src.buffer, src.byteOffset, count), channels, slope, lo, true);
}

/**
 * Each sample to float32 (integers through slope * (x - lo) - 1, floats as they are), channels
 * averaged as numpy does for float32. Inlined arithmetic: this runs for every sample of a track.
 */
/**
 * The usual input (16-bit stereo) through a table of every sample's float32 value: the same numbers as
 * toMono's general loop, several times faster.
 */
function stereo16ToMono(view: Int16Array, frames: number, slope: number, lo: number): Float32Array {
  const f32 = Math.fround;
  const table = new Float64Array(65536);
  for (let v = -32768; v < 32768; v++) table[v + 32768] = f32(slope * (v - lo) + -1);
  const out = new Float32Array(frames);
  for (let i = 0, pos = 0; i < frames; i++, pos += 2) out[i] = f32(f32(table[view[pos]! + 32768]! + table[view[pos + 1]! + 32768]!) / 2);
  return out;
}

function toMono(view: Int16Array | Int32Array | Float64Array, channels: number, slope: number, lo: number, isInt: boolean): Float32Array {
  const frames = Math.floor(view.length / channels);
  const out = new Float32Array(frames);
  const f32 = Math.fround;
  if (channels === 1) {
    if (isInt) for (let i = 0; i < frames; i++) out[i] = f32(slope * (view[i]! - lo) + -1);
    else for (let i = 0; i < frames; i++) out[i] = view[i]!;
    return out;
  }
  if (channels === 2 && view instanceof Int16Array) return stereo16ToMono(view, frames, slope, lo);
  let pos = 0;
  for (let i = 0; i < frames; i++) {
    let acc = isInt ? f32(slope * (view[pos++]! - lo) + -1) : f32(view[pos++]!);
    for (let c = 1; c < channels; c++) acc = f32(acc + (isInt ? f32(slope * (view[pos++]! - lo) + -1) : f32(view[pos++]!)));
    out[i] = f32(acc / channels);
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

/** Decode one file to mono float32: ffprobe says what it holds (or `probe` already did), then ffmpeg decodes it. */
export async function decodeFile(file: string, opts: DecodeOptions = {}, probed?: AudioProbe): Promise<DecodedAudio> {
  if (opts.sampleRate !== undefined && (!Number.isInteger(opts.sampleRate) || opts.sampleRate <= 0)) {
    throw new AudioError('AUDIO_BAD_PARAMETER', `requested sample rate must be a positive integer, got ${opts.sampleRate}`, file);
  }
  const probe = probed ?? (await probeAudio(file, opts));
  const resampling = opts.sampleRate !== undefined && opts.sampleRate !== probe.sampleRate;
  const kind = sourceKind(probe, resampling);
  const pcm = resampling ? null : await readPcmWav(file, probe, kind);
  const samples = interleavedToMono(pcm ?? (await ffmpegDecode(file, opts, kind)), kind, probe.channels);
  const rate = resampling ? opts.sampleRate! : probe.sampleRate;
  if (samples.length === 0) throw new AudioError('AUDIO_EMPTY', 'decoded to zero samples (empty or zero-length track)', file);
  checkFinite(samples, rate, file);
  return { samples, sampleRate: rate, sources: [{ file, samples: samples.length, channels: probe.channels, sampleFormat: probe.sampleFormat }] };
}

/** The stream's samples through ffmpeg, as OUTPUT[kind]. */
async function ffmpegDecode(file: string, opts: DecodeOptions, kind: SourceKind): Promise<Buffer> {
  const out = OUTPUT[kind];
  const args = ['-nostdin', '-v', 'error', '-i', file, '-map', '0:a:0', '-vn', '-f', out.format, '-c:a', out.codec];
  if (opts.sampleRate !== undefined) args.push('-ar', String(opts.sampleRate));
  args.push('pipe:1');
  const res = await runTool(opts.ffmpegPath ?? 'ffmpeg', args, file);
  if (res.code !== 0) throw new AudioError('AUDIO_UNREADABLE', `ffmpeg could not decode it (${lastLine(res.stderrTail)})`, file);
  return res.stdout;
}

/**
 * A 16- or 32-bit PCM WAV's samples straight from the file (what ffmpeg would pipe, without the
 * process and the pipe: the usual input, and a quarter of a second per 5 minutes saved). Anything
 * else, or anything unexpected in the file, goes to ffmpeg, which reads it or says why not.
 */
async function readPcmWav(file: string, probe: AudioProbe, kind: SourceKind): Promise<Buffer | null> {
  const bits = probe.codec === 'pcm_s16le' ? 16 : probe.codec === 'pcm_s32le' ? 32 : 0;
  if (bits === 0 || (kind !== 's16' && kind !== 's32')) return null;
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch {
    return null;
  }
  if (bytes.toString('latin1', 0, 4) !== 'RIFF' || bytes.toString('latin1', 8, 12) !== 'WAVE') return null;
  try {
    const wav = new wavefile.WaveFile(bytes) as unknown as { fmt: { numChannels: number; bitsPerSample: number; sampleRate: number }; data: { samples: Uint8Array } };
    if (wav.fmt.numChannels !== probe.channels || wav.fmt.bitsPerSample !== bits || wav.fmt.sampleRate !== probe.sampleRate) return null;
    const data = wav.data.samples;
    return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  } catch {
    return null;
  }
}

/**
 * Decode several files and join them end to end, like GANce's repeated `--wav`. Without a requested
 * rate every file must share one sample rate; a mismatch is refused, naming the file.
 */
export async function decodeFiles(files: readonly string[], opts: DecodeOptions = {}, probes?: readonly AudioProbe[]): Promise<DecodedAudio> {
  if (files.length === 0) throw new AudioError('AUDIO_BAD_PARAMETER', 'no audio files given');
  const parts: DecodedAudio[] = [];
  for (const [i, file] of files.entries()) {
    const part = await decodeFile(file, opts, probes?.[i]);
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
