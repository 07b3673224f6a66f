/** Bounds a render's options show in `gance render --help` and the config schema, without the encoder code. */
export const MAX_ENCODE_PARALLEL = 32;
/** frames in synthesis ahead of the encoders, per segment encoding at once, when the config leaves it to the daemon (RESULTS.md: render pipeline depth) */
export const FRAMES_AHEAD_PER_SEGMENT = 12;
export const MAX_FRAMES_AHEAD = 1024;
export const DEFAULT_ENCODE_QUEUE_FRAMES = 4;
export const MAX_ENCODE_QUEUE_FRAMES = 64;
