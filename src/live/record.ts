/**
 * An ffmpeg output of a session's frames: a file (.mkv, .ts, .mp4) or a stream URL (udp://, srt://
 * -> MPEG-TS, rtmp:// -> FLV), H.264 tuned for latency. It reads the JPEGs the session already
 * made (no second encode of the picture) and stamps each with its arrival time, so the timing of
 * the output is the timing of the show, drops included. Video only: the audio is not muxed in.
 * Like every client it gets the newest frame and skips what it could not take.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { NewestWriter, type Client, type LiveFrame } from './hub.ts';

function container(target: string): string[] {
  if (/^(udp|srt|tcp):\/\//i.test(target)) return ['-f', 'mpegts'];
  if (/^rtmps?:\/\//i.test(target)) return ['-f', 'flv'];
  if (/\.mp4$/i.test(target)) return ['-f', 'mp4', '-movflags', '+frag_keyframe+empty_moov']; // readable even if cut short
  if (/\.ts$/i.test(target)) return ['-f', 'mpegts'];
  return ['-f', 'matroska'];
}

export class FfmpegOutput implements Client {
  readonly output = 'ffmpeg' as const;
  private readonly child: ChildProcessByStdio<Writable, null, Readable>;
  private readonly writer: NewestWriter;
  private stderr = '';
  readonly exited: Promise<{ code: number | null; error: string | null }>;

  /**
   * `size` is the output's for its whole length: pictures of another size (a network set or a
   * framing changed mid-show) are fitted into it, centred, since an H.264 stream cannot change size.
   */
  constructor(
    readonly target: string,
    size: { width: number; height: number },
    onDrop: () => void,
    ffmpeg = 'ffmpeg',
  ) {
    // x264 wants even sizes
    const w = 2 * Math.ceil(size.width / 2);
    const h = 2 * Math.ceil(size.height / 2);
    const args = ['-hide_banner', '-nostats', '-loglevel', 'error', '-y'];
    args.push('-use_wallclock_as_timestamps', '1', '-f', 'image2pipe', '-c:v', 'mjpeg', '-i', 'pipe:0');
    args.push('-vf', `scale=${w}:${h}:force_original_aspect_ratio=decrease,pad=${w}:${h}:(ow-iw)/2:(oh-ih)/2,setsar=1`, '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p', '-fps_mode', 'vfr');
    args.push(...container(target), target);
    this.child = spawn(ffmpeg, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    this.child.stderr.on('data', (c: Buffer) => (this.stderr = (this.stderr + c.toString('utf8')).slice(-2000)));
    this.child.stdin.on('error', () => {}); // reported through the exit
    this.exited = new Promise((resolve) => {
      this.child.once('error', (e) => resolve({ code: null, error: `cannot start ffmpeg: ${e.message}` }));
      this.child.once('close', (code) => resolve({ code, error: code === 0 ? null : this.stderr.trim().split('\n').at(-1) || `ffmpeg exited with ${code}` }));
    });
    this.writer = new NewestWriter((f: LiveFrame, done) => {
      if (this.child.stdin.destroyed) return;
      if (this.child.stdin.write(f.jpeg)) done();
      else this.child.stdin.once('drain', done);
    }, onDrop);
  }

  get dropped(): number {
    return this.writer.dropped;
  }

  offer(frame: LiveFrame): void {
    this.writer.offer(frame);
  }

  /** Ends the input; ffmpeg finishes the file (see `exited`). */
  close(): void {
    this.writer.close();
    this.child.stdin.end();
  }
}
