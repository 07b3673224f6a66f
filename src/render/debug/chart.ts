/**
 * The debug video's chart of one frame: a window of a few seconds around the frame (the cursor in
 * the middle) with the audio features, the latent's norm and first components and the network
 * index over time, and below them the frame's whole latent vector (GANce's debug view showed the
 * vector fed to the network and the network index beside the frame).
 *
 * The track-wide numbers come first (`collectSeries`, a few floats per frame: the series and
 * their ranges); each frame is then drawn from them and its own latent in time linear in the
 * picture's width, whatever the track's length.
 */
import type { LatentFrame } from '../../latents/frame.ts';
import { Raster, type Rgb } from './raster.ts';

export const CHART_WIDTH = 960;
export const CHART_HEIGHT = 540;
/** seconds shown, half before the cursor and half after */
export const WINDOW_SECONDS = 8;
/** latent components drawn over time */
export const COMPONENTS = 3;

const BG: Rgb = [18, 18, 24];
const PANEL: Rgb = [30, 30, 40];
const GRID: Rgb = [58, 58, 72];
const TEXT: Rgb = [220, 220, 220];
const DIM: Rgb = [140, 140, 150];
const CURSOR: Rgb = [255, 255, 255];

/** The per-frame features drawn, with their colours (each scaled to 0..1 over the track). */
export const FEATURES: ReadonlyArray<{ key: 'rms' | 'smoothedRms' | 'onset' | 'pulse' | 'harmonic' | 'percussive'; label: string; color: Rgb }> = [
  { key: 'rms', label: 'RMS', color: [200, 200, 200] },
  { key: 'smoothedRms', label: 'SMOOTHED RMS', color: [255, 210, 60] },
  { key: 'onset', label: 'ONSET', color: [230, 90, 230] },
  { key: 'pulse', label: 'PULSE', color: [255, 90, 80] },
  { key: 'harmonic', label: 'HARMONIC', color: [90, 220, 120] },
  { key: 'percussive', label: 'PERCUSSIVE', color: [80, 200, 255] },
];
const NORM_COLOR: Rgb = [255, 255, 255];
const COMPONENT_COLORS: Rgb[] = [[255, 120, 80], [120, 200, 255], [190, 255, 120]];
const NETWORK_COLOR: Rgb = [230, 80, 230];
const VECTOR_COLOR: Rgb = [120, 200, 255];

export interface DebugSeries {
  frames: number;
  fps: number;
  networks: readonly string[];
  /** network index per frame */
  network: Uint8Array;
  /** |row 0 of the latent| per frame */
  norm: Float32Array;
  /** the first COMPONENTS values of row 0, per frame */
  components: Float32Array;
  /** FEATURES per frame, scaled to 0..1 (null: the source had none) */
  features: Float32Array | null;
  maxNorm: number;
  /** largest |value| of any latent value drawn (components and vectors) */
  maxAbs: number;
}

/** A latent's first row: z whole, w its first `rowWidth` values. */
export function latentRow(f: LatentFrame, rowWidth: number): Float32Array {
  const v = f.z ?? f.w;
  if (!v) throw new Error(`latent frame ${f.index} has neither z nor w`);
  return f.z ? v : v.subarray(0, rowWidth);
}

/** One pass over the latents: the series and their ranges. */
export async function collectSeries(latents: AsyncIterable<LatentFrame>, o: { frames: number; fps: number; networks: readonly string[]; rowWidth: number }): Promise<DebugSeries> {
  const n = o.frames;
  const network = new Uint8Array(n);
  const norm = new Float32Array(n);
  const components = new Float32Array(n * COMPONENTS);
  let features: Float32Array | null = null;
  let maxNorm = 0;
  let maxAbs = 0;
  let seen = 0;
  for await (const f of latents) {
    if (f.index !== seen || seen >= n) throw new Error(`latent frame ${f.index} came where ${seen} of ${n} was due`);
    const row = latentRow(f, o.rowWidth);
    let sq = 0;
    for (let i = 0; i < row.length; i++) {
      const x = row[i]!;
      sq += x * x;
      const a = Math.abs(x);
      if (a > maxAbs) maxAbs = a;
    }
    norm[seen] = Math.sqrt(sq);
    if (norm[seen]! > maxNorm) maxNorm = norm[seen]!;
    for (let c = 0; c < COMPONENTS; c++) components[seen * COMPONENTS + c] = row[c] ?? 0;
    network[seen] = f.network;
    if (f.features) {
      features ??= new Float32Array(n * FEATURES.length);
      FEATURES.forEach((d, k) => (features![seen * FEATURES.length + k] = f.features![d.key]));
    }
    seen++;
  }
  if (seen !== n) throw new Error(`the latents stopped at frame ${seen} of ${n}`);
  if (features) {
    // each feature to 0..1 over the track (the loudness ones have no fixed scale)
    for (let k = 0; k < FEATURES.length; k++) {
      let top = 0;
      for (let i = 0; i < n; i++) top = Math.max(top, features[i * FEATURES.length + k]!);
      if (top > 0) for (let i = 0; i < n; i++) features[i * FEATURES.length + k]! /= top;
    }
  }
  return { frames: n, fps: o.fps, networks: o.networks, network, norm, components, features, maxNorm, maxAbs };
}

