/**
 * The debug video end to end: a real render (demo network, real ffmpeg) with output.debugPath
 * writes a second mp4 with exactly the output's frames, the audio muxed and charts that move;
 * frame k of it shows frame k of the output (a latents source whose frames each have their own
 * colour); bad debug paths are refused naming output.debugPath; a debug encode that fails or a
 * cancel while it is drawn leaves neither video nor any temporary file.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LatentFrame } from '../../../src/latents/frame.ts';
import type { LocalRenderer } from '../../../src/render/local.ts';
import { resolveRender } from '../../../src/render/resolve.ts';
import { writeDebugVideo } from '../../../src/render/debug/video.ts';
import { renderResolved, runRender, type FrameSource } from '../../../src/render/run.ts';
import type { RenderSpec } from '../../../src/render/spec.ts';
import { RenderFailure, type RenderDeps, type RenderProgress } from '../../../src/render/types.ts';
import { addInto, clicks, tempDir, tone, writeWav } from '../../audio/wav.ts';
import { localRenderer, probeStream, writeIndexNetwork } from '../helpers.ts';

async function failure(p: Promise<unknown>): Promise<RenderFailure> {
  try {
    await p;
  } catch (err) {
    if (err instanceof RenderFailure) return err;
    throw err;
  }
  throw new Error('the render did not fail');
}

/** Frames of a video cropped to a box, as rgb24, one buffer per frame. */
function cropFrames(file: string, box: { x: number; y: number; w: number; h: number }): Buffer[] {
  const r = spawnSync('ffmpeg', ['-v', 'error', '-i', file, '-map', '0:v:0', '-vf', `crop=${box.w}:${box.h}:${box.x}:${box.y}`, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(r.stderr.toString());
  const n = box.w * box.h * 3;
  return Array.from({ length: r.stdout.length / n }, (_, i) => r.stdout.subarray(i * n, (i + 1) * n));
}

const mean = (b: Buffer, c: number) => {
  let s = 0;
  for (let i = c; i < b.length; i += 3) s += b[i]!;
  return s / (b.length / 3);
};

describe('debug video', () => {
  let dir: string;
  let song: string;
  let local: LocalRenderer;
  beforeAll(() => {
    dir = tempDir('gance-render-debug-');
    song = join(dir, 'song.wav');
    // 2 s that swell and click, so the features move
    writeWav(song, 22050, 1, addInto(tone(22050, 2, [220, 330], 0.2), clicks(22050, 2, 0.25)));
    writeIndexNetwork(join(dir, 'nets'), 'index-a');
    local = localRenderer({ extraDirs: [join(dir, 'nets')] });
  });
  afterAll(async () => {
    await local.close();
  });

  const spec = (out: string, extra: Record<string, unknown> = {}) => ({ audio: [song], networks: ['demo-64'], latents: { fps: 24 }, output: { path: out, preset: 'ultrafast', ...extra } }) as RenderSpec;
  const leftovers = () => readdirSync(dir).filter((n) => n.includes('.tmp') || n.includes('.work'));

  it('a render with a debug path writes a second mp4: the same frame count, the audio, charts that move, recorded in the run config', { timeout: 120_000 }, async () => {
    const out = join(dir, 'main.mp4');
    const debug = join(dir, 'main.debug.mp4');
    const stages: string[] = [];
    const r = await runRender(spec(out, { debugPath: debug }), local.deps, { workDir: join(dir, 'w-main'), segmentFrames: 10, onProgress: (p: RenderProgress) => stages.at(-1) !== p.stage && stages.push(p.stage) });
    expect(r).toMatchObject({ output: out, debugOutput: debug, frames: 48 });
    expect(stages).toEqual(['analysing', 'rendering', 'encoding', 'muxing', 'debug', 'done']);
    expect(probeStream(out, 'v').nb_read_frames).toBe('48');
    const v = probeStream(debug, 'v');
    expect(v).toMatchObject({ codec_name: 'h264', nb_read_frames: '48', width: String(540 + 960), height: '540', r_frame_rate: '24/1' });
    expect(probeStream(debug, 'a')).toMatchObject({ codec_name: 'aac', nb_read_frames: probeStream(out, 'a').nb_read_frames });
    // the charts (below the header line that counts frames) differ from frame to frame as the window scrolls
    const charts = cropFrames(debug, { x: 540, y: 40, w: 960, h: 360 });
    expect(charts.length).toBe(48);
    const distinct = new Set(charts.map((c) => c.toString('base64')));
    expect(distinct.size).toBeGreaterThan(40);
    const run = JSON.parse(readFileSync(join(dir, 'main.run.json'), 'utf8')) as { spec: RenderSpec; debug: { path: string; args: string[] } };
    expect(run.spec.output.debugPath).toBe(debug);
    expect(run.debug.path).toBe(debug);
    expect(run.debug.args).toContain(out);
    expect(run.debug.args.at(-1)).toBe(debug);
    expect(leftovers()).toEqual([]);
  });

  it('frame k of the debug video shows frame k of the output (PNG frames, the audio from the files)', { timeout: 120_000 }, async () => {
    const frames = 40;
    // a colour of its own per frame, far from its neighbours'
    const colour = (i: number) => [(i * 67) % 256, (i * 151 + 40) % 256, (i * 29 + 90) % 256];
    const source: FrameSource = {
      frames,
      async *latents(from: number): AsyncGenerator<LatentFrame> {
        for (let i = from; i < frames; i++) {
          const z = new Float32Array(512);
          z.set(colour(i));
          yield { index: i, network: 0, z };
        }
      },
    };
    const out = join(dir, 'frames');
    const debug = join(dir, 'frames.debug.mp4');
    const r = resolveRender({ audio: [song], networks: ['index-a'], latents: { fps: 20 }, output: { format: 'png', path: out, debugPath: debug } }, local.deps.networks.catalogue, local.deps.latents.config);
    await renderResolved(r, source, local.deps, { workDir: join(dir, 'w-frames'), segmentFrames: 16 });
    expect(readdirSync(out).length).toBe(frames);
    expect(probeStream(debug, 'v')).toMatchObject({ nb_read_frames: String(frames), width: String(540 + 960), height: '540' });
    expect(probeStream(debug, 'a')).toMatchObject({ codec_name: 'aac' });
    const left = cropFrames(debug, { x: 200, y: 200, w: 140, h: 140 });
    expect(left.length).toBe(frames);
    const off: string[] = [];
    left.forEach((pic, k) => {
      const got = [0, 1, 2].map((c) => mean(pic, c));
      const want = colour(k);
      if (got.some((g, c) => Math.abs(g - want[c]!) > 12)) off.push(`frame ${k}: ${got.map((g) => g.toFixed(0)).join(',')}, want ${want.join(',')}`);
    });
    expect(off).toEqual([]);
  });

  describe('bad debug paths: the field named, nothing written', () => {
    const cases: Array<[string, () => string, RegExp]> = [
      ['a folder that does not exist', () => join(dir, 'nowhere', 'd.mp4'), /^output\.debugPath .*nowhere.*: folder .* does not exist$/],
      ['the output itself', () => join(dir, 'x.mp4'), /^output\.debugPath .*x\.mp4: is the render's own output/],
      // a debug video is an mp4: the run config's name is refused by its extension first
      ['the run config', () => join(dir, 'x.run.json'), /^output\.debugPath .*x\.run\.json: the extension "\.json" is not one the render writes/],
      ['a name that is not .mp4', () => join(dir, 'd.exe'), /^output\.debugPath .*d\.exe: the extension "\.exe" is not one the render writes; an mp4 render's file is \.mp4$/],
      [
        'a folder',
        () => {
          mkdirSync(join(dir, 'a-folder.mp4'), { recursive: true });
          return join(dir, 'a-folder.mp4');
        },
        /^output\.debugPath .*a-folder\.mp4: is a folder$/,
      ],
    ];
    for (const [name, path, message] of cases) {
      it(name, { timeout: 60_000 }, async () => {
        const f = await failure(runRender(spec(join(dir, 'x.mp4'), { debugPath: path() }), local.deps, { workDir: join(dir, `w-bad-${name.replace(/\W+/g, '-')}`) }));
        expect(f.reason).toBe('bad-input');
        expect(f.message).toMatch(message);
        expect(existsSync(join(dir, 'x.mp4'))).toBe(false);
        expect(existsSync(join(dir, `w-bad-${name.replace(/\W+/g, '-')}`))).toBe(false);
      });
    }
  });

  it('a debug encode that fails leaves neither video, nor run config, nor temporary files; the segments stay for a resume', { timeout: 120_000 }, async () => {
    // the real ffmpeg, except for the debug video's encode (the only one that stacks two inputs)
    const fake = join(dir, 'ffmpeg-no-debug');
    writeFileSync(fake, `#!/bin/sh\ncase "$*" in *hstack*) head -c 100000 >/dev/null; echo "debug encoder gave up" >&2; exit 5;; esac\nexec ffmpeg "$@"\n`);
    chmodSync(fake, 0o755);
    const out = join(dir, 'failing.mp4');
    const debug = join(dir, 'failing.debug.mp4');
    const workDir = join(dir, 'w-failing');
    const deps: RenderDeps = { ...local.deps, ffmpeg: fake };
    const f = await failure(runRender(spec(out, { debugPath: debug }), deps, { workDir, segmentFrames: 10 }));
    expect(f.reason).toBe('encoder');
    expect(f.message).toMatch(/debug video .*exited with code 5: debug encoder gave up/);
    expect(existsSync(out)).toBe(false);
    expect(existsSync(debug)).toBe(false);
    expect(existsSync(join(dir, 'failing.run.json'))).toBe(false);
    expect(leftovers()).toEqual([]);
    expect(readdirSync(workDir).filter((n) => n.startsWith('segment-')).length).toBe(5);

    // again with a working ffmpeg: every segment is taken from the work folder, the debug video drawn
    const r = await runRender(spec(out, { debugPath: debug }), local.deps, { workDir, segmentFrames: 10 });
    expect(r.resumedFrames).toBe(48);
    expect(probeStream(debug, 'v').nb_read_frames).toBe('48');
  });

  it('a cancel while a frame waits on the debug encoder reads as a cancel, not as ffmpeg killed', { timeout: 60_000 }, async () => {
    // the debug encoder takes a byte of the first frame (1.5 MB, more than a pipe holds), says so, and reads no more:
    // that write is pending when the abort kills it
    const marker = join(dir, 'stalled-started');
    const fake = join(dir, 'ffmpeg-stalled');
    writeFileSync(fake, `#!/bin/sh\ncase "$*" in *hstack*) head -c 1 >/dev/null; touch '${marker}'; exec sleep 60;; esac\nexec ffmpeg "$@"\n`);
    chmodSync(fake, 0o755);
    const frames = 24;
    const abort = new AbortController();
    const drawing = writeDebugVideo({
      ffmpeg: fake,
      frames,
      fps: 24,
      networks: ['index-a'],
      rowWidth: 512,
      async *latents(from: number): AsyncGenerator<LatentFrame> {
        for (let i = from; i < frames; i++) yield { index: i, network: 0, z: new Float32Array(512).fill(i / frames) };
      },
      main: { format: 'mp4', path: join(dir, 'not-read.mp4') },
      audio: [song],
      target: join(dir, 'stalled.debug.mp4'),
      signal: abort.signal,
    });
    const f = failure(drawing);
    let settled = false;
    void f.finally(() => (settled = true)).catch(() => {});
    while (!settled && !existsSync(marker)) await new Promise((r) => setTimeout(r, 20));
    abort.abort();
    const e = await f;
    expect(e.reason).toBe('cancelled');
    expect(e.message).toBe('cancelled while writing the debug video');
    expect(e.message).not.toMatch(/ffmpeg|SIGKILL/);
  });

  it('a cancel while the debug video is drawn leaves nothing behind', { timeout: 120_000 }, async () => {
    const out = join(dir, 'cancelled.mp4');
    const debug = join(dir, 'cancelled.debug.mp4');
    const abort = new AbortController();
    const f = await failure(
      runRender(spec(out, { debugPath: debug }), local.deps, {
        workDir: join(dir, 'w-cancel'),
        segmentFrames: 10,
        signal: abort.signal,
        onProgress: (p) => {
          if (p.stage === 'debug' && p.framesDone >= 10) abort.abort();
        },
      }),
    );
    expect(f.reason).toBe('cancelled');
    expect(existsSync(out)).toBe(false);
    expect(existsSync(debug)).toBe(false);
    expect(leftovers()).toEqual([]);
  });
});
