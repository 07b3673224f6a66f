/**
 * Latents against the GANce reference (gance_reference.py with the real numpy/scipy/sklearn/pandas):
 * noise bit-identical; z and the projection-blend w within 1e-6 (float32 outputs of a float64
 * spectrogram that matches to ~3e-13); network choices identical.
 */
import { describe, expect, it } from 'vitest';
import { Value } from '@sinclair/typebox/value';
import { LatentsConfig } from '../../src/latents/config.ts';
import { ganceNoise } from '../../src/latents/noise.ts';
import { latentFrameAt, prepareOffline } from '../../src/latents/offline.ts';
import { createLiveParams } from '../../src/latents/params.ts';
import { H5PY_PROJECTION, loadReference, maxAbsDiff, REFERENCE_WAV } from '../audio/features/gance-reference.ts';

export const LATENT_TOLERANCE = 1e-6;

describe('latents vs GANce reference', () => {
  const ref = loadReference();
  const base = Value.Default(LatentsConfig, {}) as LatentsConfig;

  it('noise: RandomState(1234) + gaussian_filter(sigma 50, wrap) + minmax(-4, 4), bit for bit', () => {
    const n = ganceNoise({ frames: ref.manifest.frames, vectorLength: 512, seed: 1234, sigma: 50, range: [-4, 4] });
    expect(maxAbsDiff(n, ref.array('noise'))).toBe(0);
  });

  it('noise-blend z = 0.75 noise + 0.25 spectrogram and network indices', async () => {
    const plan = await prepareOffline({ files: [REFERENCE_WAV], config: base, richFeatures: false });
    expect(plan.frames).toBe(ref.manifest.frames);
    const params = createLiveParams(base, 3);
    const z = new Float32Array(plan.frames * 512);
    const nets: number[] = [];
    for (let f = 0; f < plan.frames; f++) {
      const fr = latentFrameAt(plan, f, params);
      z.set(fr.z!, f * 512);
      nets.push(fr.network);
      expect(fr.w).toBeUndefined();
    }
    expect(maxAbsDiff(z, ref.array('z_alpha025'))).toBeLessThan(LATENT_TOLERANCE);
    expect(nets).toEqual(ref.manifest.network_indices_noise_blend);
  });

  it('projection-file-blend w: rows < 10 blended, the rest the projected w, each latent held 4 frames', async () => {
    const cfg = { ...base, mode: 'projection-file-blend' as const, projectionFile: H5PY_PROJECTION };
    const plan = await prepareOffline({ files: [REFERENCE_WAV], config: cfg, richFeatures: false });
    expect(plan.frames).toBe(ref.manifest.projection_target_vectors);
    expect(plan.projection!.framesPerLatent).toBe(4);
    const params = createLiveParams(cfg, 3);
    const row0 = new Float32Array(plan.frames * 512);
    const row10 = new Float32Array(plan.frames * 512);
    for (let f = 0; f < plan.frames; f++) {
      const w = latentFrameAt(plan, f, params).w!;
      expect(w.length).toBe(18 * 512);
      row0.set(w.subarray(0, 512), f * 512);
      row10.set(w.subarray(10 * 512, 11 * 512), f * 512);
      expect(Array.from(w.subarray(9 * 512, 10 * 512))).toEqual(Array.from(w.subarray(0, 512)));
      expect(Array.from(w.subarray(17 * 512))).toEqual(Array.from(w.subarray(10 * 512, 11 * 512)));
    }
    expect(maxAbsDiff(row0, ref.array('proj_w_row0_blended'))).toBeLessThan(LATENT_TOLERANCE);
    expect(maxAbsDiff(row10, ref.array('proj_w_row10'))).toBe(0);
    plan.projection!.reader.close();
  });
});
