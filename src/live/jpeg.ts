/**
 * JPEG encoding off the event loop: one persistent ffmpeg per picture size (`rawvideo` rgb24 in,
 * `image2pipe` mjpeg out), frames in order. A frame costs a pipe write and a scan for the JPEG's
 * end marker, never a compression on the main thread (the thermal loop shares it).
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { terminate } from '../audio/ffmpeg.ts';
import type { Readable, Writable } from 'node:stream';

interface Waiter {
  resolve: (jpeg: Buffer) => void;
  reject: (err: Error) => void;
}

/** Cuts a byte stream of concatenated JPEGs at each EOI (FFD9: entropy-coded data stuffs every FF, so it only ends a picture). */
export class JpegSplitter {
  private buf: Buffer = Buffer.alloc(0);
  private scanFrom = 0;

  push(chunk: Buffer): Buffer[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: Buffer[] = [];
    for (;;) {
      const end = this.buf.indexOf(EOI, this.scanFrom);
      if (end < 0) {
        this.scanFrom = Math.max(0, this.buf.length - 1);
        return out;
      }
      out.push(this.buf.subarray(0, end + 2));
      this.buf = this.buf.subarray(end + 2);
      this.scanFrom = 0;
    }
  }
}
const EOI = Buffer.from([0xff, 0xd9]);

export class JpegEncoder {
  private readonly child: ChildProcessByStdio<Writable, Readable, Readable>;
  private readonly waiters: Waiter[] = [];
  private stderr = '';
  private dead: Error | null = null;
  /** settles once ffmpeg has exited (or never started) */
  private readonly gone: Promise<void>;

  constructor(
    readonly width: number,
    readonly height: number,
    quality: number,
    ffmpeg = 'ffmpeg',
  ) {
    const args = ['-hide_banner', '-nostats', '-loglevel', 'error', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${width}x${height}`, '-i', 'pipe:0'];
    // one thread: frame threading holds each picture until the next one arrives (a frame of latency);
    // full-range yuv as JPEG expects; -flush_packets: each picture leaves as soon as it is made
    args.push('-c:v', 'mjpeg', '-threads', '1', '-pix_fmt', 'yuvj420p', '-q:v', String(quality), '-f', 'image2pipe', '-flush_packets', '1', 'pipe:1');
    // its own process group, so a Ctrl-C reaches the daemon alone, which closes the encoder in its
    // stop; a daemon gone outright ends it through its pipes (stdin's end, or a write to stdout)
    this.child = spawn(ffmpeg, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    const split = new JpegSplitter();
    this.child.stdout.on('data', (c: Buffer) => {
      for (const jpeg of split.push(c)) this.waiters.shift()?.resolve(Buffer.from(jpeg));
    });
    this.child.stderr.on('data', (c: Buffer) => (this.stderr = (this.stderr + c.toString('utf8')).slice(-2000)));
    this.child.stdin.on('error', () => {}); // reported through 'close'
    this.child.on('error', (e) => this.fail(new Error(`JPEG encoder: cannot start ffmpeg (${ffmpeg}): ${e.message}`)));
    this.gone = new Promise((resolve) => {
      this.child.once('error', () => resolve());
      this.child.once('close', () => resolve());
    });
    this.child.on('close', (code, signal) => this.fail(new Error(`JPEG encoder: ffmpeg ${signal ? `killed by ${signal}` : `exited with ${code}`}: ${this.stderr.trim().split('\n').at(-1) || 'no message'}`)));
  }

  /** Pictures written and not yet back. */
  get pending(): number {
    return this.waiters.length;
  }

  get failed(): Error | null {
    return this.dead;
  }

  encode(rgb: Uint8Array): Promise<Buffer> {
    if (this.dead) return Promise.reject(this.dead);
    if (rgb.length !== this.width * this.height * 3) return Promise.reject(new Error(`JPEG encoder: ${rgb.length} bytes is not a ${this.width}x${this.height} rgb24 picture`));
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      // ffmpeg's pipe absorbs a few frames; the session bounds what is pending (dropped, cause "encode")
      this.child.stdin.write(rgb);
    });
  }

  /** closed by its owner (stop, new framing), not failed */
  closedOnPurpose = false;

  /** Resolves once ffmpeg has exited: a stop that has awaited it leaves no encoder behind. */
  close(): Promise<void> {
    this.closedOnPurpose = true;
    this.fail(new Error('JPEG encoder closed'));
    this.child.stdin.end();
    // an ffmpeg blocked writing to a stdout nobody reads any more ignores SIGTERM and would keep the process up
    terminate(this.child);
    return this.gone;
  }

  private fail(err: Error): void {
    this.dead ??= err;
    for (const w of this.waiters.splice(0)) w.reject(this.dead);
  }
}

/** One encoder per picture size (a session's networks may differ, a framing has its canvas), made on first use. */
export class JpegEncoders {
  private readonly bySize = new Map<string, JpegEncoder>();

  constructor(
    private readonly quality: number,
    private readonly ffmpeg = 'ffmpeg',
  ) {}

  get(width: number, height: number): JpegEncoder {
    const key = `${width}x${height}`;
    let e = this.bySize.get(key);
    if (!e || e.failed) {
      e?.close();
      e = new JpegEncoder(width, height, this.quality, this.ffmpeg);
      this.bySize.set(key, e);
    }
    return e;
  }

  /** Resolves once every encoder's ffmpeg has exited. */
  close(): Promise<void> {
    const gone = [...this.bySize.values()].map((e) => e.close());
    this.bySize.clear();
    return Promise.all(gone).then(() => undefined);
  }
}
