export type FeatureErrorCode = 'FEATURE_TOO_SHORT' | 'FEATURE_SILENT' | 'FEATURE_BAD_PARAMETER' | 'FEATURE_NON_FINITE';

/** Audio that cannot give GANce-style features (too short for its filters, all digital silence, ...). */
export class FeatureError extends Error {
  readonly code: FeatureErrorCode;
  readonly file: string | undefined;

  constructor(code: FeatureErrorCode, message: string, file?: string) {
    super(file === undefined ? message : `${file}: ${message}`);
    this.name = 'FeatureError';
    this.code = code;
    this.file = file;
  }
}
