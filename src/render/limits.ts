/** Bounds a render's options show in `gance render --help` and the config schema, without the encoder code. */
export const MAX_ENCODE_PARALLEL = 32;
