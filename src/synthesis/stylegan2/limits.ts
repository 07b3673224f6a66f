/**
 * A network's plain bounds, in a module of their own: `gance network build --help` shows them, and
 * --help loads no schema library (sidecar.ts, which checks them, brings typebox).
 */
/**
 * The largest side of a network's frames: a render's output size and a live canvas stay within it,
 * and a graph resizing to 99999x99999 (30 GB a frame) was listed as usable.
 */
export const MAX_FRAME_SIDE = 8192;
/** A truncation psi's bound, a render's too: a network built with psi 1e300 rendered every frame black. */
export const MAX_PSI = 10;
/** A random network's seed: the generator takes it as an unsigned 32-bit integer. */
export const MAX_SEED = 4294967295;
