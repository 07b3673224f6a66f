/** From a spec to what the pipeline runs: the latents overrides merged, the networks fitted, the sizes bounded. */
import { join } from 'node:path';
import pino from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config/load.ts';
import type { LatentsConfig } from '../../src/latents/config.ts';
import { resolveRender } from '../../src/render/resolve.ts';
import { RenderFailure } from '../../src/render/types.ts';
import { BUNDLED_NETWORKS_DIR, NetworkCatalogue } from '../../src/synthesis/networks/catalogue.ts';
import { tempDir } from '../audio/wav.ts';
import { writeIndexNetwork } from './helpers.ts';

function refusal(fn: () => unknown): RenderFailure {
  try {
    fn();
  } catch (err) {
    if (err instanceof RenderFailure) return err;
    throw err;
  }
  throw new Error('not refused');
}

describe('resolveRender', () => {
  let catalogue: NetworkCatalogue;
  let daemon: LatentsConfig;
  beforeAll(() => {
    const nets = join(tempDir('gance-render-resolve-'), 'nets');
    writeIndexNetwork(nets, 'index-a');
    writeIndexNetwork(nets, 'index-psi', false, 0.6);
    catalogue = new NetworkCatalogue({ dirs: [nets], bundledDir: BUNDLED_NETWORKS_DIR, log: pino({ level: 'silent' }) });
    // a daemon whose settings differ from the schema's defaults
    daemon = { ...loadConfigFile().synthesis.latents, alpha: 0.5, fftAmplitudeRange: [-5, 5], blendDepth: 4, noise: { seed: 99, sigma: 20, range: [-2, 2] } };
  });
  const spec = (extra: Record<string, unknown> = {}, output: Record<string, unknown> = {}) => ({ audio: ['a.wav'], networks: ['demo-64'], output: { path: '/tmp/x.mp4', ...output }, ...extra });

  it("keeps the daemon's latents settings where the render says nothing, and takes the render's where it does", () => {
    const kept = resolveRender(spec(), catalogue, daemon).latents;
    expect(kept).toMatchObject({ alpha: 0.5, fftAmplitudeRange: [-5, 5], blendDepth: 4, mode: 'noise-blend', noise: { seed: 99, sigma: 20, range: [-2, 2] } });
    const over = resolveRender(spec({ latents: { alpha: 0.1, fps: 30, noise: { seed: 7 } } }), catalogue, daemon).latents;
    expect(over).toMatchObject({ alpha: 0.1, fps: 30, fftAmplitudeRange: [-5, 5], noise: { seed: 7, sigma: 20, range: [-2, 2] } });
  });

  it("feeds z networks the spec's psi, else each sidecar's, and takes the latent length from the network", () => {
    const r = resolveRender(spec({ networks: ['index-a', 'index-psi'] }, { format: 'png', path: '/tmp/frames' }), catalogue, { ...daemon, vectorLength: 256 });
    expect(r.kind).toBe('z');
    expect(r.latents.vectorLength).toBe(512);
    expect(r.psi).toEqual([1, 0.6]);
    expect(resolveRender(spec({ truncationPsi: 0.7 }), catalogue, daemon).psi).toEqual([0.7]);
  });

  it('bounds the size: even, at most 4x the network, scaled bicubic; networks of different sizes refused', () => {
    expect(resolveRender(spec({}, { size: 256 }), catalogue, daemon).encode).toMatchObject({ width: 64, height: 64, outWidth: 256, outHeight: 256 });
    expect(resolveRender(spec(), catalogue, daemon).encode).toMatchObject({ outWidth: 64, outHeight: 64 });
    expect(refusal(() => resolveRender(spec({}, { size: 258 }), catalogue, daemon)).message).toBe("output size 258: more than 4x the network's 64 px (at most 256)");
    expect(refusal(() => resolveRender(spec({}, { size: 100.5 }), catalogue, daemon)).message).toMatch(/^render spec: output\.size/);
    expect(refusal(() => resolveRender(spec({ networks: ['demo-64', 'index-a'] }), catalogue, daemon)).message).toBe(
      'networks: "index-a" makes 8x8 pictures, "demo-64" 64x64; one render needs one size',
    );
  });

  it('refuses an mp4 output or debug video whose name says another format; PNG folders take any name', () => {
    expect(refusal(() => resolveRender(spec({}, { path: '/tmp/x.exe' }), catalogue, daemon)).message).toBe('output.path /tmp/x.exe: the extension ".exe" is not one the render writes; an mp4 render\'s file is .mp4');
    expect(refusal(() => resolveRender(spec({}, { debugPath: '/tmp/d.webm' }), catalogue, daemon)).message).toMatch(/^output\.debugPath \/tmp\/d\.webm: the extension "\.webm"/);
    expect(resolveRender(spec({}, { path: '/tmp/UPPER.MP4' }), catalogue, daemon).spec.output.path).toBe('/tmp/UPPER.MP4');
    expect(resolveRender(spec({}, { format: 'png', path: '/tmp/frames.d' }), catalogue, daemon).encode.format).toBe('png');
  });

  it('refuses a projection for a z network, and a projection file with noise-blend', () => {
    const z = refusal(() => resolveRender(spec({ latents: { projectionFile: '/data/face.h5' } }), catalogue, daemon));
    expect(z.reason).toBe('bad-input');
    expect(z.message).toMatch(/^projection file "\/data\/face\.h5": a projection blend makes w latents, but network "demo-64" takes z/);
    const both = refusal(() => resolveRender(spec({ latents: { projectionFile: '/data/face.h5', mode: 'noise-blend' } }), catalogue, daemon));
    expect(both.message).toBe('projection file "/data/face.h5": goes with mode projection-file-blend, not noise-blend');
    // the mode with no file from the render or the daemon: the missing field, by its name
    const none = refusal(() => resolveRender(spec({ latents: { mode: 'projection-file-blend' } }), catalogue, daemon));
    expect(none.message).toBe('latents.projectionFile: is required when latents.mode is "projection-file-blend" (the GANce projection file whose w latents the audio blends); none was given');
  });
});
