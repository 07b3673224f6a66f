/**
 * Features GANce lacks, after Lucid Sonic Dreams and maua-stylegan2: a percussive pulse from onsets,
 * harmonic motion from sustained partials, and chroma (12 pitch classes).
 *
 * Everything is causal: frame t uses a Hann-windowed 2048-sample STFT ending at the end of frame t.
 * The sustained ("harmonic") spectrum is each bin's minimum over the last `sustainFrames` frames (a
 * partial that rings through them survives, a transient does not); the rest is percussive. Onsets are
 * the half-wave rectified rise of log-compressed magnitudes (spectral flux); the pulse jumps to each
 * onset and decays exponentially. Chroma folds the sustained spectrum from 55 Hz to 5 kHz onto pitch
 * classes (C = 0); flux uses square-root magnitudes (exact IEEE arithmetic on every machine). Offline normalises each feature by its peak over the track, streaming by a running
 * peak that slowly releases.
 */
import { exp, ln } from './detmath.ts';
import { createPow2Fft } from './fft.ts';
import { SlidingMinimum } from './sliding-min.ts';
import { richKernel, type RichKernel } from './rich-simd.ts';
import { periodicHann } from './spectrogram.ts';

export interface RichFeatures {
  rms: number;
  /** Spectral-flux onset strength, 0..1. */
  onset: number;
  /** Onset envelope with exponential decay, 0..1. */
  pulse: number;
  /** Energy of sustained partials, 0..1. */
  harmonic: number;
  /** Energy of transients, 0..1. */
  percussive: number;
  /** 12 pitch classes, C first, max-normalised (all 0 in silence). */
  chroma: Float32Array;
}

export interface RichOptions {
  sampleRate: number;
  frameLength: number;
  fps: number;
  windowLength?: number;
  sustainFrames?: number;
  pulseDecaySeconds?: number;
  /** Use the WebAssembly kernel where the engine has one (default true; false for the JavaScript path, same numbers). */
  kernel?: boolean;
}

interface Raw {
  rms: number;
  onset: number;
  harmonic: number;
  percussive: number;
  chroma: Float64Array;
}

/** Per-frame raw (unnormalised) features from a running window. */
export class RichFeatureExtractor {
  readonly windowLength: number;
  private readonly frameLength: number;
  private readonly history: Float64Array;
  private readonly win: Float64Array;
  private readonly fft: ReturnType<typeof createPow2Fft>;
  private readonly spec: Float64Array;
  private readonly bins: number;
  private readonly prevMag: Float64Array;
  /** minimum of each bin's magnitude over the last sustainFrames frames */
  private readonly sustain: SlidingMinimum;
  private readonly mags: Float64Array;
  private framesSeen = 0;
  private readonly pitchClass: Int8Array;
  private readonly windowed: Float64Array;
  private readonly zeros: Float64Array;
  private readonly kernel: RichKernel | null;

  constructor(opts: RichOptions) {
    this.windowLength = opts.windowLength ?? 2048;
    this.frameLength = opts.frameLength;
    this.history = new Float64Array(this.windowLength);
    this.win = periodicHann(this.windowLength);
    if ((this.windowLength & (this.windowLength - 1)) !== 0) throw new RangeError(`rich feature window must be a power of two, got ${this.windowLength}`);
    this.fft = createPow2Fft(this.windowLength);
    this.bins = this.windowLength / 2 + 1;
    this.spec = new Float64Array(2 * this.windowLength);
    this.prevMag = new Float64Array(this.bins);
    this.windowed = new Float64Array(this.windowLength);
    this.mags = new Float64Array(this.bins);
    this.zeros = new Float64Array(this.bins);
    const k = opts.sustainFrames ?? 8;
    this.sustain = new SlidingMinimum(k, this.bins);
    this.pitchClass = new Int8Array(this.bins).fill(-1);
    for (let b = 1; b < this.bins; b++) {
      const f = (b * opts.sampleRate) / this.windowLength;
      if (f < 55 || f > 5000) continue;
      const midi = (12 * ln(f / 440)) / ln(2) + 69;
      this.pitchClass[b] = ((Math.floor(midi + 0.5) % 12) + 12) % 12;
    }
    const useKernel = opts.kernel ?? true;
    this.kernel = useKernel ? richKernel({ windowLength: this.windowLength, frameLength: this.frameLength, bins: this.bins, sustainFrames: k, window: this.win, pitchClass: this.pitchClass, fft: this.fft }) : null;
  }

  push(frame: ArrayLike<number>): Raw {
    return this.kernel ? this.kernel.push(frame) : this.pushJs(frame);
  }

  private pushJs(frame: ArrayLike<number>): Raw {
    const n = this.frameLength;
    const W = this.windowLength;
    const h = this.history;
    const win = this.win;
    const windowed = this.windowed;
    h.copyWithin(0, n);
    let sq = 0;
    for (let i = 0; i < n; i++) {
      const v = frame[i]!;
      h[W - n + i] = v;
      sq += v * v;
    }
    for (let i = 0; i < W; i++) windowed[i] = h[i]! * win[i]!;
    const spec = this.spec;
    this.fft.realTransform(spec, windowed); // bins 0..N/2 are filled
    const bins = this.bins;
    const slot = this.mags;
    const prev = this.prevMag;
    const first = this.framesSeen === 0;
    let flux = 0;
    for (let b = 0; b < bins; b++) {
      const re = spec[2 * b]!;
      const im = spec[2 * b + 1]!;
      const m = Math.sqrt(re * re + im * im);
      slot[b] = m;
      // Flux on square-root magnitudes (IEEE-exact, unlike a logarithm): rises only.
      const c = Math.sqrt(m);
      const d = c - prev[b]!;
      if (!first && d > 0) flux += d;
      prev[b] = c;
    }
    this.framesSeen++;
    // nothing counts as sustained until the window has filled
    const minM = this.sustain.push(slot) ?? this.zeros;
    let harm = 0;
    let perc = 0;
    const chroma = new Float64Array(12);
    const pcs = this.pitchClass;
    for (let b = 0; b < bins; b++) {
      const sustained = minM[b]!;
      const e = sustained * sustained;
      harm += e;
      const p = slot[b]! - sustained;
      perc += p * p;
      const pc = pcs[b]!;
      if (pc >= 0) chroma[pc] = chroma[pc]! + e;
    }
    return {
      rms: Math.sqrt(sq / n),
      onset: flux / bins,
      harmonic: Math.sqrt(harm / bins),
      percussive: Math.sqrt(perc / bins),
      chroma,
    };
  }
}

