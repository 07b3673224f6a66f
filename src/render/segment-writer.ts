/**
 * The last stage of the frame pipeline: rgb24 frames in order -> ffmpeg's stdin, one ffmpeg per
 * segment, each writing under a temporary name in the workDir and renamed when it has finished.
 * Frames are pulled one at a time and each write waits for ffmpeg's pipe to drain, so a slow
 * encoder slows synthesis instead of piling frames up in memory.
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
  /** after each frame went into ffmpeg */
  onFrame?: (index: number) => void;
  /** after each segment was renamed into place; may throw (a disk check) to stop the render */
  onSegment?: (k: number, path: string) => Promise<void>;
  /** before the last segment's encoder is flushed */
  onFlush?: () => void;
}

export async function writeSegments(frames: AsyncIterable<RgbFrame>, o: WriterOptions): Promise<void> {
  const total = segmentCount(o.plan);
  let k = o.firstSegment;
  let next = k < total ? segmentRange(o.plan, k)[0] : o.plan.frames;
  let current: { enc: FfmpegInput; tmp: string; end: number } | null = null;
  const open = async () => {
    const [start, end] = segmentRange(o.plan, k);
    const name = segmentName(k, o.plan.format);
    const tmp = join(o.workDir, `.${name}.tmp-${process.pid}`);
    if (o.plan.format === 'png') await mkdir(tmp);
    current = { enc: new FfmpegInput(o.ffmpeg, segmentArgs(o.encode, tmp, start), `encoding frames ${start}..${end - 1} (segment ${name})`), tmp, end };
  };
  try {
    for await (const f of frames) {
      if (f.index !== next) throw new RenderFailure('internal', `frame ${f.index} reached the encoder where ${next} was due`);
      if (next >= o.plan.frames) throw new RenderFailure('internal', `frame ${f.index} is past the render's ${o.plan.frames} frames`);
      if (!current) await open();
      const seg = current!;
      await seg.enc.write(f.rgb);
      o.onFrame?.(f.index);
      next++;
      if (next === seg.end) {
        if (k === total - 1) o.onFlush?.();
        await seg.enc.finish();
        const final = join(o.workDir, segmentName(k, o.plan.format));
        await rename(seg.tmp, final);
        current = null;
        await o.onSegment?.(k, final);
        k++;
      }
    }
    if (next !== o.plan.frames) throw new RenderFailure('internal', `the frames stopped at ${next} of ${o.plan.frames}`);
  } finally {
    const left = current as { enc: FfmpegInput; tmp: string } | null;
    if (left) {
      await left.enc.kill();
      await rm(left.tmp, { recursive: true, force: true });
    }
  }
}
