/**
 * GANce's spectrogram and loudness for live audio, one frame at a time.
 *
 * Same per-frame maths as offline (periodic Hann, L-2 sample FFT, dB, Fourier resampling to L,
 * Savitzky-Golay 5/3 within the frame and 7/3 across frames); what GANce takes from the whole track
 * comes from the past instead:
 * - dB are relative to the loudest bin heard so far (GANce: the whole track's loudest),
 * - the min-max scaling uses the extremes seen so far (GANce: the whole track's),
 * - the across-frame Savitzky-Golay window is centred, so each frame is emitted `lookahead` (3) frames
 *   late; the first frames see frame 0 repeated before the start (GANce fits a polynomial there).
 * Latency from a sample to its vector: up to one frame to fill the block, plus `lookahead` frames.
 */
import { log10 } from './detmath.ts';
import { FeatureError } from './errors.ts';
import { RealPairDft } from './fft.ts';
import { savgolPlan, savgolStrided } from './savgol.ts';
import { fourierResampleRows, periodicHann } from './spectrogram.ts';

export interface StreamingSpectrogramOptions {
  vectorLength: number;
  /** Frames of delay for the centred across-frame smoothing; 3 is exact for GANce's window of 7. */
  lookahead?: number;
}

export interface StreamingFrame {
  /** Index of the frame this output belongs to (input index - lookahead). */
  index: number;
  /** Spectrogram vector scaled to [0, 1]; map to any amplitude range with a + (b - a) * v. */
  unit: Float64Array;
  /** GANce's RMS of the frame (float32 maths). */
  rms: number;
  /** GANce's smoothed RMS (rolling mean 3, Savitzky-Golay 7/3 centred with the same delay). */
  smoothedRms: number;
  /** The rolling mean of 3 alone (GANce's projection blend: its Savitzky-Golay 3/2 is the identity). */
  meanRms: number;
}

export class StreamingGanceSpectrogram {
  readonly vectorLength: number;
  readonly lookahead: number;
  private readonly m: number;
  private readonly bins: number;
  private readonly win: Float64Array;
  private readonly dft: RealPairDft;
  private readonly spec: Float64Array;
  private readonly frameDb: Float64Array;
  private readonly ring: Float64Array[] = [];
  private readonly rmsRing: number[] = [];
  private readonly rawRing: number[] = [];
  private readonly rawRms: number[] = [];
  private readonly withinPlan = savgolPlan(5, 3);
  private readonly acrossPlan = savgolPlan(7, 3);
  private peak = 0;
  private lo = Infinity;
  private hi = -Infinity;
  private received = 0;

  constructor(opts: StreamingSpectrogramOptions) {
    const vl = opts.vectorLength;
    if (!Number.isInteger(vl) || vl < 8 || vl % 2 !== 0) throw new FeatureError('FEATURE_BAD_PARAMETER', `vector length must be an even integer >= 8, got ${vl}`);
    this.vectorLength = vl;
    this.lookahead = opts.lookahead ?? 3;
    if (this.lookahead !== 3 && this.lookahead !== 0) throw new FeatureError('FEATURE_BAD_PARAMETER', `lookahead must be 3 (GANce's centred window) or 0 (no across-frame smoothing), got ${this.lookahead}`);
    this.m = vl - 2;
    this.bins = Math.floor(this.m / 2);
    this.win = periodicHann(this.m);
    this.dft = new RealPairDft(this.m);
    this.spec = new Float64Array(2 * this.bins);
    this.frameDb = new Float64Array(this.bins);
  }

