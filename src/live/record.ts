/**
 * An ffmpeg output of a session's frames with its audio: a file (.mkv, .ts, .mp4) or a stream URL
 * (udp://, srt:// -> MPEG-TS, rtmp:// -> FLV), H.264 tuned for latency and AAC. It reads the JPEGs
 * the session already made (no second encode of the picture) and the session's monitor PCM (a
 * second output of the same decode the analysis reads, see audio/live.ts).
 *
 * Frames follow the audio clock here too: each frame carries the time of the music it shows on the
 * session's timeline (`LiveFrame.at`), and the output is a constant-rate video whose slot n (at
 * n / fps) shows the newest frame at or before that time. A dropped frame is the previous one held
 * for a slot longer; the picture never drifts from the sound, whatever the render's wall clock did.
 * The audio is muxed as it came; at the end the video is held to the audio's length.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { MONITOR_CHANNELS } from '../audio/live.ts';
import type { Client, LiveFrame } from './hub.ts';
import { FILE_OUTPUT_FORMATS, STREAM_SCHEMES, fileOutputFormat, isUrl } from './targets.ts';

/** The monitor PCM the outputs take (stereo s16le). */
export const MONITOR_RATE = 48000;
export const BYTES_PER_SAMPLE = 2 * MONITOR_CHANNELS;
/** Past this much unwritten (ffmpeg not reading: a stalled URL), the output gives up rather than grow memory. */
const MAX_BACKLOG = 64 << 20;

function container(target: string): readonly string[] {
  if (/^(udp|srt|tcp):\/\//i.test(target)) return ['-f', 'mpegts'];
  if (/^rtmps?:\/\//i.test(target)) return ['-f', 'flv'];
  // another scheme, or a file's extension, is refused before a session starts (targets.ts)
  if (isUrl(target)) throw new Error(`output ${target}: no stream output for its scheme (${STREAM_SCHEMES.map((s) => `${s}://`).join(', ')})`);
  const file = fileOutputFormat(target);
  if (file !== null) return file;
  throw new Error(`output ${target}: no container for its extension (${Object.keys(FILE_OUTPUT_FORMATS).join(', ')})`);
}

export class FfmpegOutput implements Client {
  readonly output = 'ffmpeg' as const;
  private readonly child: ChildProcess;
  private readonly video: Writable;
  private readonly audioIn: Writable;
  private stderr = '';
  private failure: string | null = null;
  /** video slots written (slot n is at n / fps) */
  private slots = 0;
  /** the JPEG showing now (held until the next frame's time) */
  private current: Buffer | null = null;
  private audioSamples = 0;
  private closed = false;
  dropped = 0;
  readonly exited: Promise<{ code: number | null; error: string | null }>;

  /**
   * `size` is the output's for its whole length: pictures of another size (a network set or a
   * framing changed mid-show) are fitted into it, centred, since an H.264 stream cannot change size.
   * `fps` is the output's constant rate (the session's at its start).
   */
  constructor(
    readonly target: string,
    size: { width: number; height: number },
    private readonly fps: number,
    private readonly onDrop: () => void,
    ffmpeg = 'ffmpeg',
  ) {
    // x264 wants even sizes
    const w = 2 * Math.ceil(size.width / 2);
    const h = 2 * Math.ceil(size.height / 2);
    const args = ['-hide_banner', '-nostats', '-loglevel', 'error', '-y'];
    // the video lags the audio by the render's latency: ample input queues, so neither input stalls the other
    args.push('-thread_queue_size', '1024', '-f', 'image2pipe', '-framerate', String(fps), '-c:v', 'mjpeg', '-i', 'pipe:0');
    args.push('-thread_queue_size', '1024', '-f', 's16le', '-ar', String(MONITOR_RATE), '-ac', String(MONITOR_CHANNELS), '-i', 'pipe:3');
    args.push('-map', '0:v', '-map', '1:a');
    args.push('-vf', `scale=${w}:${h}:force_original_aspect_ratio=decrease,pad=${w}:${h}:(ow-iw)/2:(oh-ih)/2,setsar=1`, '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p');
    args.push('-c:a', 'aac', '-b:a', '192k');
    args.push(...container(target), target);
    // its own process group: a Ctrl-C reaches the daemon alone, whose stop closes the inputs after
    // the video is held to the audio's length (sharing the group, ffmpeg quit on the signal, exit
    // 255, before the stop). A daemon gone outright closes both inputs: ffmpeg finishes the file
    this.child = spawn(ffmpeg, args, { stdio: ['pipe', 'ignore', 'pipe', 'pipe'], detached: true });
    this.video = this.child.stdin!;
    this.audioIn = this.child.stdio[3] as Writable;
    (this.child.stderr as Readable).on('data', (c: Buffer) => (this.stderr = (this.stderr + c.toString('utf8')).slice(-2000)));
    // reported through the exit
    this.video.on('error', () => {});
    this.audioIn.on('error', () => {});
    this.exited = new Promise((resolve) => {
      this.child.once('error', (e) => resolve({ code: null, error: `cannot start ffmpeg: ${e.message}` }));
      this.child.once('close', (code) => resolve({ code, error: this.failure ?? (code === 0 ? null : this.stderr.trim().split('\n').at(-1) || `ffmpeg exited with ${code}`) }));
    });
  }

  /** Seconds of video written so far. */
  get videoSeconds(): number {
    return this.slots / this.fps;
  }

  get audioSeconds(): number {
    return this.audioSamples / MONITOR_RATE;
  }

  /** Monitor PCM (whole stereo samples), in the order it was played. */
  audio(chunk: Buffer): void {
    if (this.closed || this.failure) return;
    this.audioSamples += chunk.length / BYTES_PER_SAMPLE;
    this.write(this.audioIn, chunk);
  }

  offer(frame: LiveFrame): void {
    if (this.closed || this.failure) return;
    // slots before this frame's time show the frame before it (the first frame stands in for the time before it)
    const until = Math.ceil(frame.at * this.fps - 1e-6);
    if (until <= this.slots && this.current) {
      this.dropped++; // a newer frame in the same slot: this one replaces the one never shown
      this.onDrop();
    }
    this.fill(until, this.current ?? frame.jpeg);
    this.current = frame.jpeg;
  }

  /** Ends the inputs, the video held to the audio's length; ffmpeg finishes the file (see `exited`). */
  close(): void {
    if (this.closed) return;
    if (this.current) this.fill(Math.round(this.audioSeconds * this.fps), this.current);
    this.closed = true;
    this.video.end();
    this.audioIn.end();
  }

  private fill(until: number, jpeg: Buffer): void {
    for (; this.slots < until && !this.failure; this.slots++) this.write(this.video, jpeg);
  }

  private write(to: Writable, chunk: Buffer): void {
    if (to.destroyed) return;
    to.write(chunk);
    if (this.video.writableLength + this.audioIn.writableLength > MAX_BACKLOG) {
      this.failure = `ffmpeg is not keeping up (over ${MAX_BACKLOG >> 20} MiB waiting): output stopped`;
      this.child.kill('SIGKILL');
    }
  }
}
