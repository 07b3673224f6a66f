/**
 * A packed rgb24 picture with the few drawing operations the debug charts need (rectangles, lines,
 * spans, bitmap text), clipped to the picture. Its bytes go to ffmpeg as they are.
 */
import { GLYPH_HEIGHT, GLYPH_WIDTH, glyph } from './font.ts';

export type Rgb = readonly [number, number, number];

export class Raster {
  readonly data: Uint8Array;

  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.data = new Uint8Array(width * height * 3);
  }

  pixel(x: number, y: number, c: Rgb): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const i = (y * this.width + x) * 3;
    this.data[i] = c[0];
    this.data[i + 1] = c[1];
    this.data[i + 2] = c[2];
  }

  rect(x: number, y: number, w: number, h: number, c: Rgb): void {
    const x0 = Math.max(0, Math.round(x));
    const y0 = Math.max(0, Math.round(y));
    const x1 = Math.min(this.width, Math.round(x + w));
    const y1 = Math.min(this.height, Math.round(y + h));
    if (x1 <= x0) return;
    for (let yy = y0; yy < y1; yy++) {
      const row = (yy * this.width + x0) * 3;
      for (let k = row, end = row + (x1 - x0) * 3; k < end; k += 3) {
        this.data[k] = c[0];
        this.data[k + 1] = c[1];
        this.data[k + 2] = c[2];
      }
    }
  }

  /** A vertical span from y0 to y1 (either order), both ends included. */
  vspan(x: number, y0: number, y1: number, c: Rgb): void {
    const a = Math.round(Math.min(y0, y1));
    const b = Math.round(Math.max(y0, y1));
    this.rect(x, a, 1, b - a + 1, c);
  }

  /** Bresenham: every pixel of the line, end points included. */
  line(x0: number, y0: number, x1: number, y1: number, c: Rgb): void {
    x0 = Math.round(x0);
    y0 = Math.round(y0);
    x1 = Math.round(x1);
    y1 = Math.round(y1);
    const dx = Math.abs(x1 - x0);
    const dy = -Math.abs(y1 - y0);
    const sx = x0 < x1 ? 1 : -1;
    const sy = y0 < y1 ? 1 : -1;
    let err = dx + dy;
    for (;;) {
      this.pixel(x0, y0, c);
      if (x0 === x1 && y0 === y1) return;
      const e2 = 2 * err;
      if (e2 >= dy) {
        err += dy;
        x0 += sx;
      }
      if (e2 <= dx) {
        err += dx;
        y0 += sy;
      }
    }
  }

  /** Text with its top left at (x, y), each font pixel `scale` pixels; returns the x after it. */
  text(x: number, y: number, s: string, c: Rgb, scale = 1): number {
    for (const ch of s) {
      const rows = glyph(ch);
      for (let r = 0; r < GLYPH_HEIGHT; r++) {
        const bits = rows[r]!;
        for (let col = 0; col < GLYPH_WIDTH; col++) {
          if (bits & (1 << (GLYPH_WIDTH - 1 - col))) this.rect(x + col * scale, y + r * scale, scale, scale, c);
        }
      }
      x += (GLYPH_WIDTH + 1) * scale;
    }
    return x;
  }
}
