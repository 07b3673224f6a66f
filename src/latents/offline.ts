/**
 * Whole-track latents (GANce's offline behaviour): decode, scale for video, spectrogram, then either
 * smoothed noise (noise-blend, z) or a projection file's latents (projection-file-blend, w), with the
 * network picked by smoothed loudness. The heavy work happens once in `prepareOffline`; `offlineLatents`
 * then yields frames, reading the live parameters for each one.
 */
import { decodeFiles, probeAudio, type DecodedAudio, type DecodeOptions } from '../audio/decode.ts';
import { ffmpegResampler } from '../audio/ffmpeg-resample.ts';
import { ganceScaledRate, scaleForVideo, type Resampler } from '../audio/gance-audio.ts';
import { resampledLength } from '../audio/resampy.ts';
import { frameRms } from '../audio/features/rms.ts';
import { richFeaturesOffline, type RichFeatures } from '../audio/features/rich.ts';
import { SpectrogramRows, spectrogramState, type SpectrogramState } from '../audio/features/spectrogram-rows.ts';
import { ProjectionFileReader } from './projection/reader.ts';
import { LATENT_WIDTH } from './projection/format.ts';
import { noiseBlend, projectionBlend } from './blend.ts';
import type { LatentsConfig } from './config.ts';
import { LatentError } from './errors.ts';
import { divideNoRemainder, projectionFrames } from './fps-ratio.ts';
import type { LatentFrame } from './frame.ts';
import { ganceNoise } from './noise.ts';
import { analysisPool, type AnalysisPool } from './analysis-pool.ts';
import { helperThread } from './offline-helpers.ts';
import { NOISE_BLEND_SMOOTHING, OfflineNetworkSwitch, PROJECTION_BLEND_SMOOTHING } from './network-switch.ts';
import type { LiveParams } from './params.ts';
import { addReactive, cumulativeHarmonic, reactiveActive, reactiveDirections, type ReactiveDirections } from './reactive.ts';

export interface OfflineOptions {
  files: readonly string[];
  config: LatentsConfig;
  /** Resampler in place of config.resampler's (tests use it to count calls or inject faults). */
  resampler?: Resampler;
  /**
   * Worker threads for the exact resampling, the spectrogram and the rich features (a daemon keeps one);
   * without it, prepareOffline starts config.analysisThreads of them for the call when that is above 1.
   */
  pool?: AnalysisPool;
  /** Open projection file (projection-file-blend); opened from config.projectionFile when absent. */
  projection?: ProjectionFileReader;
  /** Compute onset/pulse/harmonic/chroma per frame (default true). */
  richFeatures?: boolean;
  decode?: DecodeOptions;
  /**
   * Work off the main thread: the noise on a helper thread, and the analysis on config.analysisThreads
   * threads of its own when no pool is given (default: for tracks of 600 frames or more).
   */
  helperThread?: boolean;
}

export interface OfflinePlan {
  mode: LatentsConfig['mode'];
  frames: number;
  vectorLength: number;
  numWs: number;
  /** Range the spectrogram was scaled to (live params re-map from it). */
  configuredRange: [number, number];
  /** GANce's spectrogram vectors, each row made when asked for (the track holds its dB magnitudes only). */
  spectrogram: SpectrogramRows;
  noise: Float32Array | null;
  projection: { reader: ProjectionFileReader; framesPerLatent: number } | null;
  network: OfflineNetworkSwitch;
  rms: Float32Array;
  rich: RichFeatures[] | null;
  /** Reactive motion (with the rich features): the fixed directions and each frame's motion phase in turns. */
  reactive: { directions: ReactiveDirections; turns: Float64Array } | null;
  /** Seconds spent per stage, for benchmarks and logs. */
  timings: Record<string, number>;
}

