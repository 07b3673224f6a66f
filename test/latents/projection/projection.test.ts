import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import type { Group } from 'h5wasm/node';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ProjectionError } from '../../../src/latents/projection/errors.ts';
import { ProjectionFileReader } from '../../../src/latents/projection/reader.ts';
import { ProjectionFileWriter, type NewProjectionAttributes } from '../../../src/latents/projection/writer.ts';
import { LegacyRandomState } from '../../../src/latents/rng.ts';
import { tempDir } from '../../audio/wav.ts';
import { corruptFirstChunk, writeSmallProjection } from './small-file.ts';
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

// (that HDF5's diagnostic dump stays off stderr is checked on the CLI's own stderr, test/cli/latents.test.ts:
// in-process, vitest's console swallows it either way)
describe('damaged projection files: every read checked, the file and dataset named', () => {
  it('a corrupted gzip chunk: the read fails naming file and dataset (it used to return garbage)', async () => {
    const path = join(tempDir('gance-proj-'), 'corrupt.h5');
    copyFileSync(H5PY_PROJECTION, path);
    corruptFirstChunk(path, 'final_latents/final_latents_0');
    const r = await ProjectionFileReader.open(path, { numWs: 18 });
    try {
      for (const read of [() => r.finalLatentRow0(0), () => r.finalLatents(0)]) {
        const error = (() => {
          try {
            read();
          } catch (e) {
            return e;
          }
        })();
        expect(error).toBeInstanceOf(ProjectionError);
        expect((error as ProjectionError).code).toBe('PROJECTION_UNREADABLE');
        expect((error as Error).message).toBe(`${path}: cannot read dataset 'final_latents/final_latents_0' (HDF5: data pipeline read failed: filter returned failure during read)`);
      }
      // the undamaged frames still read, and exactly
      expect(Array.from(r.finalLatentRow0(1))).toEqual(Array.from(Float32Array.from(new LegacyRandomState(101).randn(512))));
    } finally {
      r.close();
    }
  });

  it('a truncated file: "damaged or truncated" with HDF5\'s reason, not "not an HDF5 file"', async () => {
    const path = join(tempDir('gance-proj-'), 'truncated.h5');
    const bytes = readFileSync(H5PY_PROJECTION);
    writeFileSync(path, bytes.subarray(0, Math.floor(bytes.length * 0.7)));
    const e = await expectProjectionError(ProjectionFileReader.open(path), 'PROJECTION_UNREADABLE', path);
    expect(e.message).toMatch(/truncated\.h5: damaged or truncated HDF5 file \(HDF5: .*truncated file: eof = \d+/);
    const text = join(tempDir('gance-proj-'), 'text.h5');
    writeFileSync(text, 'not hdf5 at all');
    await expect(ProjectionFileReader.open(text)).rejects.toThrow(/text\.h5: not an HDF5 file \(no HDF5 signature\)$/);
  });

  it('NaN or infinite latents are refused, naming the dataset, row and column', async () => {
    const dir = tempDir('gance-proj-');
    const good = latent(18, 0);
    const nan = latent(18, 1);
    nan[5] = NaN;
    const inf = latent(18, 2);
    inf[3 * 512 + 7] = -Infinity;
    const path = await writeSmallProjection(join(dir, 'nan.h5'), { projectionFps: 15, latents: [good, nan, inf] });
    const r = await ProjectionFileReader.open(path, { numWs: 18 });
    try {
      expect(r.finalLatents(0)).toEqual(good);
      expect(() => r.finalLatentRow0(1)).toThrow(/nan\.h5: dataset 'final_latents\/final_latents_1' holds a non-finite latent \(NaN at w row 0, column 5\)/);
      expect(() => r.finalLatents(1)).toThrow(ProjectionError);
      expect(r.finalLatentRow0(2)).toEqual(inf.subarray(0, 512));
      expect(() => r.finalLatents(2)).toThrow(/final_latents_2' holds a non-finite latent \(-Infinity at w row 3, column 7\)/);
    } finally {
      r.close();
    }
  });

  it('a frame whose latents have another shape than the first frame\'s is refused when read', async () => {
    const path = await writeSmallProjection(join(tempDir('gance-proj-'), 'ws16.h5'), { projectionFps: 15, latents: [latent(18, 0)] });
    const { h5 } = await import('../../../src/latents/projection/format.ts');
    const lib = await h5();
    const f = new lib.File(path, 'a');
    (f.get('final_latents') as Group).create_dataset({ name: 'final_latents_1', data: latent(16, 1), shape: [1, 16, 512], dtype: '<f' });
    f.close();
    const r = await ProjectionFileReader.open(path, { numWs: 18 });
    try {
      expect(r.finalLatents(0)).toEqual(latent(18, 0));
      expect(() => r.finalLatents(1)).toThrow(/ws16\.h5: dataset 'final_latents\/final_latents_1' has shape \[1, 16, 512\], expected \[1, 18, 512\] like the first frame's/);
      expect(() => r.finalLatentRow0(1)).toThrow(ProjectionError);
    } finally {
      r.close();
    }
  });

  it('integer latents are refused, at open (first frame) and per frame', async () => {
    const dir = tempDir('gance-proj-');
    const addIntLatent = async (path: string, index: number) => {
      const { h5 } = await import('../../../src/latents/projection/format.ts');
      const lib = await h5();
      const f = new lib.File(path, 'a');
      (f.get('final_latents') as Group).create_dataset({ name: `final_latents_${index}`, data: Int32Array.from({ length: 18 * 512 }, (_, i) => i % 7), shape: [1, 18, 512], dtype: '<i' });
      f.close();
    };
    const later = await writeSmallProjection(join(dir, 'int1.h5'), { projectionFps: 15, latents: [latent(18, 0)] });
    await addIntLatent(later, 1);
    const r = await ProjectionFileReader.open(later, { numWs: 18 });
    try {
      expect(r.latentCount).toBe(2);
      for (const read of [() => r.finalLatentRow0(1), () => r.finalLatents(1)]) {
        expect(read).toThrow(ProjectionError);
        expect(read).toThrow(/int1\.h5: dataset 'final_latents\/final_latents_1' has dtype .*, expected float32 \(latents are floating point\)/);
      }
    } finally {
      r.close();
    }
    const first = await writeSmallProjection(join(dir, 'int0.h5'), { projectionFps: 15, latents: [] });
    await addIntLatent(first, 0);
    await expect(ProjectionFileReader.open(first)).rejects.toThrow(/int0\.h5: dataset 'final_latents\/final_latents_0' has dtype .*, expected float32/);
  });
});
