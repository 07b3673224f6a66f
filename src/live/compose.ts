/**
 * Framing: the output canvas (a colour, or a live camera behind) with the synthesized picture
 * scaled onto it at a size and position that glide to a new placement over a transition instead of
 * jumping. The glide runs on the frames' own clock (the music's time they show, LiveFrame.at), so a
 * recording shows the same smooth move as the projector, drops or not. The picture is scaled here
 * (bilinear, integer weights) rather than in the JPEG encoder, so a new placement needs no encoder
 * restart and no dropped frames; only a new canvas size does.
 */
import { CameraFeed } from './camera.ts';
import type { Framing } from './spec.ts';

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export const DEFAULT_TRANSITION_MS = 500;

/** Slow at both ends (cubic in-out): the picture neither jerks away nor lands with a jolt. */
export function easeInOut(u: number): number {
  return u < 0.5 ? 4 * u * u * u : 1 - (-2 * u + 2) ** 3 / 2;
}

/** A placement that moves to a new target over a time, starting with the first frame after the change. */
export class Glide {
  private from: Rect;
  private to: Rect;
  private start = 0;
  private seconds = 0;
  private next: { rect: Rect; seconds: number } | null = null;

  constructor(rect: Rect) {
    this.from = rect;
    this.to = rect;
  }

  get target(): Rect {
    return this.next?.rect ?? this.to;
  }

  /** A new target; the move starts where the picture is when the next frame asks. */
  retarget(rect: Rect, ms: number): void {
    this.next = { rect, seconds: ms / 1000 };
  }

  /** The placement for a frame at time `t` (seconds on the frames' clock). */
  at(t: number): Rect {
    if (this.next) {
      this.from = this.rectAt(t);
      this.to = this.next.rect;
      this.seconds = this.next.seconds;
      this.start = t;
      this.next = null;
    }
    return this.rectAt(t);
  }

  private rectAt(t: number): Rect {
    const u = this.seconds <= 0 ? 1 : Math.min(1, Math.max(0, (t - this.start) / this.seconds));
    const e = easeInOut(u);
    const mix = (a: number, b: number) => Math.round(a + (b - a) * e);
    return { x: mix(this.from.x, this.to.x), y: mix(this.from.y, this.to.y), width: mix(this.from.width, this.to.width), height: mix(this.from.height, this.to.height) };
  }
}

interface Tables {
  key: string;
  x0: Int32Array;
  x1: Int32Array;
  fx: Int32Array;
  y0: Int32Array;
  y1: Int32Array;
  fy: Int32Array;
}

/** Source positions and 8-bit weights for each output column and row (pixel centres aligned). */
function tables(sw: number, sh: number, r: Rect): Tables {
  const axis = (n: number, s: number) => {
    const i0 = new Int32Array(n);
    const i1 = new Int32Array(n);
    const f = new Int32Array(n);
    for (let d = 0; d < n; d++) {
      const p = Math.min(s - 1, Math.max(0, ((d + 0.5) * s) / n - 0.5));
      const a = Math.floor(p);
      i0[d] = a;
      i1[d] = Math.min(s - 1, a + 1);
      f[d] = Math.round((p - a) * 256);
    }
    return [i0, i1, f] as const;
  };
  const [x0, x1, fx] = axis(r.width, sw);
  const [y0, y1, fy] = axis(r.height, sh);
  return { key: `${sw}x${sh}>${r.width}x${r.height}`, x0, x1, fx, y0, y1, fy };
}

/**
 * Scales an rgb24 picture bilinearly into `r` of an rgb24 canvas `cw` wide (r lies inside the
 * canvas). Separable: each output row first blends its two source rows into one (8-bit weights,
 * 16-bit sums), then interpolates along it; a row of the source shared by output rows is blended once.
 */