export async function prepareOffline(opts: OfflineOptions): Promise<OfflinePlan> {
  const cfg = opts.config;
  const vl = cfg.vectorLength;
  const timings: Record<string, number> = {};
  const lap = (() => {
    let t = performance.now();
    return (name: string) => {
      const now = performance.now();
      timings[name] = (now - t) / 1000;
      t = now;
    };
  })();
  if (cfg.blendDepth > cfg.numWs) throw new LatentError('LATENT_BAD_PARAMETER', `blendDepth ${cfg.blendDepth} exceeds numWs ${cfg.numWs}`);
  if (vl !== LATENT_WIDTH && cfg.mode === 'projection-file-blend') {
    throw new LatentError('LATENT_SHAPE_MISMATCH', `projection blend needs vectorLength ${LATENT_WIDTH} (w width), got ${vl}`);
  }
  let projection: OfflinePlan['projection'] = null;
  let targetVectors: number | null = null;
  /** a projection file this call opened: not left open behind an error */
  let opened: ProjectionFileReader | null = null;
  try {
    if (cfg.mode === 'projection-file-blend') {
      let reader = opts.projection;
      if (!reader) {
        if (!cfg.projectionFile) throw new LatentError('LATENT_BAD_PARAMETER', 'projection-file-blend needs synthesis.latents.projectionFile');
        reader = opened = await ProjectionFileReader.open(cfg.projectionFile, { numWs: cfg.numWs, ...(cfg.projectionNetworkMd5 ? { networkMd5: cfg.projectionNetworkMd5 } : {}) });
      } else if (reader.numWs !== cfg.numWs) {
        throw new LatentError('LATENT_SHAPE_MISMATCH', `projection latents have ${reader.numWs} rows, the network takes ${cfg.numWs}`, reader.path);
      }
      const paced = projectionFrames(cfg.fps, reader);
      targetVectors = paced.frames;
      projection = { reader, framesPerLatent: paced.framesPerLatent };
    }
    return await analyse(opts, projection, targetVectors, lap, timings);
  } catch (err) {
    opened?.close();
    throw err;
  }
}

/** Decode, scale for video, and every per-frame analysis of prepareOffline. */
async function analyse(
  opts: OfflineOptions,
  projection: OfflinePlan['projection'],
  targetVectors: number | null,
  lap: (stage: string) => void,
  timings: Record<string, number>,
): Promise<OfflinePlan> {
  const cfg = opts.config;
  const vl = cfg.vectorLength;
  const file = opts.files.join(' + ');
  const scaling = targetVectors === null ? { fps: cfg.fps } : { targetVectors };
  const framesFor = (samples: number, rate: number) => Math.ceil(resampledLength(samples, rate, ganceScaledRate(rate, samples, vl, scaling)) / vl);
  const probes = await Promise.all(opts.files.map((f) => probeAudio(f, opts.decode)));
  const useHelper = (frames: number) => opts.helperThread ?? frames >= 600;
  let decoded: DecodedAudio | null = await decodeFiles(opts.files, opts.decode, probes);
  lap('decode');
  const expectedFrames = framesFor(decoded.samples.length, decoded.sampleRate);
  const noiseOpts = { frames: expectedFrames, vectorLength: vl, seed: cfg.noise.seed, sigma: cfg.noise.sigma, range: cfg.noise.range };
  let noiseJob: Promise<Float32Array> | null = null;
  const offThread = useHelper(expectedFrames);
  // threads of its own only for a track long enough to repay their start-up (like the helper thread)
  const ownPool = !opts.pool && cfg.analysisThreads > 1 && offThread ? analysisPool(cfg.analysisThreads) : null;
  const pool = opts.pool ?? ownPool;
  let video;
  let spec: SpectrogramState;
  let rich: RichFeatures[] | null = null;
  try {
    const resampler = opts.resampler ?? (cfg.resampler === 'ffmpeg' ? ffmpegResampler(opts.decode?.ffmpegPath) : pool?.resample);
    video = await scaleForVideo(decoded.samples, decoded.sampleRate, vl, scaling, file, resampler);
    // The track at its own rate is the largest array of all: its memory takes the spectrogram's
    // magnitudes next, when it is large enough (at 60 fps for rates from 30.6 kHz). Dropping it
    // would not free it in time: the analysis threads that resampled it hold it until they collect
    // their garbage, which their small heaps seldom need.
    const scratch = video.samples.buffer === decoded.samples.buffer ? undefined : decoded.samples.buffer;
    decoded = null;
    lap('resample');
    // The noise needs only the frame count, but starts only now, beside the spectrogram: not on top of
    // the track at its own rate and its resampling, the largest arrays (per minute of track at 60 fps
    // 10.6 and 7.4 MB, the noise 7.4 MB). It costs little time: the spectrogram's threads take the
    // cores meanwhile, and the noise takes less time than the spectrogram.
    noiseJob = cfg.mode === 'noise-blend' && offThread ? helperThread.noise(noiseOpts) : null;
    noiseJob?.catch(() => undefined);
    const richOpts = { sampleRate: video.scaledRate, frameLength: vl, fps: cfg.fps };
    const specOpts = { vectorLength: vl, amplitudeRange: cfg.fftAmplitudeRange, rollEnabled: cfg.fftRollEnabled, file };
    const wantRich = opts.richFeatures !== false;
    if (pool) {
      ({ spectrogram: spec, rich } = await pool.analyse(video.samples, specOpts, wantRich ? richOpts : null, scratch instanceof SharedArrayBuffer ? scratch : undefined));
      lap('spectrogramAndRich');
    } else {
      const richJob = wantRich && offThread ? helperThread.rich(video.samples, richOpts) : null;
      richJob?.catch(() => undefined);
      spec = spectrogramState(video.samples, specOpts, scratch);
      lap('spectrogram');
      if (wantRich) {
        rich = richJob ? await richJob : richFeaturesOffline(video.samples, richOpts);
        lap(richJob ? 'richFeaturesWait' : 'richFeatures');
      }
    }
  } finally {
    await ownPool?.close();
  }
  const rms = frameRms(video.samples, vl);
  // the resampled track is not needed past here (the spectrogram keeps its dB magnitudes)
  video = undefined;
  const network = new OfflineNetworkSwitch(rms, cfg.mode === 'noise-blend' ? NOISE_BLEND_SMOOTHING : PROJECTION_BLEND_SMOOTHING, file);
  lap('network');
  let noise: Float32Array | null = null;
  if (cfg.mode === 'noise-blend') {
    noise = noiseJob ? await noiseJob : ganceNoise(noiseOpts);
    if (noise.length !== spec.frames * vl) throw new LatentError('LATENT_SHAPE_MISMATCH', `noise has ${noise.length / vl} frames, spectrogram ${spec.frames}`);
    lap(noiseJob ? 'noiseWait' : 'noise');
  } else if (projection) {
    // GANce repeats each latent spectrogram-frames / latents times and refuses a fraction.
    projection.framesPerLatent = divideNoRemainder(spec.frames, projection.reader.latentCount, 'spectrogram frames / projection latents', projection.reader.path);
  }
  const reactive = rich ? reactivePlan(rich, cfg, cfg.mode === 'noise-blend' ? vl : LATENT_WIDTH) : null;
  return {
    mode: cfg.mode,
    frames: spec.frames,
    vectorLength: vl,
    numWs: cfg.numWs,
    configuredRange: [cfg.fftAmplitudeRange[0], cfg.fftAmplitudeRange[1]],
    spectrogram: new SpectrogramRows(spec),
    noise,
    projection,
    network,
    rms,
    rich,
    reactive,
    timings,
  };
}

