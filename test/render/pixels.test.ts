/**
 * The float32 `image` output (synthesis.output: image) becomes the same pixels as the graph's own
 * uint8 `frames` output: a render of each, as PNG, compared byte for byte.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runRender } from '../../src/render/run.ts';
import type { RenderSpec } from '../../src/render/spec.ts';
import { addInto, clicks, tempDir, tone, writeWav } from '../audio/wav.ts';
import { localRenderer, readPngFolder } from './helpers.ts';

describe('pixels', () => {
  it("a network's float image output gives the pixels of its uint8 frames output", { timeout: 120_000 }, async () => {
    const dir = tempDir('gance-render-pixels-');
    const song = join(dir, 'song.wav');
    writeWav(song, 22050, 1, addInto(tone(22050, 1, [220, 330], 0.2), clicks(22050, 1, 0.2)));
    const pictures: Buffer[][] = [];
    for (const output of ['frames', 'image'] as const) {
      const local = localRenderer({ output });
      try {
        const out = join(dir, output);
        await runRender({ audio: [song], networks: ['demo-64'], latents: { fps: 24 }, output: { format: 'png', path: out } } as RenderSpec, local.deps, { workDir: join(dir, `w-${output}`) });
        pictures.push(readPngFolder(out, 64 * 64 * 3).frames);
      } finally {
        await local.close();
      }
    }
    const [frames, image] = pictures as [Buffer[], Buffer[]];
    expect(frames).toHaveLength(24);
    expect(image).toHaveLength(24);
    // the pictures move: a comparison of constant frames would prove little
    expect(Buffer.compare(frames[0]!, frames[23]!)).not.toBe(0);
    const differing = frames.map((f, i) => f.reduce((n, v, j) => n + (v !== image[i]![j] ? 1 : 0), 0));
    expect(differing).toEqual(new Array(24).fill(0));
  });
});
