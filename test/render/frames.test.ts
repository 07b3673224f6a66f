/**
 * Frame order and count, exactly: networks whose picture is the latent's first values, a latents
 * source whose latent encodes the frame index, two workers, PNG output (lossless), every frame read back.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LatentFrame } from '../../src/latents/frame.ts';
import { resolveRender } from '../../src/render/resolve.ts';
import { renderResolved, type FrameSource } from '../../src/render/run.ts';
import { RenderFailure, type RenderProgress } from '../../src/render/types.ts';
import type { LocalRenderer } from '../../src/render/local.ts';
import { tempDir, tone, writeWav } from '../audio/wav.ts';
import { INDEX_NET_SIZE, indexLatent, localRenderer, readPngFolder, writeIndexNetwork } from './helpers.ts';

const FRAMES = 300; // past 256, so the second byte of the index counts too
/** frames 0, 1, 7, 8, 14, 15, ... go to the inverted network */
const networkOf = (i: number) => (i % 7 < 2 ? 1 : 0);

/** `pulled`: the indices of the latents taken from it, in the order they were taken */
function indexSource(frames: number, pulled: number[] = []): FrameSource {
  return {
    frames,
    async *latents(from: number): AsyncGenerator<LatentFrame> {
      for (let i = from; i < frames; i++) {
        pulled.push(i);
        yield { index: i, network: networkOf(i), z: indexLatent(i) };
      }
    },
  };
}

/** What frame i must look like: its index bytes and the marker 7, inverted when the second network drew it. */
function expectedPixel(i: number): number[] {
  const p = [i % 256, Math.floor(i / 256) % 256, 7];
  return networkOf(i) === 1 ? p.map((v) => 255 - v) : p;
}

function checkFrames(folder: string, frames: number): void {
  const { names, frames: pics } = readPngFolder(folder, INDEX_NET_SIZE * INDEX_NET_SIZE * 3);
  expect(pics.length).toBe(frames);
  expect(names).toEqual(Array.from({ length: frames }, (_, i) => `${String(i).padStart(6, '0')}.png`));
  const wrong: string[] = [];
  pics.forEach((pic, i) => {
    expect(pic.length).toBe(INDEX_NET_SIZE * INDEX_NET_SIZE * 3);
    const want = expectedPixel(i);
    for (let p = 0; p < pic.length; p += 3) {
      if (pic[p] !== want[0] || pic[p + 1] !== want[1] || pic[p + 2] !== want[2]) {
        wrong.push(`frame ${i}: pixel ${p / 3} is ${[...pic.subarray(p, p + 3)].join(',')}, want ${want.join(',')}`);
        break;
      }
    }
  });
  expect(wrong).toEqual([]);
}

