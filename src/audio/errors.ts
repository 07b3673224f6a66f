export type AudioErrorCode =
  | 'AUDIO_FFMPEG_MISSING'
  | 'AUDIO_UNREADABLE'
  | 'AUDIO_EMPTY'
  | 'AUDIO_RATE_MISMATCH'
  | 'AUDIO_NON_FINITE'
  | 'AUDIO_SILENT'
  | 'AUDIO_BAD_PARAMETER'
  | 'AUDIO_LIVE_FAILED';

/** Bad or unusable audio input; `file` names the input (path, device or stream) at fault. */
export class AudioError extends Error {
  readonly code: AudioErrorCode;
  readonly file: string | undefined;

  constructor(code: AudioErrorCode, message: string, file?: string, options?: { cause?: unknown }) {
    super(file === undefined ? message : `${file}: ${message}`, options);
    this.name = 'AudioError';
    this.code = code;
    this.file = file;
  }
}
