/**
 * Live audio as a stream of per-frame blocks: `samplesPerFrame` mono float32 samples per video frame.
 *
 * Sources: an ALSA capture device through ffmpeg, any ffmpeg input (arguments given), or raw PCM on a
 * Readable (stdin) or a socket. PCM at another rate than the target goes through ffmpeg to be
 * resampled; PCM already at the target rate is cut into blocks directly. Integer PCM is mapped like
 * GANce maps WAV (interp1d over the full int16 range) and channels are averaged in float32.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { connect } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { AudioError } from './errors.ts';
import { lastLine, terminate } from './ffmpeg.ts';

export type PcmFormat = 's16le' | 'f32le';

export interface AudioBlock {
  index: number;
  samples: Float32Array;
  /** process.hrtime.bigint() when the chunk completing this block arrived. */
  receivedAt: bigint;
}

export interface PcmFramesOptions {
  format: PcmFormat;
  channels: number;
  samplesPerFrame: number;
  /** Names the source in errors. */
  source: string;
}

/** Cut a byte stream of interleaved PCM into mono blocks. Ends when the stream ends (a partial block is dropped). */
export async function* pcmFrames(stream: AsyncIterable<Buffer | string>, opts: PcmFramesOptions): AsyncGenerator<AudioBlock> {
  const { channels, samplesPerFrame, format } = opts;
  if (!Number.isInteger(channels) || channels < 1) throw new AudioError('AUDIO_BAD_PARAMETER', `channels must be a positive integer, got ${channels}`, opts.source);
  if (!Number.isInteger(samplesPerFrame) || samplesPerFrame < 1) throw new AudioError('AUDIO_BAD_PARAMETER', `samples per frame must be a positive integer, got ${samplesPerFrame}`, opts.source);
  const bytes = format === 's16le' ? 2 : 4;
  const frameBytes = bytes * channels;
  const blockBytes = frameBytes * samplesPerFrame;
  let pending: Buffer = Buffer.alloc(0);
  let index = 0;
  const f32 = Math.fround;
  const slope = (1 - -1) / (32767 - -32768);
  for await (const chunk of stream) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    pending = pending.length === 0 ? buf : Buffer.concat([pending, buf]);
    const receivedAt = process.hrtime.bigint();
    while (pending.length >= blockBytes) {
      const out = new Float32Array(samplesPerFrame);
      for (let i = 0; i < samplesPerFrame; i++) {
        let acc = 0;
        for (let c = 0; c < channels; c++) {
          const off = i * frameBytes + c * bytes;
          const v = format === 's16le' ? f32(slope * (pending.readInt16LE(off) + 32768) + -1) : pending.readFloatLE(off);
          if (!Number.isFinite(v)) {
            throw new AudioError('AUDIO_NON_FINITE', `sample ${index * samplesPerFrame + i} (channel ${c}) is ${v}; audio must be finite numbers`, opts.source);
          }
          acc = c === 0 ? v : f32(acc + v);
        }
        out[i] = channels === 1 ? acc : f32(acc / channels);
      }
      yield { index: index++, samples: out, receivedAt };
      pending = pending.subarray(blockBytes);
    }
  }
}

export type LiveSource =
  | { kind: 'alsa'; device: string; sampleRate?: number; channels?: number }
  /** An audio file played at real time (ffmpeg -re), looped for ever unless `loop` is false. */
  | { kind: 'file'; path: string; loop?: boolean }
  /** Any ffmpeg input, e.g. ['-re', '-i', 'song.flac'] or ['-f', 'lavfi', '-i', 'sine=f=440']. */
  | { kind: 'ffmpeg'; inputArgs: string[]; channels?: number; name?: string }
  | { kind: 'stream'; stream: Readable; format: PcmFormat; sampleRate: number; channels: number; name?: string }
  /** Connects to a Unix socket path or a TCP "host:port" that sends raw PCM. */
  | { kind: 'socket'; address: string; format: PcmFormat; sampleRate: number; channels: number };