describe('render frames', () => {
  let dir: string;
  let nets: string;
  let wav: string;
  let local: LocalRenderer;
  beforeAll(() => {
    dir = tempDir('gance-render-frames-');
    nets = join(dir, 'nets');
    writeIndexNetwork(nets, 'index-a');
    writeIndexNetwork(nets, 'index-b', true);
    wav = join(dir, 'a.wav');
    writeWav(wav, 8000, 1, tone(8000, 1, [440]));
    local = localRenderer({ workers: 2, extraDirs: [nets], firstNetwork: 'index-a' });
  });
  afterAll(async () => {
    await local.close();
  });

  const spec = (out: string) => ({ audio: [wav], networks: ['index-a', 'index-b'], latents: { fps: 24 }, output: { format: 'png', path: out } });

  // 300 frames in segments of 64: five segments, the last one short; with 3 at once their frames are asked for round-robin
  it.each([1, 3])('writes every frame once, in order, drawn by the network its latent picked (two workers, %i segments encoding at once)', { timeout: 60_000 }, async (parallel) => {
    const out = join(dir, `frames-${parallel}`);
    const workDir = join(dir, `work-1-${parallel}`);
    const r = resolveRender(spec(out), local.deps.networks.catalogue, local.deps.latents.config);
    const progress: RenderProgress[] = [];
    let throttled = 0;
    const throttle = async () => {
      throttled++;
    };
    const pulled: number[] = [];
    const res = await renderResolved(r, indexSource(FRAMES, pulled), local.deps, { workDir, segmentFrames: 64, encodeParallel: parallel, throttle, onProgress: (p) => progress.push(p) });
    expect(throttled).toBe(FRAMES);
    // each latent taken once; with 3 at once, one frame of each of segments 0, 1, 2 in turn, then segments 3 and 4 (the short one) in their place
    expect([...pulled].sort((a, b) => a - b)).toEqual(Array.from({ length: FRAMES }, (_, i) => i));
    if (parallel === 1) expect(pulled).toEqual(Array.from({ length: FRAMES }, (_, i) => i));
    else {
      expect(pulled.slice(0, 7)).toEqual([0, 64, 128, 1, 65, 129, 2]);
      expect(pulled.slice(3 * 64, 3 * 64 + 4)).toEqual([192, 256, 193, 257]);
    }
    expect(res).toMatchObject({ output: out, frames: FRAMES, fps: 24, resumedFrames: 0 });
    checkFrames(out, FRAMES);
    const rendered = progress.filter((p) => p.stage === 'rendering');
    expect(rendered.at(-1)!.framesDone).toBe(FRAMES);
    expect(progress.at(-1)!.stage).toBe('done');
    const runConfig = JSON.parse(readFileSync(res.runConfig, 'utf8')) as { networks: Array<{ id: string; sidecarSha256: string }>; frames: number };
    expect(runConfig.frames).toBe(FRAMES);
    expect(runConfig.networks.map((n) => n.id)).toEqual(['index-a', 'index-b']);
    expect(runConfig.networks[0]!.sidecarSha256).toMatch(/^sha256:[0-9a-f]{64}$/);
    // a completed render leaves nothing of its own in the work folder
    expect(existsSync(workDir)).toBe(false);
    expect(readdirSync(dir).filter((n) => n.includes('.tmp'))).toEqual([]);
  });

  it('the throttle holds the render between two frames, and a cancel while it holds ends the render at once', { timeout: 60_000 }, async () => {
    const out = join(dir, 'frames-held');
    const workDir = join(dir, 'work-held');
    const r = resolveRender(spec(out), local.deps.networks.catalogue, local.deps.latents.config);
    let calls = 0;
    let onHold!: () => void;
    const holding = new Promise<void>((resolve) => (onHold = resolve));
    // frame 20's request waits for a release that never comes
    const throttle = () => (++calls === 21 ? (onHold(), new Promise<void>(() => {})) : Promise.resolve());
    const done: number[] = [];
    const abort = new AbortController();
    const rendering = renderResolved(r, indexSource(FRAMES), local.deps, {
      workDir,
      segmentFrames: 64,
      throttle,
      signal: abort.signal,
      onProgress: (p) => done.push(p.framesDone),
    });
    rendering.catch(() => {});
    await holding;
    expect(calls).toBe(21);
    abort.abort();
    const failure = await rendering.then(
      () => null,
      (err: unknown) => err as RenderFailure,
    );
    expect(failure).toBeInstanceOf(RenderFailure);
    expect(failure!.reason).toBe('cancelled');
    // no frame past the held one was requested, let alone written
    expect(Math.max(...done)).toBeLessThanOrEqual(20);
    expect(calls).toBe(21);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(workDir).filter((n) => n.startsWith('segment-') || n.startsWith('.'))).toEqual([]);
  });

  it('a worker that dies mid-render: its frames are retried elsewhere and the output is still exact', { timeout: 60_000 }, async () => {
    const out = join(dir, 'frames-crash');
    const pool = local.deps.networks.pool!;
    const r = resolveRender(spec(out), local.deps.networks.catalogue, local.deps.latents.config);
    let crashed = false;
    const res = await renderResolved(r, indexSource(FRAMES), local.deps, {
      workDir: join(dir, 'work-2'),
      segmentFrames: 64,
      onProgress: (p) => {
        if (!crashed && p.framesDone >= 40) {
          crashed = true;
          pool.crashWorker('w0', 'exit', true);
        }
      },
    });
    expect(crashed).toBe(true);
    expect(res.frames).toBe(FRAMES);
    checkFrames(out, FRAMES);
  });
});