function chromaNormalised(c: Float64Array): Float32Array {
  let max = 0;
  for (const v of c) if (v > max) max = v;
  const out = new Float32Array(12);
  if (max > 0) for (let i = 0; i < 12; i++) out[i] = c[i]! / max;
  return out;
}

function pulseDecay(fps: number, seconds: number): number {
  return exp(-1 / (fps * seconds));
}

/** Numbers per frame in a packed raw array: rms, onset, harmonic, percussive, 12 chroma. */
export const RAW_STRIDE = 16;

/**
 * Raw features of frames [f0, f1) packed RAW_STRIDE per frame. The extractor's state depends only on
 * the last few frames (window, previous magnitudes, sustain minimum), so starting `warm-up` frames
 * early gives the same numbers as running from frame 0: a track can be split over threads.
 */
export function richRawRange(samples: Float32Array, opts: RichOptions, f0: number, f1: number): Float64Array {
  const ex = new RichFeatureExtractor(opts);
  // the window fills in ceil(W / n) frames; the sustain minimum then needs its k frames of true spectra
  const warmUp = Math.ceil(ex.windowLength / opts.frameLength) + (opts.sustainFrames ?? 8);
  const n = opts.frameLength;
  for (let f = Math.max(0, f0 - warmUp); f < f0; f++) ex.push(samples.subarray(f * n, (f + 1) * n));
  const out = new Float64Array((f1 - f0) * RAW_STRIDE);
  for (let f = f0; f < f1; f++) {
    const r = ex.push(samples.subarray(f * n, (f + 1) * n));
    const o = (f - f0) * RAW_STRIDE;
    out[o] = r.rms;
    out[o + 1] = r.onset;
    out[o + 2] = r.harmonic;
    out[o + 3] = r.percussive;
    out.set(r.chroma, o + 4);
  }
  return out;
}

export function richFrameCount(samples: Float32Array, opts: RichOptions): number {
  return Math.floor(samples.length / opts.frameLength);
}

/** Whole-track features from packed raw frames: normalised by the track's peaks, pulse decayed. */
export function richFromRaw(raw: Float64Array, opts: RichOptions): RichFeatures[] {
  const frames = raw.length / RAW_STRIDE;
  const peak = (k: number) => {
    let m = 0;
    for (let f = 0; f < frames; f++) m = Math.max(m, raw[f * RAW_STRIDE + k]!);
    return m;
  };
  const po = peak(1);
  const ph = peak(2);
  const pp = peak(3);
  const decay = pulseDecay(opts.fps, opts.pulseDecaySeconds ?? 0.15);
  let pulse = 0;
  const out: RichFeatures[] = new Array(frames);
  for (let f = 0; f < frames; f++) {
    const o = f * RAW_STRIDE;
    const onset = po > 0 ? raw[o + 1]! / po : 0;
    pulse = Math.max(onset, pulse * decay);
    out[f] = {
      rms: raw[o]!,
      onset,
      pulse,
      harmonic: ph > 0 ? raw[o + 2]! / ph : 0,
      percussive: pp > 0 ? raw[o + 3]! / pp : 0,
      chroma: chromaNormalised(raw.subarray(o + 4, o + 16)),
    };
  }
  return out;
}

/** Whole-track features (causal per frame, normalised by the track's peaks). */
export function richFeaturesOffline(samples: Float32Array, opts: RichOptions): RichFeatures[] {
  return richFromRaw(richRawRange(samples, opts, 0, richFrameCount(samples, opts)), opts);
}

/** Frame-at-a-time features for live input (no look-ahead: zero added latency). */
export class RichFeaturesStream {
  private readonly ex: RichFeatureExtractor;
  private readonly decay: number;
  private readonly release: number;
  private pulse = 0;
  private peaks = { onset: 0, harmonic: 0, percussive: 0 };

  constructor(opts: RichOptions & { peakReleasePerFrame?: number }) {
    this.ex = new RichFeatureExtractor(opts);
    this.decay = pulseDecay(opts.fps, opts.pulseDecaySeconds ?? 0.15);
    this.release = opts.peakReleasePerFrame ?? 0.9995;
  }

  push(frame: ArrayLike<number>): RichFeatures {
    const r = this.ex.push(frame);
    const norm = (k: 'onset' | 'harmonic' | 'percussive') => {
      this.peaks[k] = Math.max(r[k], this.peaks[k] * this.release);
      return this.peaks[k] > 0 ? r[k] / this.peaks[k] : 0;
    };
    const onset = norm('onset');
    this.pulse = Math.max(onset, this.pulse * this.decay);
    return { rms: r.rms, onset, pulse: this.pulse, harmonic: norm('harmonic'), percussive: norm('percussive'), chroma: chromaNormalised(r.chroma) };
  }
}
