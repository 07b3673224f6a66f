/**
 * Config section for audio-reactive latents (mounted as `synthesis.latents`). Defaults are GANce's
 * defaults (music_into_networks.py v0.22): 60 fps, alpha 0.25, FFT range -1..1, roll off, blend depth 10,
 * noise seed 1234 / sigma 50 / range -4..4.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { Type, type Static } from '@sinclair/typebox';

/**
 * Where a [min, max] pair's ends may lie, as the render and live APIs' fftAmplitudeRange: a noise
 * range of [-1e308, 1e308] overflowed the float32 scaling into NaN latents, a black video.
 */
export const RANGE_LIMIT = 1000;
const RangeEnd = () => Type.Number({ minimum: -RANGE_LIMIT, maximum: RANGE_LIMIT });

/** A [min, max] pair; its order is checked by checkLatentsConfig (rangeOrderProblem), which the schema cannot do. */
const Range = (def: [number, number], description: string) =>
  Type.Tuple([RangeEnd(), RangeEnd()], { default: def, description: `${description}; [min, max], min <= max` });

export const NoiseConfig = Type.Object(
  {
    seed: Type.Integer({ minimum: 0, maximum: 4294967295, default: 1234, description: 'numpy RandomState seed of the smoothed noise (GANce: 1234)' }),
    sigma: Type.Number({ minimum: 0, maximum: 10000, default: 50, description: 'Gaussian smoothing of the noise across frames, in frames (GANce: 50)' }),
    range: Range([-4, 4], 'the noise is min-max scaled to this range (GANce: -4..4)'),
  },
  { additionalProperties: false, default: {} },
);
export type NoiseConfig = Static<typeof NoiseConfig>;

export const StreamingConfig = Type.Object(
  {
    lookaheadFrames: Type.Union([Type.Literal(3), Type.Literal(0)], {
      default: 3,
      description: 'live: frames of delay for the centred across-frame Savitzky-Golay (3 = GANce window 7; 0 = none, lowest latency)',
    }),
    noiseLoopFrames: Type.Integer({ minimum: 16, maximum: 1_000_000, default: 3600, description: 'live: the GANce noise is made for this many frames and loops seamlessly (wrap-mode smoothing)' }),
    networkWindowFrames: Type.Integer({ minimum: 1, maximum: 10_000_000, default: 3600, description: 'live: smoothed RMS is min-max scaled over the last this many frames to pick the network' }),
    featurePeakRelease: Type.Number({ exclusiveMinimum: 0, maximum: 1, default: 0.9995, description: 'live: per-frame release of the running peaks that normalise onset/harmonic features' }),
  },
  { additionalProperties: false, default: {} },
);
export type StreamingConfig = Static<typeof StreamingConfig>;

export const LiveInputConfig = Type.Object(
  {
    source: Type.Union([Type.Literal('alsa'), Type.Literal('stdin'), Type.Literal('socket')], { default: 'alsa', description: 'live audio: ALSA capture through ffmpeg, raw PCM on stdin, or raw PCM from a socket' }),
    device: Type.String({ minLength: 1, default: 'default', description: 'ALSA device (e.g. hw:1,0)' }),
    socket: Type.String({ default: '', description: 'Unix socket path or host:port sending raw PCM (source socket)' }),
    sampleRate: Type.Integer({ minimum: 1000, maximum: 384000, default: 48000, description: 'Hz of the raw PCM or ALSA capture' }),
    channels: Type.Integer({ minimum: 1, maximum: 32, default: 2 }),
    format: Type.Union([Type.Literal('s16le'), Type.Literal('f32le')], { default: 's16le', description: 'raw PCM sample format (stdin/socket)' }),
  },
  { additionalProperties: false, default: {} },
);
export type LiveInputConfig = Static<typeof LiveInputConfig>;

export const ReactiveConfig = Type.Object(
  {
    pulse: Type.Number({ minimum: 0, maximum: 100, default: 0, description: 'percussive pulse: latent step along a fixed direction at each hit, times the pulse envelope (0: off; 1 is about one standard-normal latent)' }),
    motion: Type.Number({ minimum: 0, maximum: 100, default: 0, description: 'harmonic motion: radius of a circle the latent walks round while sustained sound plays (0: off)' }),
    motionTurnsPerSecond: Type.Number({ minimum: 0, maximum: 10, default: 0.1, description: 'harmonic motion: turns per second at full harmonic energy' }),
    chroma: Type.Number({ minimum: 0, maximum: 100, default: 0, description: 'chroma: pull towards one fixed direction per pitch class heard (0: off)' }),
    seed: Type.Integer({ minimum: 0, maximum: 4294967295, default: 4321, description: 'seed of the fixed directions (numpy RandomState)' }),
  },
  {
    additionalProperties: false,
    default: {},
    description: 'Lucid-Sonic-Dreams-style motion from the rich features, added on top of the GANce blend; all gains 0 (the default) leaves the latents exactly GANce\'s',
  },
);
export type ReactiveConfig = Static<typeof ReactiveConfig>;

