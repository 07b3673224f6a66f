import { MIN_SPECTROGRAM_FRAMES } from '../audio/features/spectrogram.ts';
import { LatentError } from './errors.ts';

/** GANce's divisor.divide_no_remainder: numerator / denominator, refusing a fractional result. */
export function divideNoRemainder(numerator: number, denominator: number, what: string, file?: string): number {
  const q = numerator / denominator;
  if (!Number.isFinite(q) || q - Math.trunc(q) !== 0) {
    throw new LatentError('LATENT_FPS_RATIO', `${what}: cannot evenly divide ${numerator} by ${denominator} (ratio ${q} is not whole)`, file);
  }
  return Math.trunc(q);
}

/** What of a projection file paces a blend (ProjectionFileReader's, without loading h5wasm here). */
export interface ProjectionPace {
  path: string;
  latentCount: number;
  attributes: { projectionFps: number | null };
}

/**
 * Output frames each projection latent is held for (output fps / projection_fps), refusing a file
 * that cannot pace a blend, named: otherwise an empty file or a non-positive projection_fps came
 * out as a frame count of 0 or less, reported against the audio file.
 */
export function framesPerProjectionLatent(fps: number, reader: ProjectionPace): number {
  if (reader.latentCount === 0) throw new LatentError('LATENT_BAD_PARAMETER', 'projection file holds no final latents', reader.path);
  const pfps = reader.attributes.projectionFps;
  if (pfps === null) throw new LatentError('LATENT_FPS_RATIO', 'projection file has no projection_fps', reader.path);
  if (!(pfps > 0)) throw new LatentError('LATENT_FPS_RATIO', `projection_fps is ${pfps}; expected a positive frame rate`, reader.path);
  return divideNoRemainder(fps, pfps, 'output fps / projection fps', reader.path);
}

/**
 * framesPerProjectionLatent, and the offline frame count it sets (the file, not the track, sets it
 * in a projection blend), refused under GANce's smoothing window naming the file, not the audio.
 */
export function projectionFrames(fps: number, reader: ProjectionPace): { framesPerLatent: number; frames: number } {
  const framesPerLatent = framesPerProjectionLatent(fps, reader);
  const frames = Math.trunc(framesPerLatent * reader.latentCount);
  if (frames < MIN_SPECTROGRAM_FRAMES) {
    throw new LatentError('LATENT_BAD_PARAMETER', `${reader.latentCount} projection latents at ${fps} fps give ${frames} video frames; GANce's smoothing needs at least ${MIN_SPECTROGRAM_FRAMES}`, reader.path);
  }
  return { framesPerLatent, frames };
}
