/**
 * The order frames are asked for when several segments encode at once. Synthesis yields frames in
 * the order they are requested, and an encoder can only take its own segment's frames in order;
 * asking for them in frame order would leave every encoder but one idle (or hold a whole segment
 * in memory). So `concurrency` consecutive segments are open at a time and asked for round-robin,
 * one frame each in turn: each encoder gets its frames at 1/concurrency of the synthesis rate and
 * nothing waits on a frame that another encoder has not taken yet. A segment whose last frame has
 * been asked for hands its turn to the next segment not yet begun.
 *
 * Every source starts at its segment's first frame (`open(start)`): the latents of a frame depend
 * only on the plan and its index (what a resume relies on too), so this changes no frame.
 */
import { segmentCount, segmentRange, type SegmentPlan } from './segments.ts';
import { RenderFailure } from './types.ts';

export interface Tagged<T> {
  index: number;
  value: T;
}

interface OpenSegment<T> {
  it: AsyncIterator<T>;
  start: number;
  next: number;
  end: number;
}

export async function* interleaveSegments<T>(
  plan: SegmentPlan,
  firstSegment: number,
  concurrency: number,
  open: (start: number) => AsyncIterable<T>,
): AsyncGenerator<Tagged<T>> {
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RenderFailure('internal', `segments at once must be a positive integer, got ${concurrency}`);
  const total = segmentCount(plan);
  let begun = firstSegment;
  const begin = (): OpenSegment<T> => {
    const [start, end] = segmentRange(plan, begun++);
    return { it: open(start)[Symbol.asyncIterator](), start, next: start, end };
  };
  const active: OpenSegment<T>[] = [];
  try {
    while (active.length < concurrency && begun < total) active.push(begin());
    let turn = 0;
    while (active.length > 0) {
      if (turn >= active.length) turn = 0;
      const seg = active[turn]!;
      const r = await seg.it.next();
      if (r.done) throw new RenderFailure('internal', `the frames of the segment from ${seg.start} stopped at ${seg.next}, before ${seg.end}`);
      yield { index: seg.next, value: r.value };
      seg.next++;
      if (seg.next < seg.end) {
        turn++;
        continue;
      }
      // the source runs on to the end of the track: this segment has what it needs
      active.splice(turn, 1);
      await seg.it.return?.();
      if (begun < total) active.splice(turn++, 0, begin());
    }
  } finally {
    for (const seg of active) await seg.it.return?.();
  }
}
