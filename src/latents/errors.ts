export type LatentErrorCode =
  | 'LATENT_BAD_PARAMETER'
  | 'LATENT_FPS_RATIO'
  | 'LATENT_SHAPE_MISMATCH'
  | 'LATENT_NO_NETWORKS';

/** Latent generation refused: parameters that GANce would reject or that cannot produce frames. */
export class LatentError extends Error {
  readonly code: LatentErrorCode;
  readonly file: string | undefined;

  constructor(code: LatentErrorCode, message: string, file?: string) {
    super(file === undefined ? message : `${file}: ${message}`);
    this.name = 'LatentError';
    this.code = code;
    this.file = file;
  }
}
