/** A small complete projection file for tests: the given latents, 2x2 images, plain attributes. */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { ProjectionFileWriter } from '../../../src/latents/projection/writer.ts';

export interface SmallProjection {
  projectionFps: number;
  /** one w (numWs x 512) per projected frame */
  latents: Float32Array[];
  originalFps?: number;
  originalFrameCount?: number;
}

export async function writeSmallProjection(path: string, p: SmallProjection): Promise<string> {
  const w = await ProjectionFileWriter.create(path, {
    originalTargetPath: 'face.mp4', originalWidthHeight: [4, 4], projectionWidthHeight: [4, 4], targetMd5Hash: '0'.repeat(32),
    originalNetworkPath: 'net.pkl', networkMd5Hash: '1'.repeat(32), stepsInProjection: 10, noisesShapes: null,
    latentsHistoriesEnabled: false, noisesHistoriesEnabled: false, imagesHistoriesEnabled: false,
    originalFps: p.originalFps ?? 30, projectionFps: p.projectionFps, originalFrameCount: p.originalFrameCount ?? 2 * p.latents.length, projectionFrameCount: p.latents.length,
  });
  const image = { height: 2, width: 2, channels: 3, data: new Uint8Array(12) };
  for (const finalLatents of p.latents) w.addFrame({ targetImage: image, finalLatents, finalImage: image });
  w.complete();
  return path;
}

/** File offsets and sizes of a chunked dataset's (compressed) chunks, as the HDF5 tools report them. */
export function chunkAddresses(path: string, dataset: string): Array<{ bytes: number; address: number }> {
  const out = execFileSync('h5ls', ['-v', '--address', `${path}/${dataset}`], { encoding: 'utf8' });
  return [...out.matchAll(/^\s*0x[0-9a-f]+\s+(\d+)\s+(\d+)\s+\[/gm)].map((m) => ({ bytes: Number(m[1]), address: Number(m[2]) }));
}

/** Flips 16 bytes a quarter of the way into the dataset's first gzip chunk (the deflate stream fails to inflate). */
export function corruptFirstChunk(path: string, dataset: string): void {
  const chunk = chunkAddresses(path, dataset)[0];
  if (!chunk) throw new Error(`${path}: h5ls found no chunks in ${dataset}`);
  const bytes = readFileSync(path);
  const at = chunk.address + Math.floor(chunk.bytes / 4);
  for (let i = at; i < at + 16; i++) bytes[i]! ^= 0x5a;
  writeFileSync(path, bytes);
}