export const LatentsConfig = Type.Object(
  {
    mode: Type.Union([Type.Literal('noise-blend'), Type.Literal('projection-file-blend')], { default: 'noise-blend', description: 'GANce latent source' }),
    fps: Type.Number({ exclusiveMinimum: 0, maximum: 1000, default: 60, description: 'output frames per second (GANce --output-fps)' }),
    vectorLength: Type.Integer({ minimum: 8, maximum: 8192, multipleOf: 2, default: 512, description: 'z / w width; also audio samples per frame (GANce: the network input length, 512)' }),
    numWs: Type.Integer({ minimum: 1, maximum: 64, default: 18, description: 'w rows the synthesis network takes (18 at 1024 px)' }),
    alpha: Type.Number({ minimum: 0, default: 0.25, description: 'blend: (1 - alpha) * noise-or-projection + alpha * spectrogram (GANce --alpha)' }),
    fftRollEnabled: Type.Boolean({ default: false, description: 'rotate the spectrogram vectors by the cumulative quantised loudness (GANce --fft-roll-enabled)' }),
    fftAmplitudeRange: Range([-1, 1], 'spectrogram min-max range, the only gain (GANce --fft-amplitude-range; the NOVA video used -5..5)'),
    blendDepth: Type.Integer({ minimum: 0, maximum: 64, default: 10, description: 'projection blend: w rows 0..blendDepth-1 take the spectrogram (GANce --blend-depth; NOVA used 12)' }),
    projectionFile: Type.Union([Type.String({ minLength: 1 }), Type.Null()], { default: null, description: 'GANce HDF5 projection file (projection-file-blend)' }),
    projectionNetworkMd5: Type.Union([Type.String({ pattern: '^[0-9a-fA-F]{32}$' }), Type.Null()], { default: null, description: 'refuse projection files made with another network (MD5 of its file)' }),
    resampler: Type.Union([Type.Literal('gance'), Type.Literal('ffmpeg')], {
      default: 'gance',
      description: "offline audio resampling: 'gance' = resampy 0.2.2 kaiser_best, bit-identical to GANce; 'ffmpeg' = ffmpeg's resampler, several times faster, not bit-identical",
    }),
    analysisThreads: Type.Integer({
      minimum: 1,
      maximum: 64,
      default: 2,
      description: "worker threads for a track's offline analysis: the 'gance' resampler, the spectrogram and the rich features (the same numbers with any count; 1 runs them in the daemon's own threads)",
    }),
    noise: NoiseConfig,
    reactive: ReactiveConfig,
    streaming: StreamingConfig,
    live: LiveInputConfig,
  },
  {
    additionalProperties: false,
    default: {},
    description: 'audio-reactive latents (GANce noise or projection-file blend, network choice per frame, reactive motion): renders, live sessions and `gance latents`',
  },
);
export type LatentsConfig = Static<typeof LatentsConfig>;

/**
 * A [min, max] pair given the other way round, which the schema cannot refuse: the min-max scaling
 * would then invert (the loudest bins mapped to the lowest values). Why, or null. Equal ends are
 * taken (everything maps to that one value).
 */
export function rangeOrderProblem(range: readonly [number, number] | undefined): string | null {
  if (range === undefined || !(range[0] > range[1])) return null;
  return `must be [min, max] with min <= max, got [${range[0]}, ${range[1]}] (the other way round inverts the mapping)`;
}

/**
 * Rules the schema cannot say; one line per issue, each naming its field through `field` (the
 * daemon config's `synthesis.latents.X`; the CLI adds the flag that set it).
 */
export function checkLatentsConfig(config: LatentsConfig, field: (name: keyof LatentsConfig) => string = (n) => `synthesis.latents.${n}`): string[] {
  const issues: string[] = [];
  const amplitude = rangeOrderProblem(config.fftAmplitudeRange);
  if (amplitude) issues.push(`${field('fftAmplitudeRange')}: ${amplitude}`);
  const noise = rangeOrderProblem(config.noise.range);
  if (noise) issues.push(`${field('noise')}.range: ${noise}`);
  if (config.blendDepth > config.numWs) issues.push(`${field('blendDepth')}: must be <= numWs (${config.numWs})`);
  if (config.mode === 'projection-file-blend') {
    // the projection latents are w rows, 512 wide
    if (config.vectorLength !== 512) issues.push(`${field('vectorLength')}: must be 512 (the w width) when mode is "projection-file-blend"`);
    if (config.projectionFile === null) issues.push(`${field('projectionFile')}: is required when mode is "projection-file-blend"`);
    else {
      const why = unreadable(config.projectionFile);
      if (why) issues.push(`${field('projectionFile')}: cannot read ${JSON.stringify(config.projectionFile)}: ${why}`);
    }
  }
  return issues;
}

/** Why a file cannot be opened for reading, or null when it can. */
function unreadable(path: string): string | null {
  try {
    const st = statSync(path);
    if (st.isDirectory()) return 'is a directory';
    // a FIFO passes access() and then blocks the HDF5 open, for good, on the event loop
    if (!st.isFile()) return 'not a regular file';
    accessSync(path, constants.R_OK);
    return null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
  }
}
