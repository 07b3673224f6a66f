/** The framing's parts on their own: the eased glide between placements and the bilinear scaler. */
import { describe, expect, it } from 'vitest';
import { easeInOut, Glide, scaleInto } from '../../src/live/compose.ts';

describe('Glide', () => {
  it('starts at the first frame after the change, eases in and out, and lands on the target at the transition', () => {
    const g = new Glide({ x: 0, y: 0, width: 100, height: 100 });
    expect(g.at(5)).toEqual({ x: 0, y: 0, width: 100, height: 100 });
    g.retarget({ x: 200, y: 100, width: 50, height: 50 }, 1000);
    // the move begins with the next frame (t = 10), wherever the clock stands
    expect(g.at(10)).toEqual({ x: 0, y: 0, width: 100, height: 100 });
    const xs = [0.1, 0.25, 0.5, 0.75, 0.9].map((dt) => g.at(10 + dt).x);
    expect(xs).toEqual([0.1, 0.25, 0.5, 0.75, 0.9].map((u) => Math.round(200 * easeInOut(u))));
    expect(g.at(10.5)).toEqual({ x: 100, y: 50, width: 75, height: 75 });
    // slow at the ends, fastest in the middle
    expect(g.at(10.1).x - g.at(10).x).toBeLessThan(g.at(10.55).x - g.at(10.45).x);
    expect(g.at(11)).toEqual({ x: 200, y: 100, width: 50, height: 50 });
    expect(g.at(30)).toEqual({ x: 200, y: 100, width: 50, height: 50 });
  });

  it('a change mid-move starts from where the picture is; a 0 ms transition jumps', () => {
    const g = new Glide({ x: 0, y: 0, width: 10, height: 10 });
    g.retarget({ x: 100, y: 0, width: 10, height: 10 }, 1000);
    g.at(0);
    const halfway = g.at(0.5);
    g.retarget({ x: 0, y: 0, width: 10, height: 10 }, 1000);
    expect(g.at(0.5)).toEqual(halfway);
    expect(g.at(1)).toEqual({ x: 25, y: 0, width: 10, height: 10 });
    g.retarget({ x: 70, y: 3, width: 20, height: 20 }, 0);
    expect(g.at(1.01)).toEqual({ x: 70, y: 3, width: 20, height: 20 });
  });
});

describe('scaleInto', () => {
  it('copies a picture at its own size exactly and leaves the canvas around it alone', () => {
    const src = Uint8Array.from({ length: 4 * 3 * 3 }, (_, i) => (i * 37) % 256);
    const canvas = new Uint8Array(10 * 6 * 3).fill(7);
    scaleInto(canvas, 10, src, 4, 3, { x: 5, y: 2, width: 4, height: 3 });
    for (let y = 0; y < 3; y++) expect([...canvas.subarray(((2 + y) * 10 + 5) * 3, ((2 + y) * 10 + 9) * 3)]).toEqual([...src.subarray(y * 12, y * 12 + 12)]);
    expect(canvas.filter((v) => v === 7).length).toBe(10 * 6 * 3 - 4 * 3 * 3);
  });

  it('doubles a two-pixel ramp into a smooth one (pixel centres aligned)', () => {
    const src = Uint8Array.from([0, 0, 0, 200, 200, 200]);
    const canvas = new Uint8Array(4 * 1 * 3);
    scaleInto(canvas, 4, src, 2, 1, { x: 0, y: 0, width: 4, height: 1 });
    expect([...canvas].filter((_, i) => i % 3 === 0)).toEqual([0, 50, 150, 200]);
  });
});
