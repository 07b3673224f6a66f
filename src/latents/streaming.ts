/**
 * Live latents: audio blocks in, one latent per block out, with GANce's per-frame maths and causal
 * replacements for its whole-track steps (see features/streaming.ts). Noise comes from a GANce noise
 * table of `noiseLoopFrames` frames (its wrap-mode smoothing makes the loop seamless); projection
 * latents loop through the file. Latency: one block to fill + `lookaheadFrames` frames + compute.
 */
import type { AudioBlock } from '../audio/live.ts';
import { RichFeaturesStream, type RichFeatures } from '../audio/features/rich.ts';
import { savgolPlan, savgolStrided } from '../audio/features/savgol.ts';
import { StreamingGanceSpectrogram, type StreamingFrame } from '../audio/features/streaming.ts';
import type { ProjectionFileReader } from './projection/reader.ts';
import { LATENT_WIDTH } from './projection/format.ts';
import { noiseBlend, projectionBlend } from './blend.ts';
import type { LatentsConfig } from './config.ts';
import { LatentError } from './errors.ts';
import { framesPerProjectionLatent } from './fps-ratio.ts';
import type { LatentFrame } from './frame.ts';
import { ganceNoise } from './noise.ts';
import { StreamingNetworkSwitch } from './network-switch.ts';
import type { LiveParams } from './params.ts';
import { addReactive, reactiveActive, reactiveDirections } from './reactive.ts';

export interface StreamingOptions {
  config: LatentsConfig;
  params: LiveParams;
  projection?: ProjectionFileReader;
  /** Precomputed noise loop (noiseLoopFrames x vectorLength), e.g. shared between sessions. */
  noiseTable?: Float32Array;
}

export function noiseLoop(config: LatentsConfig): Float32Array {
  return ganceNoise({ frames: config.streaming.noiseLoopFrames, vectorLength: config.vectorLength, seed: config.noise.seed, sigma: config.noise.sigma, range: config.noise.range });
}

export async function* streamingLatents(blocks: AsyncIterable<AudioBlock>, opts: StreamingOptions): AsyncGenerator<LatentFrame> {
  const cfg = opts.config;
  const vl = cfg.vectorLength;
  const params = opts.params;
  const spec = new StreamingGanceSpectrogram({ vectorLength: vl, lookahead: cfg.streaming.lookaheadFrames });
  const rich = new RichFeaturesStream({ sampleRate: vl * cfg.fps, frameLength: vl, fps: cfg.fps, peakReleasePerFrame: cfg.streaming.featurePeakRelease });
  const network = new StreamingNetworkSwitch(cfg.streaming.networkWindowFrames);
  const rollSwitch = new StreamingNetworkSwitch(cfg.streaming.networkWindowFrames);
  const rollPlan = savgolPlan(51, 2);
  let rollCum = 0;
  let noise: Float32Array | null = null;
  let loopFrames = 0;
  let framesPerLatent = 1;
  if (cfg.mode === 'noise-blend') {
    noise = opts.noiseTable ?? noiseLoop(cfg);
    loopFrames = noise.length / vl;
  } else {
    const reader = opts.projection;
    if (!reader) throw new LatentError('LATENT_BAD_PARAMETER', 'projection-file-blend needs an open projection file');
    // an empty file has no rows to count: said as empty, not as "0 rows"
    framesPerLatent = framesPerProjectionLatent(cfg.fps, reader);
    if (reader.numWs !== cfg.numWs) throw new LatentError('LATENT_SHAPE_MISMATCH', `projection latents have ${reader.numWs} rows, the network takes ${cfg.numWs}`, reader.path);
  }
  const pendingRich: { features: RichFeatures; receivedAt: bigint }[] = [];
  let w0Cache: { index: number; w0: Float32Array } | null = null;
  const configured: [number, number] = [0, 1];
  const directions = reactiveDirections(noise ? vl : LATENT_WIDTH, cfg.reactive.seed);
  /** motion phase in turns: the running sum of harmonic energy, as offline */
  let harmonicSum = 0;

  const build = (sf: StreamingFrame): LatentFrame => {
    const aligned = pendingRich.shift();
    let unit = sf.unit;
    if (cfg.fftRollEnabled) {
      rollCum += rollSwitch.push(sf.smoothedRms, 3);
      const shift = ((rollCum % vl) + vl) % vl;
      const rolled = new Float64Array(vl);
      for (let i = 0; i < vl; i++) rolled[i] = unit[(i + shift) % vl]!;
      unit = new Float64Array(vl);
      savgolStrided(rollPlan, rolled, 0, 1, vl, unit, 0, 1);
    }
    const count = params.networkCount;
    const auto = network.push(cfg.mode === 'noise-blend' ? sf.smoothedRms : sf.meanRms, count);
    const net = params.networkOverride !== null ? Math.min(params.networkOverride, count - 1) : auto;
    const features = aligned ? { ...aligned.features, smoothedRms: sf.smoothedRms } : undefined;
    const base = { index: sf.index, network: net, ...(features ? { features } : {}), ...(aligned ? { audioReceivedAt: aligned.receivedAt } : {}) };
    if (aligned) harmonicSum += aligned.features.harmonic / cfg.fps;
    const react = (out: Float32Array, rows: number) => {
      if (aligned && reactiveActive(params)) addReactive(out, rows, directions, aligned.features, harmonicSum * cfg.reactive.motionTurnsPerSecond, params);
    };
    if (noise) {
      const z = new Float32Array(vl);
      const row = (sf.index % loopFrames) * vl;
      noiseBlend(noise, row, unit, 0, vl, params.alpha, configured, params.amplitudeRange, z);
      react(z, 1);
      return { ...base, z };
    }
    const reader = opts.projection!;
    const li = Math.floor(sf.index / framesPerLatent) % reader.latentCount;
    if (!w0Cache || w0Cache.index !== li) w0Cache = { index: li, w0: reader.finalLatentRow0(li) };
    const w = new Float32Array(cfg.numWs * LATENT_WIDTH);
    projectionBlend(w0Cache.w0, unit, 0, cfg.numWs, params.blendDepth, params.alpha, configured, params.amplitudeRange, w);
    react(w, Math.min(params.blendDepth, cfg.numWs));
    return { ...base, w };
  };

  for await (const block of blocks) {
    if (block.samples.length !== vl) throw new LatentError('LATENT_BAD_PARAMETER', `audio blocks must hold ${vl} samples, got ${block.samples.length}`);
    pendingRich.push({ features: rich.push(block.samples), receivedAt: block.receivedAt });
    const sf = spec.push(block.samples);
    if (sf) yield build(sf);
  }
  for (const sf of spec.finish()) yield build(sf);
}
