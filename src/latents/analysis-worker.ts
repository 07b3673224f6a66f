/**
 * Worker side of analysis-pool: one slice of a stage of the offline analysis, on shared memory.
 * Every stage is the serial code run over a range, so the numbers do not depend on the thread count.
 */
import { parentPort } from 'node:worker_threads';
import { resampleRange, resampleTables } from '../audio/resampy.ts';
import { richRawRange, type RichOptions } from '../audio/features/rich.ts';
import { decibelsInto, liftSilentBins, magnitudesInto } from '../audio/features/spectrogram.ts';
import { resampledExtremes } from '../audio/features/spectrogram-rows.ts';
import { reply } from '../threads/thread-call.ts';

export type AnalysisJob =
  | { kind: 'ping' }
  | { kind: 'resample'; x: SharedArrayBuffer; xLength: number; y: SharedArrayBuffer; t0: number; t1: number; register: number; srOrig: number; srNew: number }
  | { kind: 'magnitudes'; samples: SharedArrayBuffer; vl: number; f0: number; f1: number; mags: SharedArrayBuffer }
  | { kind: 'decibels'; mags: SharedArrayBuffer; max: number; i0: number; i1: number }
  | { kind: 'extremes'; mags: SharedArrayBuffer; minFinite: number; bins: number; vl: number; f0: number; f1: number }
  | { kind: 'rich'; samples: SharedArrayBuffer; length: number; opts: RichOptions; f0: number; f1: number };

// whole float64s: a buffer reused for the magnitudes may end in half of one
const f64 = (b: SharedArrayBuffer) => new Float64Array(b, 0, Math.floor(b.byteLength / 8));

function run(job: AnalysisJob): { result?: unknown; transfer?: ArrayBuffer[] } {
  switch (job.kind) {
    case 'ping':
      return {};
    case 'resample': {
      const x = new Float32Array(job.x, 0, job.xLength);
      const y = new Float32Array(job.y, job.t0 * 4, job.t1 - job.t0);
      resampleRange(x, resampleTables(job.srOrig, job.srNew), job.t0, job.t1, job.register, y);
      return {};
    }
    case 'magnitudes':
      return { result: magnitudesInto(new Float32Array(job.samples), job.vl, job.f0, job.f1, f64(job.mags)) };
    case 'decibels':
      return { result: decibelsInto(f64(job.mags), job.max, job.i0, job.i1) };
    case 'extremes': {
      const mags = f64(job.mags);
      liftSilentBins(mags, job.minFinite, job.f0 * job.bins, job.f1 * job.bins);
      return { result: resampledExtremes(mags, job.bins, job.vl, job.f0, job.f1) };
    }
    case 'rich': {
      const raw = richRawRange(new Float32Array(job.samples, 0, job.length), job.opts, job.f0, job.f1);
      return { result: raw, transfer: [raw.buffer as ArrayBuffer] };
    }
  }
}

parentPort!.on('message', (job: AnalysisJob & { id: number }) => reply((m, t) => parentPort!.postMessage(m, t), job.id, () => run(job)));
