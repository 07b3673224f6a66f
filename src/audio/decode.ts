/**
 * Audio files to mono float32 through ffmpeg.
 *
 * GANce reads WAV with scipy and maps integer PCM onto [-1, 1] with scipy's interp1d over the full
 * integer range ((x + 32768) * 2/65535 - 1 for 16 bit), then averages channels in float32. To give a
 * GANce user the same numbers, integer sources are decoded as raw integers and mapped that way here;
 * float sources (mp3, ogg, float WAV) are taken as ffmpeg decodes them.
 */
import { open, type FileHandle } from 'node:fs/promises';
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
  const out = new Float32Array(Math.floor(buf.length / (OUTPUT[kind].bytes * channels)));
  interleavedToMonoInto(buf, kind, channels, out, 0);
  return out;
}

/** interleavedToMono of the whole sample frames in `buf` into out[at..]; returns the frames written. */
function interleavedToMonoInto(buf: Buffer, kind: SourceKind, channels: number, out: Float32Array, at: number): number {
  const bytes = OUTPUT[kind].bytes;
  const frames = Math.floor(buf.length / (bytes * channels));
  const count = frames * channels;
  // Typed views need aligned offsets; copy the rare misaligned buffer.
  const src = buf.byteOffset % bytes === 0 ? buf : Buffer.from(buf.subarray(0, count * bytes));
  const dst = out.subarray(at, at + frames);
  if (kind === 'float') toMono(new Float64Array(src.buffer, src.byteOffset, count), channels, 1, 0, false, dst);
  else {
    // interp1d between (min, -1) and (max, 1) of the integer type
    const lo = kind === 's16' ? -32768 : -2147483648;
    const slope = kind === 's16' ? (1 - -1) / (32767 - -32768) : (1 - -1) / (2147483647 - -2147483648);
    toMono(kind === 's16' ? new Int16Array(src.buffer, src.byteOffset, count) : new Int32Array(src.buffer, src.byteOffset, count), channels, slope, lo, true, dst);
  }
  return frames;
}

/** Float32 samples on shared memory: the analysis threads read them where they lie. */
function sharedFloat32(length: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(length * 4));
}

/**
 * Interleaved PCM arriving in pieces of any size, converted to mono as it comes, so that a track is
 * never held as its source bytes (four times the mono floats for 16-bit stereo, sixteen for float64
 * stereo). `expected` sizes the buffer when the length is known or estimated; it grows if short.
 */
class MonoCollector {
  private out: Float32Array;
  private used = 0;
  private rest: Buffer = Buffer.alloc(0);
  private readonly frameBytes: number;

  constructor(
    private readonly kind: SourceKind,
    private readonly channels: number,
    expected: number,
  ) {
    this.frameBytes = OUTPUT[kind].bytes * channels;
    this.out = sharedFloat32(Math.max(1, Math.ceil(expected)));
  }

  push(chunk: Buffer): void {
    const buf = this.rest.length > 0 ? Buffer.concat([this.rest, chunk]) : chunk;
    const frames = Math.floor(buf.length / this.frameBytes);
    if (this.used + frames > this.out.length) {
      const grown = sharedFloat32(Math.max(this.used + frames, Math.ceil(this.out.length * 1.5)));
      grown.set(this.out.subarray(0, this.used));
      this.out = grown;
    }
    this.used += interleavedToMonoInto(buf.subarray(0, frames * this.frameBytes), this.kind, this.channels, this.out, this.used);
    this.rest = Buffer.from(buf.subarray(frames * this.frameBytes));
  }

  finish(): Float32Array {
    if (this.used === this.out.length) return this.out;
    // an estimate well off: the exact length, not a large unused tail
    if (this.out.length - this.used > Math.max(4096, this.used / 50)) {
      const exact = sharedFloat32(this.used);
      exact.set(this.out.subarray(0, this.used));
      return exact;
    }
    return this.out.subarray(0, this.used);
  }
}

/**
 * Each sample to float32 (integers through slope * (x - lo) - 1, floats as they are), channels
 * averaged as numpy does for float32. Inlined arithmetic: this runs for every sample of a track.
 */
/**
 * The usual input (16-bit stereo) through a table of every sample's float32 value: the same numbers as
 * toMono's general loop, several times faster.
 */
let stereo16Table: { slope: number; lo: number; table: Float64Array } | null = null;

function stereo16ToMono(view: Int16Array, frames: number, slope: number, lo: number, out: Float32Array): Float32Array {
  const f32 = Math.fround;
  // built once: a track arrives in many pieces
  if (!stereo16Table || stereo16Table.slope !== slope || stereo16Table.lo !== lo) {
    const t = new Float64Array(65536);
    for (let v = -32768; v < 32768; v++) t[v + 32768] = f32(slope * (v - lo) + -1);
    stereo16Table = { slope, lo, table: t };
  }
  const table = stereo16Table.table;
  for (let i = 0, pos = 0; i < frames; i++, pos += 2) out[i] = f32(f32(table[view[pos]! + 32768]! + table[view[pos + 1]! + 32768]!) / 2);
  return out;
}

