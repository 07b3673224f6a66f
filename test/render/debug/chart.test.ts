/**
 * The debug chart's drawing: the raster's primitives clip and land where asked, text draws the
 * font's pixels, and a chart of a made-up track puts the cursor, the network step and the curves
 * where the series say, scrolling as the frame moves.
 */
import { describe, expect, it } from 'vitest';
import type { LatentFrame } from '../../../src/latents/frame.ts';
import { CHART_HEIGHT, CHART_WIDTH, ChartPainter, collectSeries, FEATURES, WINDOW_SECONDS } from '../../../src/render/debug/chart.ts';
import { glyph } from '../../../src/render/debug/font.ts';
import { Raster } from '../../../src/render/debug/raster.ts';

const at = (r: { data: Uint8Array; width: number }, x: number, y: number) => [...r.data.subarray((y * r.width + x) * 3, (y * r.width + x) * 3 + 3)];

describe('raster', () => {
  it('rectangles, spans and lines land where asked and are clipped at the edges', () => {
    const r = new Raster(20, 10);
    r.rect(-5, -5, 8, 7, [1, 2, 3]);
    expect(at(r, 0, 0)).toEqual([1, 2, 3]);
    expect(at(r, 2, 1)).toEqual([1, 2, 3]);
    expect(at(r, 3, 1)).toEqual([0, 0, 0]);
    expect(at(r, 2, 2)).toEqual([0, 0, 0]);
    r.vspan(10, 8, 3, [9, 9, 9]);
    for (let y = 0; y < 10; y++) expect(at(r, 10, y)).toEqual(y >= 3 && y <= 8 ? [9, 9, 9] : [0, 0, 0]);
    r.line(0, 9, 19, 9, [5, 5, 5]);
    r.line(15, 0, 40, 25, [7, 7, 7]);
    for (let x = 0; x < 20; x++) expect(at(r, x, 9)).toEqual([5, 5, 5]);
    // the diagonal: (15,0), (16,1), ..., (19,4), and nothing written past the edge
    for (let k = 0; k < 5; k++) expect(at(r, 15 + k, k)).toEqual([7, 7, 7]);
    expect(r.data.length).toBe(20 * 10 * 3);
  });

  it('text draws each glyph\'s pixels, scaled, and advances by a cell', () => {
    const r = new Raster(40, 20);
    const end = r.text(1, 2, 'A1', [255, 0, 0], 2);
    expect(end).toBe(1 + 2 * 6 * 2);
    const a = glyph('a');
    for (let row = 0; row < 7; row++) {
      for (let col = 0; col < 5; col++) {
        const on = (a[row]! >> (4 - col)) & 1;
        expect(at(r, 1 + col * 2 + 1, 2 + row * 2 + 1)).toEqual(on ? [255, 0, 0] : [0, 0, 0]);
      }
    }
    expect(glyph('~')).not.toEqual(glyph(' '));
  });
});

describe('chart', () => {
  const fps = 10;
  const frames = 200;
  /** network 0 for the first 100 frames, then 1; the pulse rises with the frame; the latent's first value too */
  async function* track(): AsyncGenerator<LatentFrame> {
    for (let i = 0; i < frames; i++) {
      const z = new Float32Array(16).fill(0.1);
      z[0] = i / frames;
      const features = { rms: 0.5, onset: 0, pulse: i / frames, harmonic: 0, percussive: 0, chroma: new Float32Array(12), smoothedRms: 0.5 };
      yield { index: i, network: i < 100 ? 0 : 1, z, features };
    }
  }

  it('collects the series: network, norm, components, features scaled to their peak', async () => {
    const s = await collectSeries(track(), { frames, fps, networks: ['a', 'b'], rowWidth: 16 });
    expect(s.network[99]).toBe(0);
    expect(s.network[100]).toBe(1);
    expect(s.components[150 * 3]).toBeCloseTo(0.75, 6);
    const pulse = FEATURES.findIndex((f) => f.key === 'pulse');
    expect(s.features![199 * FEATURES.length + pulse]).toBeCloseTo(1, 6);
    expect(s.features![100 * FEATURES.length + pulse]).toBeCloseTo(100 / 199, 6);
    expect(s.maxAbs).toBeCloseTo(199 / 200, 6);
    await expect(collectSeries(track(), { frames: frames + 1, fps, networks: ['a'], rowWidth: 16 })).rejects.toThrow(/stopped at frame 200 of 201/);
  });

  it('draws the cursor in the middle, the network step where it switches, and scrolls', async () => {
    const s = await collectSeries(track(), { frames, fps, networks: ['a', 'b'], rowWidth: 16 });
    const p = new ChartPainter(s);
    const z = new Float32Array(16).fill(0.5);
    const pic = p.draw(100, z);
    expect(pic.length).toBe(CHART_WIDTH * CHART_HEIGHT * 3);
    const r = { data: pic.slice(), width: CHART_WIDTH };
    // the network panel (y 368..432): left of the cursor its line lies low (network 0), right of it high (network 1)
    const magenta = (x: number) => {
      const ys: number[] = [];
      for (let y = 368; y < 432; y++) if (at(r, x, y).join() === '230,80,230') ys.push(y);
      return ys;
    };
    const mid = 46 + Math.floor((CHART_WIDTH - 46 - 12) / 2);
    const left = magenta(mid - 100);
    const right = magenta(mid + 100);
    expect(left.length).toBeGreaterThan(0);
    expect(right.length).toBeGreaterThan(0);
    expect(Math.min(...left)).toBeGreaterThan(Math.max(...right));
    // the cursor: white through the audio panel
    expect(at(r, mid, 150)).toEqual([255, 255, 255]);
    // the window is WINDOW_SECONDS wide: at frame 0 the left half is before the track (no curve there)
    const first = { data: p.draw(0, z).slice(), width: CHART_WIDTH };
    const before: number[] = [];
    for (let y = 368; y < 432; y++) if (at(first, mid - 100, y).join() === '230,80,230') before.push(y);
    expect(before).toEqual([]);
    expect(WINDOW_SECONDS * fps).toBeLessThan(frames);
    // a later frame draws another picture
    expect(Buffer.from(p.draw(150, z)).equals(Buffer.from(r.data))).toBe(false);
  });
});
