/**
 * writeSegments with several segments encoding at once, against stand-in encoders (shell scripts
 * that answer like ffmpeg on stdin): frames held in memory stay bounded while every encoder is
 * stalled, a crash of one segment's encoder stops the others and leaves nothing partial, and
 * frames that reach it out of order are refused. The real encoder runs in run.test.ts and
 * frames.test.ts (the same frames with 1 and 3 segments at once).
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { EncodeSettings } from '../../src/render/encode-args.ts';
import { interleaveSegments } from '../../src/render/interleave.ts';
import { writeSegments, type RgbFrame } from '../../src/render/segment-writer.ts';
import type { SegmentPlan } from '../../src/render/segments.ts';
import { RenderFailure } from '../../src/render/types.ts';
import { tempDir } from '../audio/wav.ts';

// 512 x 512 rgb24: 768 KiB a frame, far more than a pipe holds, so an encoder that does not read holds up its writes
const SIDE = 512;
const encode: EncodeSettings = { format: 'mp4', fps: 24, crf: 18, preset: 'ultrafast', pixelFormat: 'yuv420p', audioCodec: 'aac', audioBitrate: 320, width: SIDE, height: SIDE, outWidth: SIDE, outHeight: SIDE };
const plan: SegmentPlan = { frames: 50, segmentFrames: 10, format: 'mp4' };

/**
 * A stand-in ffmpeg: records its pid under `pids/`, waits until `gate` exists (if given), then
 * reads all of stdin and writes "ok" to its output (the last argument). `crashOn`: the encoder of
 * the segment whose name contains it reads a frame, says why on stderr and exits 3.
 */
function fakeEncoder(dir: string, o: { gate?: string; crashOn?: string; crashStalled?: boolean }): string {
  const path = join(dir, 'fake-ffmpeg');
  const lines = [
    '#!/bin/bash',
    'if [ "$1" = -version ]; then echo "ffmpeg version fake"; exit 0; fi',
    'out="${@: -1}"',
    `echo $$ > "${dir}/pids/$$"`,
    ...(o.crashOn ? [`case "$*" in *${o.crashOn}*) head -c ${SIDE * SIDE * 3} >/dev/null; echo "fake encoder gave up on $out" >&2; exit 3;; esac`] : []),
    ...(o.gate ? [`while [ ! -e "${o.gate}" ]; do sleep 0.02; done`] : []),
    'cat >/dev/null',
    'echo ok > "$out"',
  ];
  writeFileSync(path, `${lines.join('\n')}\n`);
  chmodSync(path, 0o755);
  return path;
}

