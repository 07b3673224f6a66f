/**
 * Worker threads for the offline analysis of a whole track: GANce's exact resampling, its
 * spectrogram and the rich features, each split over the threads on shared memory.
 *
 * Every split reproduces the serial arithmetic, so the numbers are the same with any thread count:
 * - resampling: each thread gets an output range and the time register resampy would hold at its
 *   start (found by the same sequence of additions);
 * - spectrogram: its stages run one after another over frame ranges, with the track-wide reductions
 *   (loudest bin, quietest level, min and max for the scaling) taken between them; ranges start on
 *   even frames because two frames share one complex transform;
 * - rich features: each range starts a few frames early, which rebuilds the extractor's state exactly.
 */
import { Worker } from 'node:worker_threads';
import { threadEntry } from '../threads/ts-entry.ts';
import { resampledLength, resampleTables } from '../audio/resampy.ts';
import { RAW_STRIDE, richFrameCount, richFromRaw, type RichFeatures, type RichOptions } from '../audio/features/rich.ts';
import { checkAudible, checkSpectrogramInput, type SpectrogramOptions } from '../audio/features/spectrogram.ts';
import { decibelsBuffer, rollShifts, type SpectrogramState } from '../audio/features/spectrogram-rows.ts';
import type { AnalysisJob } from './analysis-worker.ts';
import { callWorker } from '../threads/thread-call.ts';

export interface AnalysisPool {
  readonly threads: number;
  /** resampy kaiser_best, the same samples as resampleKaiserBest (its buffer zero-padded to a multiple of padTo, shared). */
  resample: (x: Float32Array, srOrig: number, srNew: number, padTo?: number) => Promise<Float32Array>;
  /**
   * spectrogramState (the rows of ganceSpectrogram on demand) and (unless `rich` is null)
   * richFeaturesOffline of one signal, the same numbers; `scratch` as spectrogramState's.
   */
  analyse: (samples: Float32Array, spectrogram: SpectrogramOptions, rich: RichOptions | null, scratch?: SharedArrayBuffer) => Promise<{ spectrogram: SpectrogramState; rich: RichFeatures[] | null }>;
  /** Resolves once every worker has started and run a short track (a daemon does this once, up front). */
  ready: () => Promise<void>;
  close: () => Promise<void>;
}

const WARM_UP_SECONDS = 4;

/** [bounds[i], bounds[i + 1]) for i < parts: near-equal ranges of [0, n), inner bounds even. */
function evenBounds(n: number, parts: number): number[] {
  const b = [0];
  for (let i = 1; i < parts; i++) b.push(Math.min(n, 2 * Math.round((i * n) / parts / 2)));
  b.push(n);
  return b;
}

/** `a` on shared memory the threads can read: itself when it already is (a whole buffer from its start). */
function shared(a: Float32Array): SharedArrayBuffer {
  if (a.buffer instanceof SharedArrayBuffer && a.byteOffset === 0) return a.buffer;
  const s = new SharedArrayBuffer(a.byteLength);
  new Float32Array(s).set(a);
  return s;
}

export interface AnalysisPoolOptions {
  /** Sees each thread as it starts (tests use it to end one). */
  onSpawn?: (w: Worker) => void;
}

