/**
 * Latents against the GANce reference (gance_reference.py with the real numpy/scipy/sklearn/pandas), as
 * src/latents/README.md states: noise bit for bit (also on longer tracks); z and the projection-blend w
 * float32 values equal on the fixture (in general at most one float32 step off, where the spectrogram's
 * ~1e-13 flips a rounding); network choices identical.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Value } from '@sinclair/typebox/value';
import { LatentsConfig } from '../../src/latents/config.ts';
import { ganceNoise } from '../../src/latents/noise.ts';
import { latentFrameAt, prepareOffline } from '../../src/latents/offline.ts';
import { createLiveParams } from '../../src/latents/params.ts';
import { H5PY_PROJECTION, loadReference, maxAbsDiff, REFERENCE_WAV } from '../audio/features/gance-reference.ts';


describe('latents vs GANce reference', () => {
  const ref = loadReference();
  const base = Value.Default(LatentsConfig, {}) as LatentsConfig;

  it('noise: RandomState(1234) + gaussian_filter(sigma 50, wrap) + minmax(-4, 4), bit for bit', () => {
    const n = ganceNoise({ frames: ref.manifest.frames, vectorLength: 512, seed: 1234, sigma: 50, range: [-4, 4] });
    expect(maxAbsDiff(n, ref.array('noise'))).toBe(0);
  });

  it('noise of longer tracks, where a float64 sum of squares gives another RMS than numpy: bit for bit, kernel and JavaScript', () => {
    // SHA-256 of the float32 noise from numpy 2.4.6 + scipy 1.17.1: RandomState(1234).randn(frames, 1, 512)
    // .astype(float32), gaussian_filter(sigma=(50, 0, 0), mode='wrap'), /= np.sqrt(np.mean(np.square(lat))),
    // then sklearn's minmax_scale arithmetic to (-4, 4) in float32. At these lengths numpy's float32 pairwise
    // mean and a float64 sum round to RMS values one float32 step apart (0.07974436 vs 0.07974437 at 170).
    const numpy: Record<number, string> = {
      170: '561467eaa326467223711476dea422a6026e9a6dc110de16b68229518553115d',
      282: '53f7800bfbe9fd981454e8e275c1ee34d409742b68da02dacf717f67943ab284',
      3600: '3c207a1c6d8d9f1c3af3f71435d85a67a2f8ba145479d800e604cd23efc96eb0', // one minute at 60 fps
    };
    for (const [frames, sha] of Object.entries(numpy)) {
      for (const kernel of [true, false]) {
        const n = ganceNoise({ frames: Number(frames), vectorLength: 512, seed: 1234, sigma: 50, range: [-4, 4], kernel });
        const got = createHash('sha256').update(new Uint8Array(n.buffer, n.byteOffset, n.byteLength)).digest('hex');
        expect(got, `${frames} frames, kernel ${kernel}`).toBe(sha);
      }
    }
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
    expect(maxAbsDiff(z, ref.array('z_alpha025'))).toBe(0);
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
    expect(maxAbsDiff(row0, ref.array('proj_w_row0_blended'))).toBe(0);
    expect(maxAbsDiff(row10, ref.array('proj_w_row10'))).toBe(0);
    plan.projection!.reader.close();
  });
});
