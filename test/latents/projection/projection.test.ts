import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ProjectionError } from '../../../src/latents/projection/errors.ts';
import { ProjectionFileReader } from '../../../src/latents/projection/reader.ts';
import { ProjectionFileWriter, type NewProjectionAttributes } from '../../../src/latents/projection/writer.ts';
import { LegacyRandomState } from '../../../src/latents/rng.ts';
import { tempDir } from '../../audio/wav.ts';
import { H5PY_PROJECTION, H5PY_PROJECTION_INCOMPLETE } from '../../audio/features/gance-reference.ts';

const attrs = (over: Partial<NewProjectionAttributes> = {}): NewProjectionAttributes => ({
  originalTargetPath: '/videos/face.mp4',
  originalWidthHeight: [1920, 1080],
  projectionWidthHeight: [4, 4],
  targetMd5Hash: 'aa'.repeat(16),
  originalNetworkPath: '/networks/faces.pkl',
  networkMd5Hash: 'bb'.repeat(16),
  stepsInProjection: 1000,
  noisesShapes: [[1, 1, 4, 4], [1, 1, 8, 8]],
  latentsHistoriesEnabled: false,
  noisesHistoriesEnabled: false,
  imagesHistoriesEnabled: false,
  originalFps: 30,
  projectionFps: 15,
  originalFrameCount: 6,
  projectionFrameCount: 3,
  ...over,
});

const img = (v: number) => ({ height: 4, width: 4, channels: 3, data: new Uint8Array(48).fill(v) });
const latent = (numWs: number, v: number) => Float32Array.from({ length: numWs * 512 }, (_, i) => v + (i % 512) / 1000);

async function expectProjectionError(p: Promise<unknown>, code: string, file: string): Promise<ProjectionError> {
  const e = await p.then(() => null, (x: unknown) => x);
  expect(e).toBeInstanceOf(ProjectionError);
  expect((e as ProjectionError).code).toBe(code);
  expect((e as ProjectionError).message).toContain(file);
  return e as ProjectionError;
}

async function writeFile(path: string, frames: number, opts: { numWs?: number; complete?: boolean; attrs?: Partial<NewProjectionAttributes> } = {}) {
  const w = await ProjectionFileWriter.create(path, attrs(opts.attrs), opts.numWs ?? 18);
  for (let i = 0; i < frames; i++) w.addFrame({ targetImage: img(i), finalLatents: latent(opts.numWs ?? 18, i), finalImage: img(255 - i) });
  if (opts.complete === false) w.close();
  else w.complete();
}

