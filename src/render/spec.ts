/**
 * What a render is, as one schema: the CLI's options, the API's request body, the job queue's
 * stored record and the run-config JSON written beside every output all come from `RenderSpec`.
 * Every number is bounded and every array and string has a limit, so a spec that passes the
 * schema can be stored and re-run without further checks of size.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { LatentsConfig, NoiseConfig, rangeOrderProblem, ReactiveConfig } from '../latents/config.ts';
import { MAX_PSI } from '../synthesis/stylegan2/limits.ts';

const PATH_MAX = 4096;

/**
 * A config schema without its defaults: an override left out must stay out (filling in the
 * config's default would override the daemon's own setting with it).
 */
function overrideOf<T extends TSchema>(schema: T): T {
  const copy = { ...(schema as unknown as Record<string | symbol, unknown>) };
  delete copy.default;
  if (copy.properties) copy.properties = Object.fromEntries(Object.entries(copy.properties as Record<string, TSchema>).map(([k, v]) => [k, overrideOf(v)]));
  if (Array.isArray(copy.items)) copy.items = (copy.items as TSchema[]).map(overrideOf);
  return copy as unknown as T;
}

/** The per-render overrides of `synthesis.latents` (the rest comes from the daemon's config). */
export const RenderLatents = overrideOf(Type.Partial(
  Type.Object({
    mode: LatentsConfig.properties.mode,
    fps: Type.Number({ minimum: 1, maximum: 240, description: 'video frames per second (GANce --output-fps)' }),
    alpha: Type.Number({ minimum: 0, maximum: 100, description: 'blend weight of the spectrogram (GANce --alpha)' }),
    fftRollEnabled: LatentsConfig.properties.fftRollEnabled,
    fftAmplitudeRange: Type.Tuple([Type.Number({ minimum: -1000, maximum: 1000 }), Type.Number({ minimum: -1000, maximum: 1000 })], {
      description: 'spectrogram [min, max] range, min <= max, the only gain (GANce --fft-amplitude-range)',
    }),
    blendDepth: LatentsConfig.properties.blendDepth,
    projectionFile: Type.String({ minLength: 1, maxLength: PATH_MAX, description: 'GANce HDF5 projection file (implies projection-file-blend)' }),
    resampler: LatentsConfig.properties.resampler,
    noise: Type.Partial(NoiseConfig),
    reactive: Type.Partial(ReactiveConfig),
  }),
  { additionalProperties: false },
));
export type RenderLatents = Static<typeof RenderLatents>;

export const RenderOutput = Type.Object(
  {
    format: Type.Union([Type.Literal('mp4'), Type.Literal('png')], { default: 'mp4', description: 'mp4 (x264, audio muxed) or a folder of PNG frames' }),
    path: Type.String({ minLength: 1, maxLength: PATH_MAX, description: 'output file (mp4: ending in .mp4) or folder (png); the API takes a name under its output root' }),
    size: Type.Union([Type.Integer({ minimum: 16, maximum: 8192, multipleOf: 2 }), Type.Null()], {
      default: null,
      description: 'side length of the video in pixels (bicubic scaling; at most 4x the network resolution); null: the network resolution',
    }),
    pixelFormat: Type.Union([Type.Literal('yuv420p'), Type.Literal('yuv422p')], { default: 'yuv420p', description: "yuv420p plays everywhere; yuv422p is GANce's" }),
    crf: Type.Integer({ minimum: 0, maximum: 51, default: 18, description: 'x264 constant rate factor (GANce: 18)' }),
    preset: Type.Union(
      ['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium', 'slow', 'slower', 'veryslow'].map((p) => Type.Literal(p)),
      { default: 'medium', description: 'x264 preset' },
    ),
    audioCodec: Type.Union([Type.Literal('aac'), Type.Literal('alac')], {
      default: 'aac',
      description: 'audio of the mp4: AAC (plays everywhere) or ALAC (lossless: the decoded samples are the input\'s)',
    }),
    audioBitrate: Type.Integer({ minimum: 32, maximum: 512, default: 320, description: 'AAC bitrate in kbit/s (ffmpeg lowers it to what the channel count allows)' }),
    debugPath: Type.Union([Type.String({ minLength: 1, maxLength: PATH_MAX }), Type.Null()], {
      default: null,
      description:
        'also write a debug video (an mp4: ending in .mp4) here (GANce --debug-path): the frame beside charts of the audio features, the latents and the network index over time, ' +
        'frame for frame with the output, its audio muxed; null: none',
    }),
  },
  { additionalProperties: false },
);
export type RenderOutput = Static<typeof RenderOutput>;

export const RenderSpec = Type.Object(
  {
    audio: Type.Array(Type.String({ minLength: 1, maxLength: PATH_MAX }), { minItems: 1, maxItems: 64, description: 'audio files, joined in order (same sample rate)' }),
    networks: Type.Array(Type.String({ minLength: 1, maxLength: PATH_MAX }), {
      minItems: 1,
      maxItems: 16,
      description: 'network ids (or, from the CLI, ONNX files); with several, loudness picks the network of each frame as GANce does',
    }),
    truncationPsi: Type.Union([Type.Number({ minimum: -MAX_PSI, maximum: MAX_PSI }), Type.Null()], {
      default: null,
      description: 'truncation psi for z networks (GANce used 1.2); null: the network sidecar\'s',
    }),
    latents: { ...RenderLatents, default: {} } as typeof RenderLatents,
    output: RenderOutput,
    priority: Type.Integer({ minimum: -100, maximum: 100, default: 0, description: 'higher runs first among queued renders' }),
  },
  { additionalProperties: false },
);
export type RenderSpec = Static<typeof RenderSpec>;

/**
 * The [min, max] pairs of a render's latents given the other way round (the schema cannot say it):
 * each with its path under `latents`, as segments, and why.
 */
export function latentsRangeProblems(latents: RenderLatents): Array<{ path: string[]; problem: string }> {
  const out: Array<{ path: string[]; problem: string }> = [];
  const amplitude = rangeOrderProblem(latents.fftAmplitudeRange);
  if (amplitude) out.push({ path: ['fftAmplitudeRange'], problem: amplitude });
  const noise = rangeOrderProblem(latents.noise?.range);
  if (noise) out.push({ path: ['noise', 'range'], problem: noise });
  return out;
}

/** The extensions an mp4 render's output and debug video may have (ffmpeg writes them as mp4 whatever the name). */
export const MP4_EXTENSIONS: readonly string[] = ['.mp4'];

/**
 * Why an output name does not fit what is written there (an mp4 named `x.exe`), or null; the
 * caller names the file. `png` outputs are folders and take any name.
 */
export function outputNameProblem(format: RenderOutput['format'], path: string): string | null {
  if (format !== 'mp4') return null;
  const dot = path.lastIndexOf('.');
  const ext = dot > path.lastIndexOf('/') ? path.slice(dot).toLowerCase() : '';
  if (MP4_EXTENSIONS.includes(ext)) return null;
  return `${ext === '' ? 'has no extension' : `the extension "${path.slice(dot)}" is not one the render writes`}; an mp4 render's file is ${MP4_EXTENSIONS.join(', ')}`;
}