const clock = (s: number) => `${Math.floor(s / 60)}:${(s % 60).toFixed(2).padStart(5, '0')}`;

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}
const PLOT_X = 46;
const PLOT_W = CHART_WIDTH - PLOT_X - 12;
const AUDIO: Box = { x: PLOT_X, y: 34, w: PLOT_W, h: 170 };
const LATENT: Box = { x: PLOT_X, y: 216, w: PLOT_W, h: 140 };
const NETWORK: Box = { x: PLOT_X, y: 368, w: PLOT_W, h: 64 };
const VECTOR: Box = { x: PLOT_X, y: 444, w: PLOT_W, h: 88 };

/** Draws charts for one video; `draw(f, latent)` fills the raster for frame f. */
export class ChartPainter {
  readonly raster = new Raster(CHART_WIDTH, CHART_HEIGHT);
  private readonly background: Uint8Array;
  private readonly half: number;

  constructor(private readonly s: DebugSeries) {
    // what does not change from frame to frame is drawn once and copied in
    const r = this.raster;
    r.rect(0, 0, CHART_WIDTH, CHART_HEIGHT, BG);
    for (const [b, name] of [[AUDIO, 'AUDIO'], [LATENT, 'LATENT'], [NETWORK, 'NET'], [VECTOR, 'VECTOR']] as const) {
      r.rect(b.x, b.y, b.w, b.h, PANEL);
      r.text(2, b.y + 2, name, DIM);
    }
    r.rect(LATENT.x, LATENT.y + LATENT.h / 2, LATENT.w, 1, GRID);
    r.rect(VECTOR.x, VECTOR.y + VECTOR.h / 2, VECTOR.w, 1, GRID);
    let lx = AUDIO.x + 4;
    if (s.features) {
      for (const d of FEATURES) {
        r.rect(lx, AUDIO.y + 4, 7, 7, d.color);
        lx = r.text(lx + 10, AUDIO.y + 4, d.label, TEXT) + 10;
      }
    } else r.text(lx, AUDIO.y + 4, 'NO AUDIO FEATURES IN THIS SOURCE', DIM);
    lx = LATENT.x + 4;
    r.rect(lx, LATENT.y + 4, 7, 7, NORM_COLOR);
    lx = r.text(lx + 10, LATENT.y + 4, 'NORM', TEXT) + 10;
    COMPONENT_COLORS.forEach((c, k) => {
      r.rect(lx, LATENT.y + 4, 7, 7, c);
      lx = r.text(lx + 10, LATENT.y + 4, `COMPONENT ${k}`, TEXT) + 10;
    });
    r.text(VECTOR.x + 4, VECTOR.y + 4, 'ROW 0 OF THIS FRAME', TEXT);
    this.background = r.data.slice();
    this.half = Math.max(1, Math.round((WINDOW_SECONDS / 2) * s.fps));
  }

  /** frame g at column c of a plot `w` wide, with frame f at its middle */
  private frameAt(f: number, c: number, w: number): number {
    return Math.floor(f - this.half + (c * 2 * this.half) / w);
  }

  /** A series over the window: per column, a span from the last column's y to this one's. */
  private curve(b: Box, f: number, value: (g: number) => number, color: Rgb): void {
    let prev: number | null = null;
    for (let c = 0; c < b.w; c++) {
      const g = this.frameAt(f, c, b.w);
      if (g < 0 || g >= this.s.frames) {
        prev = null;
        continue;
      }
      const v = Math.min(1, Math.max(0, value(g)));
      const y = b.y + b.h - 2 - v * (b.h - 18);
      this.raster.vspan(b.x + c, prev ?? y, y, color);
      prev = y;
    }
  }

  draw(f: number, latent: Float32Array): Uint8Array {
    const s = this.s;
    const r = this.raster;
    r.data.set(this.background);
    const net = s.network[f]!;
    const t = f / s.fps;
    r.text(4, 8, `FRAME ${f}/${s.frames}  T ${clock(t)}  NETWORK ${net + 1}/${s.networks.length} ${s.networks[net] ?? ''}`, TEXT, 2);

    // time ticks every second
    for (let c = 0; c < AUDIO.w; c++) {
      const g = this.frameAt(f, c, AUDIO.w);
      const g1 = this.frameAt(f, c + 1, AUDIO.w);
      if (g >= 0 && Math.floor(g1 / s.fps) > Math.floor(g / s.fps) && g1 < s.frames) {
        for (const b of [AUDIO, LATENT, NETWORK]) r.rect(b.x + c, b.y + 14, 1, b.h - 14, GRID);
      }
    }
    if (s.features) {
      const feats = s.features;
      FEATURES.forEach((d, k) => this.curve(AUDIO, f, (g) => feats[g * FEATURES.length + k]!, d.color));
    }
    const top = s.maxAbs || 1;
    COMPONENT_COLORS.forEach((color, k) => this.curve(LATENT, f, (g) => 0.5 + s.components[g * COMPONENTS + k]! / top / 2, color));
    this.curve(LATENT, f, (g) => s.norm[g]! / (s.maxNorm || 1), NORM_COLOR);
    const steps = Math.max(1, s.networks.length - 1);
    this.curve(NETWORK, f, (g) => s.network[g]! / steps, NETWORK_COLOR);
    for (const b of [AUDIO, LATENT, NETWORK]) r.rect(b.x + b.w / 2, b.y, 1, b.h, CURSOR);

    // the whole vector: one bar per value from the middle line
    const mid = VECTOR.y + VECTOR.h / 2;
    const n = latent.length;
    for (let c = 0; c < VECTOR.w; c++) {
      const i = Math.floor((c * n) / VECTOR.w);
      const v = Math.max(-1, Math.min(1, latent[i]! / top));
      r.vspan(VECTOR.x + c, mid, mid - v * (VECTOR.h / 2 - 12), VECTOR_COLOR);
    }
    return r.data;
  }
}