export function analysisPool(threads: number, opts: AnalysisPoolOptions = {}): AnalysisPool {
  const n = Math.max(1, Math.floor(threads));
  const workers: Worker[] = [];
  const spawn = () => {
    while (workers.length < n) {
      const { script, options } = threadEntry(new URL('./analysis-worker.ts', import.meta.url));
      const w = new Worker(script, options);
      w.unref();
      // a thread that dies takes its job's call down with it (callWorker) and is replaced at the next one
      w.on('exit', () => {
        const i = workers.indexOf(w);
        if (i >= 0) workers.splice(i, 1);
      });
      w.on('error', () => undefined);
      workers.push(w);
      opts.onSpawn?.(w);
    }
  };
  /** one job per worker, built from the worker's range; resolves with their results in order */
  const each = <T>(bounds: number[], job: (a: number, b: number, i: number) => AnalysisJob): Promise<T[]> => {
    spawn();
    return Promise.all(workers.map((w, i) => callWorker<T>(w, job(bounds[i]!, bounds[i + 1]!, i) as unknown as Record<string, unknown>)));
  };

  async function spectrogram(samples: SharedArrayBuffer, sampleCount: number, opts: SpectrogramOptions, original: Float32Array, scratch?: SharedArrayBuffer): Promise<SpectrogramState> {
    const vl = opts.vectorLength;
    const frames = checkSpectrogramInput(sampleCount, opts);
    const bins = Math.floor((vl - 2) / 2);
    const byFrame = evenBounds(frames, n);
    const byBin = byFrame.map((f) => f * bins);
    const mags = decibelsBuffer(frames, bins, scratch, (bytes) => new SharedArrayBuffer(bytes));
    const maxes = await each<number>(byFrame, (f0, f1) => ({ kind: 'magnitudes', samples, vl, f0, f1, mags }));
    const max = Math.max(...maxes);
    checkAudible(max, opts.file);
    const minFinite = Math.min(...(await each<number>(byBin, (i0, i1) => ({ kind: 'decibels', mags, max, i0, i1 }))));
    // the resampled rows only for their extremes: the rows themselves are made when asked for
    const ranges = await each<[number, number]>(byFrame, (f0, f1) => ({ kind: 'extremes', mags, minFinite, bins, vl, f0, f1 }));
    return {
      frames,
      vectorLength: vl,
      bins,
      decibels: new Float64Array(mags, 0, frames * bins),
      min: Math.min(...ranges.map((r) => r[0])),
      max: Math.max(...ranges.map((r) => r[1])),
      amplitudeRange: [opts.amplitudeRange[0], opts.amplitudeRange[1]],
      rollShifts: opts.rollEnabled ? rollShifts(original, frames, vl, opts.file) : null,
    };
  }

  async function rich(samples: SharedArrayBuffer, length: number, opts: RichOptions, original: Float32Array): Promise<RichFeatures[]> {
    const frames = richFrameCount(original, opts);
    const parts = await each<Float64Array>(evenBounds(frames, n), (f0, f1) => ({ kind: 'rich', samples, length, opts, f0, f1 }));
    const raw = new Float64Array(frames * RAW_STRIDE);
    let at = 0;
    for (const p of parts) {
      raw.set(p, at);
      at += p.length;
    }
    return richFromRaw(raw, opts);
  }

  return {
    threads: n,
    async ready() {
      await each(evenBounds(0, n), () => ({ kind: 'ping' }));
      // A short track through every stage, so that the first real one runs on optimised code.
      const x = new Float32Array(WARM_UP_SECONDS * 44100);
      for (let i = 0; i < x.length; i++) x[i] = Math.fround(0.5 * Math.sin(i * 0.05) + (i % 97) / 400);
      const y = await this.resample(x, 44100, 30720);
      const frames = Math.floor(y.length / 512);
      await this.analyse(y.subarray(0, frames * 512), { vectorLength: 512, amplitudeRange: [-1, 1], rollEnabled: false }, { sampleRate: 30720, frameLength: 512, fps: 60 });
    },
    async resample(x, srOrig, srNew, padTo = 1) {
      const nOut = resampledLength(x.length, srOrig, srNew);
      if (nOut < 1) throw new RangeError(`input of ${x.length} samples is too short to resample from ${srOrig} to ${srNew}`);
      const xs = shared(x);
      const ys = new SharedArrayBuffer(Math.ceil(nOut / padTo) * padTo * 4);
      const { timeIncrement } = resampleTables(srOrig, srNew);
      const bounds = Array.from({ length: n + 1 }, (_, i) => Math.round((i * nOut) / n));
      // Registers at each boundary: the same additions resampy makes, in one pass.
      const registers: number[] = [];
      let r = 0.0;
      for (let t = 0, b = 0; b < n; t++) {
        while (b < n && bounds[b] === t) {
          registers.push(r);
          b++;
        }
        r += timeIncrement;
      }
      await each(bounds, (t0, t1, i) => ({ kind: 'resample', x: xs, xLength: x.length, y: ys, t0, t1, register: registers[i]!, srOrig, srNew }));
      return new Float32Array(ys, 0, nOut);
    },
    async analyse(samples, specOpts, richOpts, scratch) {
      const s = shared(samples);
      // the rich features go first: their ranges take as long everywhere, the spectrogram's stages then
      // follow each other without one thread waiting long for another
      const richJob = richOpts ? rich(s, samples.length, richOpts, samples) : null;
      richJob?.catch(() => undefined);
      const spec = await spectrogram(s, samples.length, specOpts, samples, scratch);
      return { spectrogram: spec, rich: richJob ? await richJob : null };
    },
    async close() {
      await Promise.all(workers.splice(0).map((w) => w.terminate()));
    },
  };
}
