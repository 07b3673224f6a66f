/**
 * GANce's "read wavs, scale for video": the whole (concatenated, mono) signal is resampled so that
 * exactly `vectorLength` samples make one video frame, then zero-padded to a whole number of frames.
 */
import { AudioError } from './errors.ts';
import { resampleKaiserBest } from './resampy.ts';

export type VideoScaling = { fps: number } | { targetVectors: number };

/** GANce's scaled sample rate, with its float arithmetic kept in the same order. */
export function ganceScaledRate(sampleRate: number, numSamples: number, vectorLength: number, scaling: VideoScaling): number {
  if ('fps' in scaling) {
    // int(sr * (vl * (fps * (n / sr))) / n)
    return Math.trunc((sampleRate * (vectorLength * (scaling.fps * (numSamples / sampleRate)))) / numSamples);
  }
  const originalNumVectors = numSamples / vectorLength;
  const ratio = scaling.targetVectors / originalNumVectors;
  return sampleRate * ratio;
}

export interface VideoAudio {
  /** Resampled mono signal, a whole number of `vectorLength` frames (zero-padded at the end). */
  samples: Float32Array;
  vectorLength: number;
  frames: number;
  /** The rate the signal was resampled to (vectorLength * fps, up to GANce's truncation). */
  scaledRate: number;
}

/**
 * A resampler may leave room after its result: when the result's buffer holds `padTo` multiples of
 * zeros after it (a fresh buffer), the padded signal is taken from it in place instead of copied.
 */
export type Resampler = (x: Float32Array, srOrig: number, srNew: number, padTo?: number) => Float32Array | Promise<Float32Array>;

export async function scaleForVideo(
  samples: Float32Array,
  sampleRate: number,
  vectorLength: number,
  scaling: VideoScaling,
  file = 'audio',
  resampler: Resampler = resampleKaiserBest,
): Promise<VideoAudio> {
  if (!Number.isInteger(vectorLength) || vectorLength < 2) throw new AudioError('AUDIO_BAD_PARAMETER', `vector length must be an integer >= 2, got ${vectorLength}`, file);
  if ('fps' in scaling && !(scaling.fps > 0 && Number.isFinite(scaling.fps))) throw new AudioError('AUDIO_BAD_PARAMETER', `fps must be a positive number, got ${scaling.fps}`, file);
  if ('targetVectors' in scaling && !(Number.isInteger(scaling.targetVectors) && scaling.targetVectors > 0)) {
    throw new AudioError('AUDIO_BAD_PARAMETER', `target frame count must be a positive integer, got ${scaling.targetVectors}`, file);
  }
  if (samples.length === 0) throw new AudioError('AUDIO_EMPTY', 'no samples to scale', file);
  const scaledRate = ganceScaledRate(sampleRate, samples.length, vectorLength, scaling);
  if (!(scaledRate > 0)) throw new AudioError('AUDIO_EMPTY', `track is too short: ${samples.length} samples give no video frame`, file);
  const outLength = Math.trunc(samples.length * (scaledRate / sampleRate));
  if (outLength < 1) throw new AudioError('AUDIO_EMPTY', `track is too short: ${samples.length} samples at ${sampleRate} Hz make no video frame`, file);
  const scaled = await resampler(samples, sampleRate, scaledRate, vectorLength);
  const frames = Math.ceil(scaled.length / vectorLength);
  const length = frames * vectorLength;
  if (scaled.length === length) return { samples: scaled, vectorLength, frames, scaledRate };
  // a whole track at the analysis rate: padded where it lies when the resampler left the room
  if (scaled.byteOffset === 0 && scaled.buffer.byteLength >= length * 4 && new Float32Array(scaled.buffer, scaled.byteLength, length - scaled.length).every((v) => v === 0)) {
    return { samples: new Float32Array(scaled.buffer, 0, length), vectorLength, frames, scaledRate };
  }
  const padded = new Float32Array(length);
  padded.set(scaled);
  return { samples: padded, vectorLength, frames, scaledRate };
}
