/**
 * Features GANce lacks, after Lucid Sonic Dreams and maua-stylegan2: a percussive pulse from onsets,
 * harmonic motion from sustained partials, and chroma (12 pitch classes).
 *
 * Everything is causal: frame t uses a Hann-windowed 2048-sample STFT ending at the end of frame t.
 * The sustained ("harmonic") spectrum is each bin's minimum over the last `sustainFrames` frames (a
 * partial that rings through them survives, a transient does not); the rest is percussive. Onsets are
 * the half-wave rectified rise of log-compressed magnitudes (spectral flux); the pulse jumps to each
 * onset and decays exponentially. Chroma folds the sustained spectrum from 55 Hz to 5 kHz onto pitch
 * classes (C = 0). Offline normalises each feature by its peak over the track, streaming by a running
 * peak that slowly releases.
 */
import { exp, ln } from './detmath.ts';
import { RealPairDft } from './fft.ts';
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
  private readonly dft: RealPairDft;
  private readonly spec: Float64Array;
  private readonly bins: number;
  private readonly prevLog: Float64Array;
  private readonly sustain: Float64Array[];
  private sustainAt = 0;
  private framesSeen = 0;
  private readonly pitchClass: Int8Array;
  private readonly windowed: Float64Array;

  constructor(opts: RichOptions) {
    this.windowLength = opts.windowLength ?? 2048;
    this.frameLength = opts.frameLength;
    this.history = new Float64Array(this.windowLength);
    this.win = periodicHann(this.windowLength);
    this.dft = new RealPairDft(this.windowLength);
    this.bins = this.windowLength / 2 + 1;
    this.spec = new Float64Array(2 * this.bins);
    this.prevLog = new Float64Array(this.bins);
    this.windowed = new Float64Array(this.windowLength);
    const k = opts.sustainFrames ?? 8;
    this.sustain = Array.from({ length: k }, () => new Float64Array(this.bins));
    this.pitchClass = new Int8Array(this.bins).fill(-1);
    for (let b = 1; b < this.bins; b++) {
      const f = (b * opts.sampleRate) / this.windowLength;
      if (f < 55 || f > 5000) continue;
      const midi = (12 * ln(f / 440)) / ln(2) + 69;
      this.pitchClass[b] = ((Math.floor(midi + 0.5) % 12) + 12) % 12;
    }
  }

  push(frame: ArrayLike<number>): Raw {
    const n = this.frameLength;
    const h = this.history;
    h.copyWithin(0, n);
    let sq = 0;
    for (let i = 0; i < n; i++) {
      const v = frame[i]!;
      h[this.windowLength - n + i] = v;
      sq += v * v;
    }
    for (let i = 0; i < this.windowLength; i++) this.windowed[i] = h[i]! * this.win[i]!;
    this.dft.forward(this.windowed, null, this.bins, this.spec, null);
    const slot = this.sustain[this.sustainAt]!;
    this.sustainAt = (this.sustainAt + 1) % this.sustain.length;
    let flux = 0;
    for (let b = 0; b < this.bins; b++) {
      const re = this.spec[2 * b]!;
      const im = this.spec[2 * b + 1]!;
      const m = Math.sqrt(re * re + im * im);
      slot[b] = m;
      const lg = ln(1 + 100 * m);
      if (this.framesSeen > 0 && lg > this.prevLog[b]!) flux += lg - this.prevLog[b]!;
      this.prevLog[b] = lg;
    }
    this.framesSeen++;
    const filled = Math.min(this.framesSeen, this.sustain.length);
    let harm = 0;
    let perc = 0;
    const chroma = new Float64Array(12);
    for (let b = 0; b < this.bins; b++) {
      let minM = Infinity;
      for (let j = 0; j < filled; j++) {
        const idx = (this.sustainAt - 1 - j + this.sustain.length) % this.sustain.length;
        const v = this.sustain[idx]![b]!;
        if (v < minM) minM = v;
      }
      // A window that has not yet seen `sustain` frames cannot tell sustained from new.
      const sustained = filled < this.sustain.length ? 0 : minM;
      const m = slot[b]!;
      harm += sustained * sustained;
      const p = m - sustained;
      perc += p * p;
      const pc = this.pitchClass[b]!;
      if (pc >= 0) chroma[pc] = chroma[pc]! + sustained * sustained;
    }
    return {
      rms: Math.sqrt(sq / n),
      onset: flux / this.bins,
      harmonic: Math.sqrt(harm / this.bins),
      percussive: Math.sqrt(perc / this.bins),
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

/** Whole-track features (causal per frame, normalised by the track's peaks). */
export function richFeaturesOffline(samples: Float32Array, opts: RichOptions): RichFeatures[] {
  const ex = new RichFeatureExtractor(opts);
  const frames = Math.floor(samples.length / opts.frameLength);
  const raw: Raw[] = [];
  for (let f = 0; f < frames; f++) raw.push(ex.push(samples.subarray(f * opts.frameLength, (f + 1) * opts.frameLength)));
  const peak = (k: 'onset' | 'harmonic' | 'percussive') => raw.reduce((m, r) => Math.max(m, r[k]), 0);
  const po = peak('onset');
  const ph = peak('harmonic');
  const pp = peak('percussive');
  const decay = pulseDecay(opts.fps, opts.pulseDecaySeconds ?? 0.15);
  let pulse = 0;
  return raw.map((r) => {
    const onset = po > 0 ? r.onset / po : 0;
    pulse = Math.max(onset, pulse * decay);
    return {
      rms: r.rms,
      onset,
      pulse,
      harmonic: ph > 0 ? r.harmonic / ph : 0,
      percussive: pp > 0 ? r.percussive / pp : 0,
      chroma: chromaNormalised(r.chroma),
    };
  });
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
