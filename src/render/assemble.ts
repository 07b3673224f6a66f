/**
 * The finished segments -> the output under a temporary name beside it: an mp4 joined with the
 * concat demuxer (video copied, each segment's exact duration stated so the timestamps run on
 * without a step) with the audio muxed, or one folder of every PNG. The caller renames it into place.
 */
import { copyFile, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { muxArgs, type EncodeSettings } from './encode-args.ts';
import { runFfmpeg } from './ffmpeg.ts';
import { segmentCount, segmentName, segmentRange, type SegmentPlan } from './segments.ts';

export const CONCAT_LIST = 'segments.ffconcat';

export interface AssembleOptions {
  ffmpeg: string;
  workDir: string;
  encode: EncodeSettings;
  plan: SegmentPlan;
  audio: readonly string[];
  /** the temporary output (a file for mp4, a folder for png) */
  target: string;
  signal?: AbortSignal | undefined;
}

/** rename, or copy and delete where the work folder is on another file system than the output */
async function move(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    await copyFile(from, to);
    await rm(from);
  }
}

export async function assemble(o: AssembleOptions): Promise<string[]> {
  const n = segmentCount(o.plan);
  if (o.plan.format === 'png') {
    await mkdir(o.target);
    for (let k = 0; k < n; k++) {
      const dir = join(o.workDir, segmentName(k, 'png'));
      for (const f of (await readdir(dir)).sort()) await move(join(dir, f), join(o.target, f));
    }
    return [];
  }
  const lines = ['ffconcat version 1.0'];
  for (let k = 0; k < n; k++) {
    const [a, b] = segmentRange(o.plan, k);
    lines.push(`file ${segmentName(k, 'mp4')}`, `duration ${(b - a) / o.encode.fps}`);
  }
  const list = join(o.workDir, CONCAT_LIST);
  await writeFile(list, `${lines.join('\n')}\n`);
  const args = muxArgs(o.encode, list, o.audio, o.target);
  await runFfmpeg(o.ffmpeg, args, `joining ${n} segments and muxing the audio into ${o.target}`, o.signal);
  return args;
}