describe('GANce projection files', () => {
  it('reads a file written by h5py (GANce layout, enum bools, v2 names) lazily per frame', async () => {
    const r = await ProjectionFileReader.open(H5PY_PROJECTION, { numWs: 18 });
    try {
      expect(r.attributes).toMatchObject({
        versionNumber: 2,
        complete: true,
        originalNetworkPath: '/networks/network-snapshot-000100.pkl',
        networkMd5Hash: 'fedcba9876543210fedcba9876543210',
        projectionFps: 15,
        originalFps: 30,
        projectionFrameCount: 4,
        originalFrameCount: 8,
        stepsInProjection: 2,
        latentsHistoriesEnabled: true,
        imagesHistoriesEnabled: false,
        noisesShapes: [[1, 1, 4, 4], [1, 1, 8, 8]],
        originalWidthHeight: [8, 8],
      });
      expect(r.latentCount).toBe(4);
      for (const i of [3, 0, 2]) {
        const expected = Float32Array.from(new LegacyRandomState(100 + i).randn(512));
        const full = r.finalLatents(i);
        expect(full.length).toBe(18 * 512);
        expect(Array.from(full.subarray(17 * 512))).toEqual(Array.from(expected));
        expect(Array.from(r.finalLatentRow0(i))).toEqual(Array.from(expected));
      }
      const t = r.targetImage(1);
      const f = r.finalImage(1);
      expect([t.height, t.width, t.channels]).toEqual([8, 8, 3]);
      expect(Array.from(f.data)).toEqual(Array.from(t.data, (v) => 255 - v));
      expect(() => r.finalLatents(4)).toThrow(/out of range 0..3/);
    } finally {
      r.close();
    }
  });

  it('refuses an incomplete h5py file unless asked to inspect it', async () => {
    const e = await expectProjectionError(ProjectionFileReader.open(H5PY_PROJECTION_INCOMPLETE), 'PROJECTION_INCOMPLETE', H5PY_PROJECTION_INCOMPLETE);
    expect(e.message).toMatch(/2 of 4 frames/);
    const r = await ProjectionFileReader.open(H5PY_PROJECTION_INCOMPLETE, { allowIncomplete: true });
    expect(r.attributes.complete).toBe(false);
    expect(r.attributes.noisesShapes).toBeNull();
    expect(r.latentCount).toBe(2);
    r.close();
  });

  it('writes the same format: read back here and by the HDF5 tools', async () => {
    const path = join(tempDir('gance-proj-'), 'out.h5');
    await writeFile(path, 3);
    const r = await ProjectionFileReader.open(path, { numWs: 18, networkMd5: 'BB'.repeat(16) });
    expect(r.attributes).toMatchObject({ versionNumber: 2, complete: true, projectionFrameCount: 3, projectionFps: 15, noisesShapes: [[1, 1, 4, 4], [1, 1, 8, 8]] });
    expect(r.finalLatents(2)).toEqual(latent(18, 2));
    expect(r.targetImage(1).data).toEqual(img(1).data);
    r.close();
    const dump = execFileSync('h5dump', ['-H', path], { encoding: 'utf8' });
    for (const name of ['final_latents_2', 'target_images_0', 'final_images_1', 'latents_histories', 'network_md5_hash', 'projection_frame_count']) expect(dump).toContain(name);
    expect(execFileSync('h5dump', ['-d', '/final_latents/final_latents_0', '-H', '-p', path], { encoding: 'utf8' })).toMatch(/DEFLATE \{ LEVEL 9 \}|COMPRESSION DEFLATE \{ LEVEL 9 \}/);
  });

  it('refuses count mismatches over 2, another network, and non-projection files', async () => {
    const dir = tempDir('gance-proj-');
    const short = join(dir, 'short.h5');
    await writeFile(short, 3, { attrs: { projectionFrameCount: 6 } });
    const e = await expectProjectionError(ProjectionFileReader.open(short), 'PROJECTION_COUNT_MISMATCH', short);
    expect(e.message).toMatch(/3 final latents but projection_frame_count is 6/);
    const within = join(dir, 'within.h5');
    await writeFile(within, 3, { attrs: { projectionFrameCount: 5 } });
    (await ProjectionFileReader.open(within)).close();

    const small = join(dir, 'ws16.h5');
    await writeFile(small, 2, { numWs: 16, attrs: { projectionFrameCount: 2 } });
    await expectProjectionError(ProjectionFileReader.open(small, { numWs: 18 }), 'PROJECTION_NETWORK_MISMATCH', small);
    await expectProjectionError(ProjectionFileReader.open(within, { networkMd5: 'cc'.repeat(16) }), 'PROJECTION_NETWORK_MISMATCH', within);

    const unfinished = join(dir, 'unfinished.h5');
    await writeFile(unfinished, 1, { complete: false });
    await expectProjectionError(ProjectionFileReader.open(unfinished), 'PROJECTION_INCOMPLETE', unfinished);

    const text = join(dir, 'text.h5');
    writeFileSync(text, 'not hdf5');
    await expectProjectionError(ProjectionFileReader.open(text), 'PROJECTION_UNREADABLE', text);
    await expectProjectionError(ProjectionFileReader.open(join(dir, 'missing.h5')), 'PROJECTION_UNREADABLE', 'missing.h5');
    const other = join(dir, 'other.h5');
    const w = await ProjectionFileWriter.create(other, attrs());
    w.close();
    // strip it to a bare HDF5 without GANce groups by rewriting through h5wasm
    const { h5 } = await import('../../../src/latents/projection/format.ts');
    const lib = await h5();
    const f = new lib.File(other, 'w');
    f.create_attribute('something', 1, null, '<q');
    f.close();
    await expectProjectionError(ProjectionFileReader.open(other), 'PROJECTION_BAD_FORMAT', other);
  });
});