export interface LiveFramesOptions {
  fps: number;
  /** Samples per frame; the target rate is samplesPerFrame * fps (GANce: 512). */
  samplesPerFrame: number;
  ffmpegPath?: string;
  /**
   * A second copy of the audio at listening quality (stereo s16le at `sampleRate`), cut from the same
   * decode as the analysis blocks: its sample `n` is at time n / sampleRate of the blocks' timeline
   * (block k starts at k / fps), so a recording muxes it in sync with the frames.
   */
  monitor?: { sampleRate: number; onPcm(chunk: Buffer): void };
  /**
   * Stops the source from outside: a generator waiting on an ffmpeg that sends nothing (blocked
   * opening a FIFO, a hung capture device) never reaches its own clean-up, so this kills the child
   * and the stream ends without an error.
   */
  signal?: AbortSignal;
  /** how long ffmpeg gets after SIGTERM before SIGKILL (one blocked in open() never acts on SIGTERM) */
  killGraceMs?: number;
}

const KILL_GRACE_MS = 1500;


/** What the monitor output gets: interleaved stereo signed 16-bit. */
export const MONITOR_CHANNELS = 2;

function sourceName(src: LiveSource): string {
  switch (src.kind) {
    case 'alsa':
      return `alsa:${src.device}`;
    case 'file':
      return `file:${src.path}`;
    case 'ffmpeg':
      return src.name ?? `ffmpeg ${src.inputArgs.join(' ')}`;
    case 'stream':
      return src.name ?? 'pcm stream';
    case 'socket':
      return `socket:${src.address}`;
  }
}

