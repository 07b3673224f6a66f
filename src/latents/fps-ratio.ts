import { LatentError } from './errors.ts';

/** GANce's divisor.divide_no_remainder: numerator / denominator, refusing a fractional result. */
export function divideNoRemainder(numerator: number, denominator: number, what: string, file?: string): number {
  const q = numerator / denominator;
  if (!Number.isFinite(q) || q - Math.trunc(q) !== 0) {
    throw new LatentError('LATENT_FPS_RATIO', `${what}: cannot evenly divide ${numerator} by ${denominator} (ratio ${q} is not whole)`, file);
  }
  return Math.trunc(q);
}
