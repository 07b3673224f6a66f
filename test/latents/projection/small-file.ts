/** A small complete projection file for tests: the given latents, 2x2 images, plain attributes. */
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