/** Frames of the plan in the order the render asks for them with `n` segments at once; `pulled` counts the ones taken. */
function source(n: number, counter: { pulled: number }): AsyncIterable<RgbFrame> {
  const frames = async function* (start: number) {
    for (let i = start; ; i++) yield i;
  };
  return (async function* () {
    for await (const t of interleaveSegments(plan, 0, n, frames)) {
      counter.pulled++;
      yield { index: t.index, rgb: new Uint8Array(SIDE * SIDE * 3).fill(t.index) };
    }
  })();
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(what: string, cond: () => boolean): Promise<void> {
  const deadline = performance.now() + 20_000;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('writeSegments, several segments at once', () => {
  let root: string;
  beforeAll(() => {
    root = tempDir('gance-segment-writer-');
  });

  const setup = (name: string) => {
    const dir = join(root, name);
    const workDir = join(dir, 'work');
    for (const d of [dir, join(dir, 'pids'), workDir]) mkdirSync(d, { recursive: true });
    const pids = () => readdirSync(join(dir, 'pids')).map(Number);
    return { dir, workDir, pids };
  };

  it.each([1, 2])('while every encoder is stalled at most %i frame(s) per segment (and the one in hand) are taken; all of them finish once they read', { timeout: 60_000 }, async (queueFrames) => {
    const { dir, workDir, pids } = setup(`stalled-${queueFrames}`);
    const gate = join(dir, 'go');
    const counter = { pulled: 0 };
    const segmentsDone: number[] = [];
    let flushed = 0;
    const writing = writeSegments(source(3, counter), {
      ffmpeg: fakeEncoder(dir, { gate }),
      workDir,
      encode,
      plan,
      firstSegment: 0,
      concurrency: 3,
      queueFrames,
      onSegment: async (k) => void segmentsDone.push(k),
      onFlush: () => flushed++,
    });
    // three encoders each got their first frame (in their pipes, not read) and queueFrames - 1 more
    // waiting, and the writer holds the next frame for segment 0
    const taken = 3 * queueFrames + 1;
    await until(`three encoders run and ${taken} frames were taken`, () => pids().length === 3 && counter.pulled === taken);
    // time to misbehave: a writer without a bound would now take frames for as long as synthesis gives them
    await new Promise((r) => setTimeout(r, 500));
    expect(counter.pulled).toBe(taken);
    expect(pids()).toHaveLength(3);
    writeFileSync(gate, '');
    await writing;
    expect(counter.pulled).toBe(50);
    expect(flushed).toBe(1);
    expect(segmentsDone.sort()).toEqual([0, 1, 2, 3, 4]);
    expect(readdirSync(workDir).sort()).toEqual([0, 1, 2, 3, 4].map((k) => `segment-00000${k}.mp4`));
    expect(readFileSync(join(workDir, 'segment-000004.mp4'), 'utf8')).toBe('ok\n');
    expect(pids()).toHaveLength(5);
  });

  it("one segment's encoder crashing fails the writer with its reason; the others are stopped and no temporary segment is left", { timeout: 60_000 }, async () => {
    const { dir, workDir, pids } = setup('crash');
    // segments 0 and 2 wait for a gate that never opens: only the writer can end them
    const ffmpeg = fakeEncoder(dir, { gate: join(dir, 'never'), crashOn: 'segment-000001' });
    const err = await writeSegments(source(3, { pulled: 0 }), { ffmpeg, workDir, encode, plan, firstSegment: 0, concurrency: 3 }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RenderFailure);
    expect((err as RenderFailure).reason).toBe('encoder');
    expect((err as RenderFailure).message).toMatch(/^encoding frames 10\.\.19 \(segment segment-000001\.mp4\): ffmpeg \(.*\) exited with code 3: fake encoder gave up on .*\.segment-000001\.mp4\.tmp-\d+$/);
    expect(readdirSync(workDir)).toEqual([]);
    expect(pids().length).toBeGreaterThanOrEqual(2);
    for (const pid of pids()) expect(alive(pid), `encoder ${pid} still running`).toBe(false);
  });

  it('refuses frames that skip a segment or come out of order within one, with nothing left', { timeout: 60_000 }, async () => {
    const { dir, workDir } = setup('order');
    const ffmpeg = fakeEncoder(dir, {});
    const run = async (indices: number[], concurrency: number) => {
      const frames = (async function* () {
        for (const index of indices) yield { index, rgb: new Uint8Array(SIDE * SIDE * 3) };
      })();
      return writeSegments(frames, { ffmpeg, workDir, encode, plan, firstSegment: 0, concurrency }).then(
        () => null,
        (e: unknown) => (e as Error).message,
      );
    };
    expect(await run([0, 20], 3)).toBe('frame 20 reached the encoders where segment 1 was due to begin');
    expect(await run([0, 10, 20, 30], 3)).toBe('frame 30 begins segment 3 while 3 segments (the most at once) still take frames');
    expect(await run([0, 1, 3], 1)).toBe('frame 3 reached the encoder where 2 was due');
    expect(await run([0, 1, 2], 1)).toBe('the frames stopped after 3 of the 50 due (from frame 0)');
    expect(readdirSync(workDir)).toEqual([]);
    expect(existsSync(join(workDir, 'segment-000000.mp4'))).toBe(false);
  });
});