interface Spawned {
  child: ChildProcessByStdio<Writable | null, Readable, Readable>;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function spawnFfmpeg(path: string, inputArgs: string[], channels: number, rate: number, stdin: boolean, name: string, monitor?: LiveFramesOptions['monitor']): Spawned {
  const args = ['-nostdin', '-hide_banner', '-v', 'error', ...inputArgs, '-vn', '-ac', String(channels), '-ar', String(rate), '-f', 'f32le', '-c:a', 'pcm_f32le', '-flush_packets', '1', 'pipe:1'];
  // the monitor is a second output of the same decode: the two cannot drift apart
  if (monitor) args.push('-vn', '-ac', String(MONITOR_CHANNELS), '-ar', String(monitor.sampleRate), '-f', 's16le', '-c:a', 'pcm_s16le', '-flush_packets', '1', 'pipe:3');
  if (stdin) args.splice(0, 1);
  // its own process group: a Ctrl-C reaches the daemon alone, which ends the source in its stop
  // (sharing the group, it quit first and the session saw its audio fail). A daemon gone outright:
  // the next block written (-flush_packets 1) finds the reader gone (EPIPE) and ffmpeg exits
  const child = spawn(path, args, { stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe', monitor ? 'pipe' : 'ignore'], detached: true }) as unknown as ChildProcessByStdio<Writable | null, Readable, Readable>;
  if (monitor) {
    const out = child.stdio[3] as Readable;
    out.on('data', (c: Buffer) => monitor.onPcm(c));
    out.on('error', () => undefined); // ffmpeg gone: reported through its exit status
  }
  let err = '';
  child.stderr.on('data', (c: Buffer) => {
    err = (err + c.toString('utf8')).slice(-4000);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', (e: NodeJS.ErrnoException) =>
      reject(new AudioError(e.code === 'ENOENT' ? 'AUDIO_FFMPEG_MISSING' : 'AUDIO_LIVE_FAILED', `cannot start ffmpeg: ${e.message}`, name, { cause: e })),
    );
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
  return { child, stderr: () => err, exited };
}

/** Blocks of live audio at samplesPerFrame * fps Hz. Stop by returning from the loop (ffmpeg is killed). */
export async function* liveFrames(source: LiveSource, opts: LiveFramesOptions): AsyncGenerator<AudioBlock> {
  const name = sourceName(source);
  if (!(opts.fps > 0) || !Number.isFinite(opts.fps)) throw new AudioError('AUDIO_BAD_PARAMETER', `fps must be a positive number, got ${opts.fps}`, name);
  const rate = opts.samplesPerFrame * opts.fps;
  if (!Number.isInteger(rate)) throw new AudioError('AUDIO_BAD_PARAMETER', `samples per frame x fps must be a whole sample rate, got ${rate}`, name);
  const ffmpeg = opts.ffmpegPath ?? 'ffmpeg';

  if ((source.kind === 'stream' || source.kind === 'socket') && source.sampleRate === rate && !opts.monitor) {
    const stream = source.kind === 'stream' ? source.stream : await openSocket(source.address, name);
    try {
      yield* pcmFrames(stream, { format: source.format, channels: source.channels, samplesPerFrame: opts.samplesPerFrame, source: name });
    } finally {
      if (source.kind === 'socket') stream.destroy();
    }
    return;
  }

  let inputArgs: string[];
  let channels: number;
  let feed: Readable | null = null;
  switch (source.kind) {
    case 'alsa':
      channels = source.channels ?? 2;
      inputArgs = ['-f', 'alsa', '-channels', String(channels), ...(source.sampleRate ? ['-sample_rate', String(source.sampleRate)] : []), '-i', source.device];
      break;
    case 'ffmpeg':
      channels = source.channels ?? 1;
      inputArgs = source.inputArgs;
      break;
    case 'file':
      // ffmpeg's own "No such file" comes only once it runs; say it before anything starts
      await access(source.path, constants.R_OK).catch((e: NodeJS.ErrnoException) => {
        throw new AudioError('AUDIO_UNREADABLE', `cannot read the audio file: ${e.code ?? e.message}`, name, { cause: e });
      });
      channels = 1;
      // -re paces the reading to the audio's own clock, so the file stands in for a sound card
      inputArgs = [...(source.loop === false ? [] : ['-stream_loop', '-1']), '-re', '-i', source.path];
      break;
    case 'stream':
    case 'socket':
      channels = source.channels;
      inputArgs = ['-f', source.format, '-ar', String(source.sampleRate), '-ac', String(source.channels), '-i', 'pipe:0'];
      feed = source.kind === 'stream' ? source.stream : await openSocket(source.address, name);
      break;
  }
  const proc = spawnFfmpeg(ffmpeg, inputArgs, channels, rate, feed !== null, name, opts.monitor);
  const grace = opts.killGraceMs ?? KILL_GRACE_MS;
  const onAbort = () => terminate(proc.child, grace);
  if (opts.signal?.aborted) onAbort();
  else opts.signal?.addEventListener('abort', onAbort, { once: true });
  let failure: unknown = null;
  proc.exited.catch((e: unknown) => {
    failure = e;
    proc.child.stdout.destroy();
  });
  if (feed && proc.child.stdin) {
    feed.pipe(proc.child.stdin);
    proc.child.stdin.on('error', () => undefined); // ffmpeg gone: reported through its exit status
  }
  try {
    yield* pcmFrames(proc.child.stdout, { format: 'f32le', channels, samplesPerFrame: opts.samplesPerFrame, source: name });
    const { code, signal } = await proc.exited;
    if (failure) throw failure;
    if (opts.signal?.aborted) return;
    if (code !== 0) throw new AudioError('AUDIO_LIVE_FAILED', `ffmpeg stopped with ${code ?? signal} (${lastLine(proc.stderr())})`, name);
  } catch (err) {
    if (failure) throw failure;
    throw err;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    terminate(proc.child, grace);
    if (feed && source.kind === 'socket') feed.destroy();
    // the child is gone (reaped) when the stream is
    await proc.exited.catch(() => undefined);
  }
}

function openSocket(address: string, name: string): Promise<Readable> {
  return new Promise((resolve, reject) => {
    const m = /^(.*):(\d+)$/.exec(address);
    const sock = m ? connect({ host: m[1] || '127.0.0.1', port: Number(m[2]) }) : connect({ path: address });
    sock.once('connect', () => resolve(sock));
    sock.once('error', (e) => reject(new AudioError('AUDIO_LIVE_FAILED', `cannot connect: ${e.message}`, name, { cause: e })));
  });
}
