/** A small complete GANce projection file for tests: `count` latents of rows x 512, 2 fps of a 30 fps target. */
import { ProjectionFileWriter } from '../../src/latents/projection/writer.ts';

export async function writeProjectionFile(path: string, rows: number, count: number, latent: (i: number) => Float32Array): Promise<string> {
  const w = await ProjectionFileWriter.create(
    path,
    {
      originalTargetPath: 'face.mp4', originalWidthHeight: [4, 4], projectionWidthHeight: [4, 4], targetMd5Hash: '0'.repeat(32),
      originalNetworkPath: 'net.pkl', networkMd5Hash: '1'.repeat(32), stepsInProjection: 10, noisesShapes: null,
      latentsHistoriesEnabled: false, noisesHistoriesEnabled: false, imagesHistoriesEnabled: false,
      originalFps: 30, projectionFps: 2, originalFrameCount: 2 * count, projectionFrameCount: count,
    },
    rows,
  );
  const image = { height: 2, width: 2, channels: 3, data: new Uint8Array(12) };
  for (let i = 0; i < count; i++) w.addFrame({ targetImage: image, finalLatents: latent(i), finalImage: image });
  w.complete();
  return path;
}
