/**
 * A live camera behind the canvas: any ffmpeg video input, read as rgb24 pictures already scaled
 * and cropped to the canvas (ffmpeg does the scaling, off the event loop). A V4L2 device is the real
 * case; ffmpeg's lavfi test sources stand in for it where there is no camera (the tests), through
 * the same reader: only the input arguments differ. The newest picture is kept; a device that is
 * missing, busy or unplugged is reported and tried again, the canvas showing its colour meanwhile.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { terminate } from '../audio/ffmpeg.ts';
import type { Readable } from 'node:stream';
import type { Camera } from './spec.ts';

/** The ffmpeg input arguments of a camera, and its name in errors. */
export function cameraInput(c: Camera): { args: string[]; name: string } {
  switch (c.kind) {
    case 'v4l2':
      return {
        args: ['-f', 'v4l2', ...(c.inputFormat ? ['-input_format', c.inputFormat] : []), ...(c.size ? ['-video_size', c.size] : []), ...(c.fps ? ['-framerate', String(c.fps)] : []), '-i', c.device],
        name: `camera ${c.device}`,
      };
    case 'testsrc': {
      const pattern = c.pattern ?? 'testsrc';
      // -re: a generated source runs as fast as it can; a camera delivers at its own rate
      return { args: ['-re', '-f', 'lavfi', '-i', `${pattern}=size=${c.size ?? '640x480'}:rate=${c.fps ?? 30}`], name: `camera ${pattern}` };
    }
  }
}

export interface CameraEvents {
  /** the camera failed (or could not start); it is tried again after the retry wait */
  error(message: string): void;
  /** pictures arrive (again) */
  running(): void;
}

export class CameraFeed {
  private child: ChildProcessByStdio<null, Readable, Readable> | null = null;
  /** settles once the current child has exited (or never started) */
  private childGone: Promise<void> = Promise.resolve();
  private newest: Buffer | null = null;
  private closed = false;
  private timer: NodeJS.Timeout | null = null;
  private readonly frameBytes: number;
  /** pictures read since the feed (re)started */
  pictures = 0;

  constructor(
    readonly camera: Camera,
    readonly width: number,
    readonly height: number,
    private readonly fps: number,
    private readonly events: CameraEvents,
    private readonly ffmpeg = 'ffmpeg',
    private readonly retryMs = 2000,
  ) {
    this.frameBytes = width * height * 3;
    this.start();
  }

  /** The newest picture (canvas-sized rgb24), or null while the camera is not delivering. */
  get latest(): Buffer | null {
    return this.newest;
  }

  /** Resolves once its ffmpeg has exited: a stop that has awaited it leaves no reader behind (and the device free). */
  close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    // a capture device that hangs leaves ffmpeg deaf to SIGTERM
    if (this.child) terminate(this.child);
    this.child = null;
    this.newest = null;
    return this.childGone;
  }

  private start(): void {
    const { args, name } = cameraInput(this.camera);
    const vf = `scale=${this.width}:${this.height}:force_original_aspect_ratio=increase,crop=${this.width}:${this.height},fps=${this.fps}`;
    const child = spawn(this.ffmpeg, ['-hide_banner', '-nostdin', '-loglevel', 'error', ...args, '-an', '-vf', vf, '-pix_fmt', 'rgb24', '-f', 'rawvideo', 'pipe:1'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      // its own process group: a Ctrl-C reaches the daemon alone, which closes the feed in its stop.
      // A daemon gone outright: ffmpeg's next picture finds stdout's reader gone (EPIPE) and it exits
      detached: true,
    });
    this.child = child;
    this.childGone = new Promise((resolve) => {
      child.once('error', () => resolve());
      child.once('close', () => resolve());
    });
    let stderr = '';
    let pending: Buffer[] = [];
    let have = 0;
    let started = false;
    child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString('utf8')).slice(-2000)));
    child.stdout.on('data', (c: Buffer) => {
      pending.push(c);
      have += c.length;
      while (have >= this.frameBytes) {
        const all = pending.length === 1 ? pending[0]! : Buffer.concat(pending);
        // the newest whole picture; older whole ones in the same read are skipped
        const whole = Math.floor(all.length / this.frameBytes) * this.frameBytes;
        this.newest = Buffer.from(all.subarray(whole - this.frameBytes, whole));
        this.pictures++;
        const rest = all.subarray(whole);
        pending = rest.length ? [rest] : [];
        have = rest.length;
        if (!started) {
          started = true;
          this.events.running();
        }
      }
    });
    const failed = (why: string) => {
      if (this.closed || this.child !== child) return;
      this.child = null;
      this.newest = null;
      this.events.error(`${name}: ${why}`);
      this.timer = setTimeout(() => {
        this.timer = null;
        if (!this.closed) this.start();
      }, this.retryMs);
      this.timer.unref();
    };
    child.on('error', (e) => failed(`cannot start ffmpeg: ${e.message}`));
    // "/dev/video9: No such file or directory" is said once, not after "camera /dev/video9: " again
    const own = `${name.replace(/^camera /, '')}: `;
    child.on('close', (code, signal) => failed((lastLine(stderr) ?? `ffmpeg ${signal ? `killed by ${signal}` : `exited with ${code}`}`).replace(own, '')));
  }
}

/** ffmpeg's last line, without the "[v4l2 @ 0x...]" prefix it puts on some. */
function lastLine(stderr: string): string | null {
  const line = stderr.trim().split('\n').at(-1)?.replace(/^\[[^\]]*\]\s*/, '');
  return line || null;
}