function reactivePlan(rich: RichFeatures[], cfg: LatentsConfig, width: number): OfflinePlan['reactive'] {
  const turns = cumulativeHarmonic(rich, cfg.fps);
  for (let f = 0; f < turns.length; f++) turns[f] = turns[f]! * cfg.reactive.motionTurnsPerSecond;
  return { directions: reactiveDirections(width, cfg.reactive.seed), turns };
}

/** Frame f of a prepared plan with the given parameters. */
export function latentFrameAt(plan: OfflinePlan, f: number, params: LiveParams, cache?: { index: number; w0: Float32Array | null }): LatentFrame {
  const vl = plan.vectorLength;
  const count = params.networkCount;
  const network = params.networkOverride !== null ? Math.min(params.networkOverride, count - 1) : plan.network.indexAt(f, count);
  const r = plan.rich?.[f];
  const features = r ? { ...r, smoothedRms: plan.network.smoothed[f]! } : undefined;
  if (plan.noise) {
    const z = new Float32Array(vl);
    const s = plan.spectrogram.row(f);
    noiseBlend(plan.noise, f * vl, s.data, s.offset, vl, params.alpha, plan.configuredRange, params.amplitudeRange, z);
    if (r && plan.reactive && reactiveActive(params)) addReactive(z, 1, plan.reactive.directions, r, plan.reactive.turns[f]!, params);
    return { index: f, network, z, ...(features ? { features } : {}) };
  }
  const proj = plan.projection!;
  const li = Math.floor(f / proj.framesPerLatent);
  let w0: Float32Array;
  if (cache && cache.index === li && cache.w0) w0 = cache.w0;
  else {
    w0 = proj.reader.finalLatentRow0(li);
    if (cache) {
      cache.index = li;
      cache.w0 = w0;
    }
  }
  const w = new Float32Array(plan.numWs * LATENT_WIDTH);
  const s = plan.spectrogram.row(f);
  projectionBlend(w0, s.data, s.offset, plan.numWs, params.blendDepth, params.alpha, plan.configuredRange, params.amplitudeRange, w);
  // on the rows the audio drives (GANce's blend depth); the rest keep the projected face
  if (r && plan.reactive && reactiveActive(params)) addReactive(w, Math.min(params.blendDepth, plan.numWs), plan.reactive.directions, r, plan.reactive.turns[f]!, params);
  return { index: f, network, w, ...(features ? { features } : {}) };
}

/**
 * Frames of a prepared plan, reading `params` afresh for every frame. Every frame depends only on
 * the plan and its index, so `from` skips ahead (a resumed render) to the same numbers.
 */
export async function* offlineLatents(plan: OfflinePlan, params: LiveParams, from = 0): AsyncGenerator<LatentFrame> {
  const cache = { index: -1, w0: null as Float32Array | null };
  for (let f = from; f < plan.frames; f++) yield latentFrameAt(plan, f, params, cache);
}
