/**
 * Projection renders: a GANce projection file's latents blended with the audio, fed as w rows to
 * a w network, checked frame by frame against the latents computed directly; a projection file
 * that does not fit the network is refused naming the file.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { offlineLatents, prepareOffline } from '../../src/latents/offline.ts';
import { createLiveParams } from '../../src/latents/params.ts';
import { LegacyRandomState } from '../../src/latents/rng.ts';
import type { LocalRenderer } from '../../src/render/local.ts';
import { resolveRender } from '../../src/render/resolve.ts';
import { runRender } from '../../src/render/run.ts';
import type { RenderSpec } from '../../src/render/spec.ts';
import { RenderFailure } from '../../src/render/types.ts';
import { addInto, clicks, tempDir, tone, writeWav } from '../audio/wav.ts';
import { ProjectionFileWriter } from '../../src/latents/projection/writer.ts';
import { INDEX_NET_SIZE, W_NET_ROWS, localRenderer, readPngFolder, wPixel, writeWIndexNetwork } from './helpers.ts';

/** A complete projection file of these w latents (rows x 512 each) at 2 projected frames a second. */
async function writeProjection(path: string, rows: number, latents: Float32Array[]): Promise<string> {
  const w = await ProjectionFileWriter.create(
    path,
    {
      originalTargetPath: 'face.mp4', originalWidthHeight: [4, 4], projectionWidthHeight: [4, 4], targetMd5Hash: '0'.repeat(32),
      originalNetworkPath: 'net.pkl', networkMd5Hash: '1'.repeat(32), stepsInProjection: 10, noisesShapes: null,
      latentsHistoriesEnabled: false, noisesHistoriesEnabled: false, imagesHistoriesEnabled: false,
      originalFps: 30, projectionFps: 2, originalFrameCount: 2 * latents.length, projectionFrameCount: latents.length,
    },
    rows,
  );
  const image = { height: 2, width: 2, channels: 3, data: new Uint8Array(12) };
  for (const finalLatents of latents) w.addFrame({ targetImage: image, finalLatents, finalImage: image });
  w.complete();
  return path;
}

describe('projection renders', () => {
  let dir: string;
  let song: string;
  let local: LocalRenderer;
  beforeAll(() => {
    dir = tempDir('gance-render-projection-');
    writeWIndexNetwork(join(dir, 'nets'), 'w-index');
    song = join(dir, 'song.wav');
    writeWav(song, 22050, 1, addInto(tone(22050, 2, [220, 330], 0.2), clicks(22050, 2, 0.25)));
    local = localRenderer({ extraDirs: [join(dir, 'nets')], firstNetwork: 'w-index' });
  });
  afterAll(async () => {
    await local.close();
  });

  const latents = (rows: number, count: number) => {
    const rng = new LegacyRandomState(3);
    return Array.from({ length: count }, () => Float32Array.from(rng.randn(rows * 512)));
  };
  const spec = (projectionFile: string, out: string) =>
    ({ audio: [song], networks: ['w-index'], latents: { fps: 24, projectionFile, blendDepth: 2 }, output: { format: 'png', path: out } }) as RenderSpec;

  it('renders the blended w of every frame on a w network', { timeout: 120_000 }, async () => {
    // 4 latents at 2 fps for 2 s of audio: each repeated 12 times at 24 fps
    const proj = await writeProjection(join(dir, 'fits.h5'), W_NET_ROWS, latents(W_NET_ROWS, 4));
    const out = join(dir, 'frames');
    const r = await runRender(spec(proj, out), local.deps, { workDir: join(dir, 'w-fits') });
    expect(r.frames).toBe(48);

    const config = resolveRender(spec(proj, out), local.deps.networks.catalogue, local.deps.latents.config).latents;
    expect(config).toMatchObject({ mode: 'projection-file-blend', numWs: W_NET_ROWS, blendDepth: 2 });
    const plan = await prepareOffline({ files: [song], config });
    const want: number[][] = [];
    try {
      for await (const f of offlineLatents(plan, createLiveParams(config, 1))) want.push(wPixel(f.w!));
    } finally {
      plan.projection?.reader.close();
    }
    const got = readPngFolder(out, INDEX_NET_SIZE * INDEX_NET_SIZE * 3).frames.map((p) => [p[0]!, p[1]!, p[2]!]);
    expect(got).toEqual(want);
    // the audio moves the blended rows: not one picture repeated
    expect(new Set(got.map((p) => p.join(','))).size).toBeGreaterThan(10);
  });

  it('refuses a projection file whose latents do not fit the network, naming the file', { timeout: 60_000 }, async () => {
    const proj = await writeProjection(join(dir, 'misfit.h5'), 6, latents(6, 4));
    const err = await runRender(spec(proj, join(dir, 'never')), local.deps, { workDir: join(dir, 'w-misfit') }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RenderFailure);
    expect((err as RenderFailure).reason).toBe('bad-input');
    expect((err as RenderFailure).message).toContain(proj);
    expect((err as RenderFailure).message).toMatch(/latents have 6 w rows but the network takes 4/);
  });
});
