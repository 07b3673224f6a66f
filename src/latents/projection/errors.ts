export type ProjectionErrorCode =
  | 'PROJECTION_UNREADABLE'
  | 'PROJECTION_BAD_FORMAT'
  | 'PROJECTION_INCOMPLETE'
  | 'PROJECTION_COUNT_MISMATCH'
  | 'PROJECTION_NETWORK_MISMATCH'
  | 'PROJECTION_FRAME_RANGE'
  | 'PROJECTION_WRITE_FAILED';

/** A GANce projection file that cannot be used, naming the file and the reason. */
export class ProjectionError extends Error {
  readonly code: ProjectionErrorCode;
  readonly file: string;

  constructor(code: ProjectionErrorCode, message: string, file: string, options?: { cause?: unknown }) {
    super(`${file}: ${message}`, options);
    this.name = 'ProjectionError';
    this.code = code;
    this.file = file;
  }
}
