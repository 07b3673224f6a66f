/**
 * The last stage of the frame pipeline: rgb24 frames -> ffmpeg's stdin, one ffmpeg per segment,
 * each writing under a temporary name in the workDir and renamed when it has finished.
 *
 * Several segments encode at once (`concurrency`): x264's output depends on its thread count, so
 * the encoder's threads stay fixed per segment and the machine's cores are used by running more
 * segments side by side instead; each segment comes out the same bits whatever the concurrency.
 * Frames may arrive interleaved across the open segments (see interleave.ts), in order within
 * each; frame i goes to segment floor(i / segmentFrames).
 *
 * Memory is bounded: each encoder has at most `queueFrames` frames waiting for its pipe to drain,
 * and a further frame for that encoder is not accepted before the oldest went in, so a slow encoder
 * slows synthesis instead of piling frames up. In frames held here: at most `concurrency` x
 * `queueFrames` waiting plus the one in hand. x264 takes its input in bursts (its look-ahead), so
 * a few frames queued per encoder keep the others, and synthesis, going through a burst. At most `concurrency` encoders take frames, and at most `concurrency` more
 * finish their last frames (x264's look-ahead) behind them.
 *
 * A failure anywhere (an encoder, a rename, the onSegment check) stops every encoder and removes
 * every temporary segment; segments renamed before it are complete and stay for a resume.
 */
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { segmentArgs, type EncodeSettings } from './encode-args.ts';
import { FfmpegInput } from './ffmpeg.ts';
import { segmentCount, segmentName, segmentRange, type SegmentPlan } from './segments.ts';
import { RenderFailure } from './types.ts';

export interface RgbFrame {
  index: number;
  rgb: Uint8Array;
}

export interface WriterOptions {
  ffmpeg: string;
  workDir: string;
  encode: EncodeSettings;
  plan: SegmentPlan;
  /** first segment to write (the ones before are complete) */
  firstSegment: number;
  /** segments taking frames at once (default 1) */
  concurrency?: number;
  /** frames waiting per encoder for its pipe (default 1) */
  queueFrames?: number;
  /** after each frame went into ffmpeg */
  onFrame?: (index: number) => void;
  /**
   * before each segment is renamed into place, once its encoder has finished: what goes with it in
   * the work folder is written first, so a segment in place has it even if the process is killed
   * between the two
   */
  beforeRename?: (k: number) => Promise<void>;
  /** after each segment was renamed into place (in the order they finish); may throw (a disk check) to stop the render */
  onSegment?: (k: number, path: string) => Promise<void>;
  /** once the last frame has gone into its encoder: what is left is encoding */
  onFlush?: () => void;
}

interface Segment {
  k: number;
  enc: FfmpegInput;
  tmp: string;
  next: number;
  end: number;
  /** the last frame handed to this encoder, settled once it is in ffmpeg's pipe (never rejects) */
  writing: Promise<void>;
  /** frames handed to this encoder and not yet in its pipe, oldest first (each settles as writing does) */
  waiting: Array<Promise<void>>;
  renamed: boolean;
}