export function scaleInto(canvas: Uint8Array, cw: number, src: Uint8Array, sw: number, sh: number, r: Rect, t: Tables = tables(sw, sh, r)): void {
  if (r.width === sw && r.height === sh) {
    // the picture at its own size (the usual steady state): row copies
    for (let y = 0; y < sh; y++) canvas.set(src.subarray(y * sw * 3, (y + 1) * sw * 3), ((r.y + y) * cw + r.x) * 3);
    return;
  }
  const { x0, x1, fx, y0, y1, fy } = t;
  const row = new Uint16Array(sw * 3);
  const n = sw * 3;
  let lastA = -1;
  let lastW = -1;
  for (let dy = 0; dy < r.height; dy++) {
    const a = y0[dy]! * n;
    const b = y1[dy]! * n;
    const wy = fy[dy]!;
    if (a !== lastA || wy !== lastW) {
      const iw = 256 - wy;
      for (let i = 0; i < n; i++) row[i] = src[a + i]! * iw + src[b + i]! * wy;
      lastA = a;
      lastW = wy;
    }
    let o = ((r.y + dy) * cw + r.x) * 3;
    for (let dx = 0; dx < r.width; dx++) {
      const p = x0[dx]! * 3;
      const q = x1[dx]! * 3;
      const wx = fx[dx]!;
      const iw = 256 - wx;
      canvas[o++] = (row[p]! * iw + row[q]! * wx + 32768) >>> 16;
      canvas[o++] = (row[p + 1]! * iw + row[q + 1]! * wx + 32768) >>> 16;
      canvas[o++] = (row[p + 2]! * iw + row[q + 2]! * wx + 32768) >>> 16;
    }
  }
}

function rgbOf(color: string | undefined): [number, number, number] {
  const v = parseInt((color ?? '#000000').slice(1), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

export interface FramerEvents {
  /** the camera failed (the canvas shows its colour meanwhile) */
  cameraError(message: string): void;
  cameraRunning(): void;
}

/** One canvas size: its background (colour or camera), the picture's gliding placement, the compositing. */
export class Framer {
  private spec: Framing;
  private readonly glide: Glide;
  private colour: Buffer | null = null;
  private camera: CameraFeed | null = null;
  private cache: Tables | null = null;

  constructor(
    framing: Framing,
    private readonly fps: number,
    private readonly events: FramerEvents,
    private readonly ffmpeg = 'ffmpeg',
    private readonly cameraRetryMs = 2000,
  ) {
    this.spec = framing;
    this.glide = new Glide({ ...framing.frame });
    this.startCamera();
  }

  get width(): number {
    return this.spec.width;
  }

  get height(): number {
    return this.spec.height;
  }

  /** The framing as last set (the placement it glides to). */
  get framing(): Framing {
    return this.spec;
  }

  /** Whether `next` can be reached by this framer (same canvas): else the caller makes a new one. */
  fits(next: Framing): boolean {
    return next.width === this.spec.width && next.height === this.spec.height;
  }

  /** New placement, colour or camera on the same canvas: the picture glides, the rest changes at once. */
  update(next: Framing): void {
    const prev = this.spec;
    this.spec = next;
    if (prev.color !== next.color) this.colour = null;
    if (JSON.stringify(prev.camera ?? null) !== JSON.stringify(next.camera ?? null)) {
      this.camera?.close();
      this.camera = null;
      this.startCamera();
    }
    const f = next.frame;
    const t = this.glide.target;
    if (f.x !== t.x || f.y !== t.y || f.width !== t.width || f.height !== t.height) this.glide.retarget({ ...f }, next.transitionMs ?? DEFAULT_TRANSITION_MS);
  }

  /** The canvas with the picture (rgb24, `pw` x `ph`) placed for a frame at time `at`. */
  compose(picture: Uint8Array, pw: number, ph: number, at: number): { rgb: Buffer; placement: Rect } {
    const { width: cw, height: ch } = this.spec;
    const canvas = Buffer.allocUnsafe(cw * ch * 3);
    const behind = this.camera?.latest ?? this.colourCanvas();
    behind.copy(canvas);
    const r = this.glide.at(at);
    const key = `${pw}x${ph}>${r.width}x${r.height}`;
    if (this.cache?.key !== key) this.cache = tables(pw, ph, r);
    scaleInto(canvas, cw, picture, pw, ph, r, this.cache);
    return { rgb: canvas, placement: r };
  }

  /** Resolves once the camera's ffmpeg has exited. */
  close(): Promise<void> {
    const gone = this.camera?.close() ?? Promise.resolve();
    this.camera = null;
    return gone;
  }

  private startCamera(): void {
    const c = this.spec.camera;
    if (!c) return;
    this.camera = new CameraFeed(c, this.spec.width, this.spec.height, this.fps, { error: (m) => this.events.cameraError(m), running: () => this.events.cameraRunning() }, this.ffmpeg, this.cameraRetryMs);
  }

  private colourCanvas(): Buffer {
    if (this.colour) return this.colour;
    const [r, g, b] = rgbOf(this.spec.color);
    const px = Buffer.from([r, g, b]);
    const buf = Buffer.allocUnsafe(this.spec.width * this.spec.height * 3);
    buf.fill(px);
    this.colour = buf;
    return buf;
  }
}
