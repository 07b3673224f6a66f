/** The order frames are asked for with several segments at once: round-robin, each segment in order, every source closed. */
import { describe, expect, it } from 'vitest';
import { interleaveSegments } from '../../src/render/interleave.ts';
import type { SegmentPlan } from '../../src/render/segments.ts';

/** Sources that run to the end of the track (as the latents do), recording which started where and which were closed. */
function sources(frames: number) {
  const opened: number[] = [];
  const closed: number[] = [];
  const open = (start: number) =>
    (async function* () {
      opened.push(start);
      try {
        for (let i = start; i < frames; i++) yield `f${i}`;
      } finally {
        closed.push(start);
      }
    })();
  return { open, opened, closed };
}

async function all(plan: SegmentPlan, first: number, n: number, open: (start: number) => AsyncIterable<string>): Promise<number[]> {
  const out: number[] = [];
  for await (const t of interleaveSegments(plan, first, n, open)) {
    expect(t.value).toBe(`f${t.index}`);
    out.push(t.index);
  }
  return out;
}

describe('interleaveSegments', () => {
  const plan: SegmentPlan = { frames: 11, segmentFrames: 3, format: 'mp4' };

  it('one at a time: frame order', async () => {
    const s = sources(11);
    expect(await all(plan, 0, 1, s.open)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(s.opened).toEqual([0, 3, 6, 9]);
    expect(s.closed.sort((a, b) => a - b)).toEqual([0, 3, 6, 9]);
  });

  it('three at a time: one frame of each open segment in turn; a finished one hands its place to the next, which waits its turn; the short last one too', async () => {
    const s = sources(11);
    expect(await all(plan, 0, 3, s.open)).toEqual([0, 3, 6, 1, 4, 7, 2, 5, 8, 9, 10]);
    expect(s.opened).toEqual([0, 3, 6, 9]);
    expect(s.closed.sort((a, b) => a - b)).toEqual([0, 3, 6, 9]);
  });

  it('from a later segment (a resume), with more at once than there are segments left', async () => {
    const s = sources(11);
    expect(await all(plan, 2, 8, s.open)).toEqual([6, 9, 7, 10, 8]);
    expect(s.opened).toEqual([6, 9]);
  });

  it('nothing left: nothing asked for', async () => {
    const s = sources(11);
    expect(await all(plan, 4, 3, s.open)).toEqual([]);
    expect(s.opened).toEqual([]);
  });

  it('a source that ends before its segment does is an error; the others are closed', async () => {
    const s = sources(7);
    await expect(all(plan, 0, 3, s.open)).rejects.toThrow('the frames of the segment from 6 stopped at 7, before 9');
    expect(s.closed.sort((a, b) => a - b)).toEqual([0, 3, 6]);
  });

  it('a consumer that stops early closes every open source', async () => {
    const s = sources(11);
    for await (const t of interleaveSegments(plan, 0, 3, s.open)) if (t.index === 4) break;
    expect(s.closed.sort((a, b) => a - b)).toEqual([0, 3, 6]);
  });
});
