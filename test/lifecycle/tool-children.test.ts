/**
 * The short ffmpeg runs of a render (probe and decode, the ffmpeg resampler, the version check at
 * its start) run in a process group of their own, as its encoders do: a Ctrl-C at the terminal
 * reaches the daemon alone, whose stop pauses the render. In the daemon's group the signal killed
 * them first, and a render then failed on its audio or its encoder instead of pausing.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ffmpegResampler } from '../../src/audio/ffmpeg-resample.ts';
import { runTool } from '../../src/audio/ffmpeg.ts';
import { ffmpegVersion } from '../../src/render/ffmpeg.ts';
import { REPO } from '../helpers/daemon-process.ts';

/** says its process group (stdout as an ffmpeg -version line, and stderr); fails all but -version */
const TOOL = join(REPO, 'test/fixtures/pgrp-tool/ffmpeg');

/** field 5 of /proc/self/stat, after "pid (comm) state ppid" */
const ownGroup = () => {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
};
const groupIn = (text: string) => Number(/pgrp=(\d+)/.exec(text)?.[1]);

describe('short ffmpeg runs run in their own process group', () => {
  it('runTool (probe, decode, silence scan)', async () => {
    const r = await runTool(TOOL, ['-i', 'x.wav'], 'x.wav');
    const group = groupIn(r.stdout.toString());
    expect(group).toBeGreaterThan(0);
    expect(group).not.toBe(ownGroup());
  });

  it('the ffmpeg resampler', async () => {
    const err = await ffmpegResampler(TOOL)(new Float32Array(64), 22050, 44100).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    const group = groupIn((err as Error).message);
    expect(group).toBeGreaterThan(0);
    expect(group).not.toBe(ownGroup());
  });

  it('the version check', async () => {
    const group = groupIn(await ffmpegVersion(TOOL));
    expect(group).toBeGreaterThan(0);
    expect(group).not.toBe(ownGroup());
  });
});
