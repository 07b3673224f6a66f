/**
 * The GANce cross-check: the same 0.5 s signal through this code and through numpy/scipy/sklearn/pandas
 * (test/fixtures/audio/gance_reference.py). As src/latents/README.md states: resampled audio and frame RMS
 * bit for bit; spectrogram vectors within 1e-9 absolute (measured ~3e-13: window, FFT, log10 and
 * Savitzky-Golay coefficients computed otherwise); network indices identical.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeFiles } from '../../../src/audio/decode.ts';
import { scaleForVideo, type VideoAudio } from '../../../src/audio/gance-audio.ts';
import { frameRms, quantizeToIndices, smoothedRollingAverage } from '../../../src/audio/features/rms.ts';
import { ganceSpectrogram } from '../../../src/audio/features/spectrogram.ts';
import { NOISE_BLEND_SMOOTHING, PROJECTION_BLEND_SMOOTHING } from '../../../src/latents/network-switch.ts';
import { loadReference, maxAbsDiff, REFERENCE_WAV } from './gance-reference.ts';

export const SPECTROGRAM_TOLERANCE = 1e-9;

describe('GANce cross-check (numpy/scipy/sklearn/pandas reference)', () => {
  const ref = loadReference();
  let video: VideoAudio;

  beforeAll(async () => {
    const audio = await decodeFiles([REFERENCE_WAV]);
    video = await scaleForVideo(audio.samples, audio.sampleRate, 512, { fps: ref.manifest.fps });
  });

  it('resamples to 512 x fps bit-for-bit like resampy 0.2.2 kaiser_best', () => {
    expect(video.scaledRate).toBe(ref.manifest.scaled_rate);
    expect(video.frames).toBe(ref.manifest.frames);
    expect(maxAbsDiff(video.samples, ref.array('resampled'))).toBe(0);
  });

  it('matches the spectrogram vectors (range -1..1, no roll)', () => {
    const s = ganceSpectrogram(video.samples, { vectorLength: 512, amplitudeRange: [-1, 1], rollEnabled: false });
    expect(maxAbsDiff(s.vectors, ref.array('spec_range1_noroll'))).toBeLessThan(SPECTROGRAM_TOLERANCE);
  });

  it('matches the spectrogram vectors (range -5..5, roll enabled)', () => {
    const s = ganceSpectrogram(video.samples, { vectorLength: 512, amplitudeRange: [-5, 5], rollEnabled: true });
    expect(maxAbsDiff(s.vectors, ref.array('spec_range5_roll'))).toBeLessThan(5 * SPECTROGRAM_TOLERANCE);
  });

  it('matches librosa-style RMS bit for bit and both network choices', () => {
    const rms = frameRms(video.samples, 512);
    expect(maxAbsDiff(rms, ref.array('rms'))).toBe(0); // numpy's pairwise float32 mean per frame
    const noiseIdx = quantizeToIndices(smoothedRollingAverage(rms, NOISE_BLEND_SMOOTHING), 3);
    const projIdx = quantizeToIndices(smoothedRollingAverage(rms, PROJECTION_BLEND_SMOOTHING), 3);
    expect(Array.from(noiseIdx)).toEqual(ref.manifest.network_indices_noise_blend);
    expect(Array.from(projIdx)).toEqual(ref.manifest.network_indices_projection_blend);
  });
});