function toMono(view: Int16Array | Int32Array | Float64Array, channels: number, slope: number, lo: number, isInt: boolean, out: Float32Array): Float32Array {
  const frames = Math.floor(view.length / channels);
  const f32 = Math.fround;
  if (channels === 1) {
    if (isInt) for (let i = 0; i < frames; i++) out[i] = f32(slope * (view[i]! - lo) + -1);
    else for (let i = 0; i < frames; i++) out[i] = view[i]!;
    return out;
  }
  if (channels === 2 && view instanceof Int16Array) return stereo16ToMono(view, frames, slope, lo, out);
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
  const rate = resampling ? opts.sampleRate! : probe.sampleRate;
  const samples = (resampling ? null : await readPcmWav(file, probe, kind)) ?? (await ffmpegDecode(file, opts, kind, probe, rate));
  if (samples.length === 0) throw new AudioError('AUDIO_EMPTY', 'decoded to zero samples (empty or zero-length track)', file);
  checkFinite(samples, rate, file);
  return { samples, sampleRate: rate, sources: [{ file, samples: samples.length, channels: probe.channels, sampleFormat: probe.sampleFormat }] };
}

/** The stream's samples through ffmpeg, as OUTPUT[kind], converted to mono as they arrive. */
async function ffmpegDecode(file: string, opts: DecodeOptions, kind: SourceKind, probe: AudioProbe, rate: number): Promise<Float32Array> {
  const out = OUTPUT[kind];
  const args = ['-nostdin', '-v', 'error', '-i', file, '-map', '0:a:0', '-vn', '-f', out.format, '-c:a', out.codec];
  if (opts.sampleRate !== undefined) args.push('-ar', String(opts.sampleRate));
  args.push('pipe:1');
  // sized by what the container says (a little over), else a minute, grown as needed
  const expected = rate === probe.sampleRate && probe.exactSamples !== null ? probe.exactSamples : probe.duration !== null ? probe.duration * rate * 1.01 + 4096 : 60 * rate;
  const mono = new MonoCollector(kind, probe.channels, expected);
  const res = await runTool(opts.ffmpegPath ?? 'ffmpeg', args, file, (c) => mono.push(c));
  if (res.code !== 0) throw new AudioError('AUDIO_UNREADABLE', `ffmpeg could not decode it (${lastLine(res.stderrTail)})`, file);
  return mono.finish();
}

/** Bytes read from a WAV at a time. */
const WAV_PIECE = 1 << 22;

/**
 * A 16- or 32-bit PCM WAV's samples straight from the file (what ffmpeg would pipe, without the
 * process and the pipe: the usual input), read a piece at a time. Anything else, or anything
 * unexpected in the file, goes to ffmpeg, which reads it or says why not.
 */
async function readPcmWav(file: string, probe: AudioProbe, kind: SourceKind): Promise<Float32Array | null> {
  const bits = probe.codec === 'pcm_s16le' ? 16 : probe.codec === 'pcm_s32le' ? 32 : 0;
  if (bits === 0 || (kind !== 's16' && kind !== 's32')) return null;
  let fh: FileHandle;
  try {
    fh = await open(file, 'r');
  } catch {
    return null;
  }
  try {
    const size = (await fh.stat()).size;
    const at = async (pos: number, n: number) => {
      const b = Buffer.alloc(n);
      const { bytesRead } = await fh.read(b, 0, n, pos);
      return b.subarray(0, bytesRead);
    };
    const head = await at(0, 12);
    if (head.length < 12 || head.toString('latin1', 0, 4) !== 'RIFF' || head.toString('latin1', 8, 12) !== 'WAVE') return null;
    let fmt: Buffer | null = null;
    let data: { start: number; bytes: number } | null = null;
    // the chunks in order: 'fmt ' before 'data', others skipped (padded to even sizes)
    for (let pos = 12; pos + 8 <= size && !data; ) {
      const h = await at(pos, 8);
      const id = h.toString('latin1', 0, 4);
      const len = h.readUInt32LE(4);
      if (id === 'fmt ') fmt = await at(pos + 8, Math.min(len, 64));
      else if (id === 'data') data = { start: pos + 8, bytes: Math.min(len, size - pos - 8) };
      pos += 8 + len + (len % 2);
    }
    if (!fmt || !data || fmt.length < 16) return null;
    const format = fmt.readUInt16LE(0);
    if ((format !== 1 && format !== 0xfffe) || fmt.readUInt16LE(2) !== probe.channels || fmt.readUInt32LE(4) !== probe.sampleRate || fmt.readUInt16LE(14) !== bits) return null;
    const frameBytes = (bits / 8) * probe.channels;
    const mono = new MonoCollector(kind, probe.channels, Math.floor(data.bytes / frameBytes));
    const piece = Buffer.alloc(Math.floor(WAV_PIECE / frameBytes) * frameBytes);
    for (let done = 0; done < data.bytes; ) {
      const { bytesRead } = await fh.read(piece, 0, Math.min(piece.length, data.bytes - done), data.start + done);
      if (bytesRead === 0) break;
      mono.push(piece.subarray(0, bytesRead));
      done += bytesRead;
    }
    return mono.finish();
  } catch {
    return null;
  } finally {
    await fh.close();
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
  if (parts.length === 1) return parts[0]!;
  const total = parts.reduce((n, p) => n + p.samples.length, 0);
  const samples = sharedFloat32(total);
  let at = 0;
  for (const p of parts) {
    samples.set(p.samples, at);
    at += p.samples.length;
  }
  return { samples, sampleRate: parts[0]!.sampleRate, sources: parts.flatMap((p) => p.sources) };
}