export async function writeSegments(frames: AsyncIterable<RgbFrame>, o: WriterOptions): Promise<void> {
  const n = o.concurrency ?? 1;
  if (!Number.isInteger(n) || n < 1) throw new RenderFailure('internal', `segments at once must be a positive integer, got ${n}`);
  const q = o.queueFrames ?? 1;
  if (!Number.isInteger(q) || q < 1) throw new RenderFailure('internal', `frames queued per encoder must be a positive integer, got ${q}`);
  const total = segmentCount(o.plan);
  const first = o.firstSegment < total ? segmentRange(o.plan, o.firstSegment)[0] : o.plan.frames;
  const due = o.plan.frames - first;
  let received = 0;
  let written = 0;
  let nextSegment = o.firstSegment;
  const feeding = new Map<number, Segment>();
  const finishing = new Map<number, Promise<void>>();
  /** segments with an encoder started and no segment renamed into place yet */
  const started = new Set<Segment>();
  let failure: { err: unknown } | null = null;
  let stopping = false;
  let onFailure!: () => void;
  // settles at the first failure: a wait on one encoder must not outlast another's crash
  const failed = new Promise<void>((resolve) => (onFailure = resolve));
  const fail = (err: unknown) => {
    failure ??= { err };
    onFailure();
  };
  const unlessFailed = (p: Promise<unknown>) => Promise.race([p, failed]);
  const check = () => {
    if (failure) throw failure.err;
  };

  const open = async (k: number): Promise<Segment> => {
    const [start, end] = segmentRange(o.plan, k);
    const name = segmentName(k, o.plan.format);
    const tmp = join(o.workDir, `.${name}.tmp-${process.pid}`);
    if (o.plan.format === 'png') await mkdir(tmp);
    const enc = new FfmpegInput(o.ffmpeg, segmentArgs(o.encode, tmp, start), `encoding frames ${start}..${end - 1} (segment ${name})`);
    const seg: Segment = { k, enc, tmp, next: start, end, writing: Promise.resolve(), waiting: [], renamed: false };
    started.add(seg);
    void enc.stopped.then(fail);
    return seg;
  };
  const finish = async (seg: Segment): Promise<void> => {
    await seg.writing;
    if (failure || stopping) return;
    await seg.enc.finish();
    await o.beforeRename?.(seg.k);
    const final = join(o.workDir, segmentName(seg.k, o.plan.format));
    await rename(seg.tmp, final);
    seg.renamed = true;
    started.delete(seg);
    if (!failure && !stopping) await o.onSegment?.(seg.k, final);
  };

  try {
    for await (const f of frames) {
      check();
      if (!Number.isInteger(f.index) || f.index < first || f.index >= o.plan.frames) throw new RenderFailure('internal', `frame ${f.index} is outside the frames ${first}..${o.plan.frames - 1} this run writes`);
      const k = Math.floor(f.index / o.plan.segmentFrames);
      let seg = feeding.get(k);
      if (!seg) {
        if (k !== nextSegment) throw new RenderFailure('internal', `frame ${f.index} reached the encoders where segment ${nextSegment} was due to begin`);
        if (feeding.size >= n) throw new RenderFailure('internal', `frame ${f.index} begins segment ${k} while ${feeding.size} segments (the most at once) still take frames`);
        while (finishing.size >= n && !failure) await Promise.race([...finishing.values(), failed]);
        check();
        seg = await open(k);
        feeding.set(k, seg);
        nextSegment++;
      }
      if (f.index !== seg.next) throw new RenderFailure('internal', `frame ${f.index} reached the encoder where ${seg.next} was due`);
      // the oldest frame waiting for this encoder must be in ffmpeg's pipe before another is handed over
      while (seg.waiting.length >= q) {
        await unlessFailed(seg.waiting[0]!);
        check();
      }
      const index = f.index;
      const rgb = f.rgb;
      const s = seg;
      const write = s.writing
        .then(() => (failure ? undefined : s.enc.write(rgb)))
        .then(() => {
          if (failure) return;
          o.onFrame?.(index);
          if (++written === due) o.onFlush?.();
        })
        .catch(fail)
        .finally(() => {
          s.waiting.shift();
        });
      s.waiting.push(write);
      seg.writing = write;
      seg.next++;
      received++;
      if (seg.next === seg.end) {
        feeding.delete(k);
        const done = finish(seg)
          .catch(fail)
          .finally(() => finishing.delete(k));
        finishing.set(k, done);
      }
    }
    check();
    if (received !== due) throw new RenderFailure('internal', `the frames stopped after ${received} of the ${due} due (from frame ${first})`);
    await unlessFailed(Promise.all(finishing.values()));
    check();
  } catch (err) {
    stopping = true;
    fail(err);
  } finally {
    stopping = true;
    // encoders still running are killed; their writes and finishes then settle
    await Promise.all([...started].map((s) => s.enc.kill()));
    await Promise.all([...finishing.values(), ...[...started].map((s) => s.writing)]);
    for (const s of started) if (!s.renamed) await rm(s.tmp, { recursive: true, force: true });
  }
  check();
}
