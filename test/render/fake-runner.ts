/**
 * A runner that honours the `RunRender` contract without synthesis: it "renders" frames in
 * batches into its workDir (one line per frame, so a second run with the same workDir continues
 * after what is there), reports progress, awaits the throttle hook, stops on abort with
 * RenderFailure('cancelled'), fails on request, and renames a complete output into place (and
 * writes a stand-in debug video where the spec names one).
 */
import { appendFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { SynthesisRecord, SynthesisWorkerInfo } from '../../src/render/synthesis-record.ts';
import { RenderFailure, type RenderFailureReason, type RunRender } from '../../src/render/types.ts';

export interface FakeRunnerOptions {
  frames?: number;
  batch?: number;
  /** awaited before each batch (tests hold a render half-way with it) */
  beforeBatch?: (info: { jobWorkDir: string; framesDone: number }) => Promise<void>;
  /** an audio file whose name contains `fail-<reason>` makes the run fail with that reason */
  lieAboutOutput?: boolean;
  /** handed to onLoudness after the analysing stage, as the real runner does */
  loudness?: { levelsDba: number[]; fps: number };
  /** the workers handed to onSynthesis before the first batch, as the real runner does, and the record the result carries */
  synthesis?: { workers: SynthesisWorkerInfo[]; record: SynthesisRecord };
}

export interface FakeRun {
  workDir: string;
  startFrame: number;
  outcome?: 'done' | 'cancelled' | 'failed';
}

export function fakeRunner(opts: FakeRunnerOptions = {}): RunRender & { runs: FakeRun[] } {
  const total = opts.frames ?? 12;
  const batch = opts.batch ?? 4;
  const runs: FakeRun[] = [];
  const run: RunRender = async (spec, deps, o) => {
    try {
      return await body(spec, deps, o);
    } catch (err) {
      if (err instanceof RenderFailure && err.reason === 'cancelled') runs.at(-1)!.outcome = 'cancelled';
      throw err;
    }
  };
  const body: RunRender = async (spec, _deps, o) => {
    const framesFile = join(o.workDir, 'frames.txt');
    const existing = await readFile(framesFile, 'utf8').catch(() => '');
    let done = existing.split('\n').filter(Boolean).length;
    const record: FakeRun = { workDir: o.workDir, startFrame: done };
    runs.push(record);
    const failing = spec.audio.map((a) => /fail-([a-z-]+)/.exec(a)?.[1]).find(Boolean) as RenderFailureReason | undefined;
    const check = () => {
      if (o.signal?.aborted) throw new RenderFailure('cancelled', 'aborted');
    };
    o.onProgress?.({ stage: 'analysing', framesDone: done, framesTotal: null, fps: null, etaSeconds: null });
    if (opts.loudness) o.onLoudness?.(opts.loudness);
    if (opts.synthesis) o.onSynthesis?.(opts.synthesis.workers);
    while (done < total) {
      check();
      // a real runner stops within a batch of an abort, so a held one does too
      await Promise.race([opts.beforeBatch?.({ jobWorkDir: o.workDir, framesDone: done }), aborted(o.signal)]);
      await o.throttle?.();
      check();
      if (failing && done >= batch) {
        record.outcome = 'failed';
        throw new RenderFailure(failing, `fake ${failing} failure at frame ${done}`);
      }
      const n = Math.min(batch, total - done);
      await appendFile(framesFile, Array.from({ length: n }, (_, k) => `frame ${done + k}\n`).join(''));
      done += n;
      o.onProgress?.({ stage: 'rendering', framesDone: done, framesTotal: total, fps: 30, etaSeconds: (total - done) / 30 });
    }
    o.onProgress?.({ stage: 'encoding', framesDone: done, framesTotal: total, fps: null, etaSeconds: 0 });
    check();
    if (!opts.lieAboutOutput) {
      await mkdir(dirname(spec.output.path), { recursive: true });
      const tmp = `${spec.output.path}.partial`;
      await writeFile(tmp, await readFile(framesFile));
      await rename(tmp, spec.output.path);
      // the "debug video": the frame lines again, marked
      if (spec.output.debugPath !== null) await writeFile(spec.output.debugPath, `debug of\n${await readFile(framesFile, 'utf8')}`);
    }
    record.outcome = 'done';
    const debug = spec.output.debugPath === null ? {} : { debugOutput: spec.output.debugPath };
    return { output: spec.output.path, runConfig: `${spec.output.path}.json`, ...debug, frames: total, fps: 30, seconds: 0.01, resumedFrames: record.startFrame, ...(opts.synthesis ? { synthesis: opts.synthesis.record } : {}) };
  };
  return Object.assign(run, { runs });
}

/** A gate the test opens: every waiter until then is held. */
export class Gate {
  private waiters: Array<() => void> = [];
  private open = false;
  /** resolves when someone is waiting at the gate */
  arrived: Promise<void>;
  private onArrive!: () => void;
  constructor() {
    this.arrived = new Promise((r) => (this.onArrive = r));
  }
  wait = (): Promise<void> => {
    this.onArrive();
    if (this.open) return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
  };
  release(): void {
    this.open = true;
    for (const w of this.waiters.splice(0)) w();
  }
}

function aborted(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (!signal || signal.aborted) return resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
}