  /** Feed one frame of `vectorLength` samples; returns the frame that is now complete, if any. */
  push(frame: ArrayLike<number>): StreamingFrame | null {
    const vl = this.vectorLength;
    if (frame.length !== vl) throw new FeatureError('FEATURE_BAD_PARAMETER', `frame must hold ${vl} samples, got ${frame.length}`);
    const windowed = new Float64Array(this.m);
    for (let j = 0; j < this.m; j++) windowed[j] = frame[j]! * this.win[j]!;
    this.dft.forward(windowed, null, this.bins, this.spec, null);
    let frameMax = 0;
    for (let k = 0; k < this.bins; k++) {
      const re = this.spec[2 * k]!;
      const im = this.spec[2 * k + 1]!;
      const mag = Math.sqrt(re * re + im * im);
      this.frameDb[k] = mag;
      if (mag > frameMax) frameMax = mag;
    }
    if (frameMax > this.peak) this.peak = frameMax;
    // Until something is heard every bin sits at the floor (0 dB relative to nothing is undefined).
    let floor = 0;
    for (let k = 0; k < this.bins; k++) {
      const mag = this.frameDb[k]!;
      const db = mag > 0 && this.peak > 0 ? 20 * log10(mag / this.peak) : -Infinity;
      this.frameDb[k] = db;
      if (db < floor && Number.isFinite(db)) floor = db;
    }
    for (let k = 0; k < this.bins; k++) if (this.frameDb[k] === -Infinity) this.frameDb[k] = Number.isFinite(this.lo) ? Math.min(floor, this.lo) : floor;
    const resampled = fourierResampleRows(this.frameDb, 1, this.bins, vl);
    const smooth = new Float64Array(vl);
    savgolStrided(this.withinPlan, resampled, 0, 1, vl, smooth, 0, 1);
    for (let j = 0; j < vl; j++) {
      const v = resampled[j]!;
      if (v < this.lo) this.lo = v;
      if (v > this.hi) this.hi = v;
    }
    // RMS with librosa's float32 maths, then GANce's causal rolling mean of 3.
    const f32 = Math.fround;
    let sq = 0;
    for (let j = 0; j < Math.min(vl, frame.length); j++) sq += f32(frame[j]! * frame[j]!);
    const rms = f32(Math.sqrt(f32(sq / vl)));
    this.rawRms.push(rms);
    if (this.rawRms.length > 3) this.rawRms.shift();
    const meanRms = this.rawRms.reduce((a, b) => a + b, 0) / this.rawRms.length;

    if (this.received === 0) {
      // Pad the past with copies of the first frame so the centred window has its left half.
      for (let i = 0; i < this.lookahead; i++) {
        this.ring.push(smooth);
        this.rmsRing.push(meanRms);
        this.rawRing.push(rms);
      }
    }
    this.ring.push(smooth);
    this.rmsRing.push(meanRms);
    this.rawRing.push(rms);
    this.received++;
    const width = 2 * this.lookahead + 1;
    if (this.ring.length > width) {
      this.ring.shift();
      this.rmsRing.shift();
      this.rawRing.shift();
    }
    if (this.ring.length < width) return null;
    return this.emit(this.received - 1 - this.lookahead);
  }

  /** At the end of the input: emit the frames still waiting for look-ahead (the last frame repeated). */
  finish(): StreamingFrame[] {
    const out: StreamingFrame[] = [];
    if (this.received === 0 || this.lookahead === 0) return out;
    const last = this.ring.at(-1)!;
    const lastRms = this.rmsRing.at(-1)!;
    const lastRaw = this.rawRing.at(-1)!;
    const width = 2 * this.lookahead + 1;
    for (let k = 0; k < this.lookahead; k++) {
      this.ring.push(last);
      this.rmsRing.push(lastRms);
      this.rawRing.push(lastRaw);
      if (this.ring.length > width) {
        this.ring.shift();
        this.rmsRing.shift();
        this.rawRing.shift();
      }
      const index = this.received - this.lookahead + k;
      if (index >= 0 && this.ring.length === width) out.push(this.emit(index));
    }
    return out;
  }

  private emit(index: number): StreamingFrame {
    const vl = this.vectorLength;
    const width = this.ring.length;
    let across: Float64Array;
    let smoothedRms: number;
    if (width === 1) {
      across = this.ring[0]!;
      smoothedRms = this.rmsRing[0]!;
    } else {
      const c = this.acrossPlan.center;
      across = new Float64Array(vl);
      for (let j = 0; j < width; j++) {
        const row = this.ring[j]!;
        const w = c[j]!;
        for (let p = 0; p < vl; p++) across[p] = across[p]! + w * row[p]!;
      }
      smoothedRms = 0;
      for (let j = 0; j < width; j++) smoothedRms += c[j]! * this.rmsRing[j]!;
    }
    const range = this.hi - this.lo;
    const unit = new Float64Array(vl);
    for (let p = 0; p < vl; p++) unit[p] = range > 0 ? (across[p]! - this.lo) / range : 0;
    return { index, unit, rms: this.rawRing[this.lookahead]!, smoothedRms, meanRms: this.rmsRing[this.lookahead]! };
  }
}
