/**
 * A helper thread for the independent parts of offline preparation: the noise only needs the frame
 * count (known once the audio is decoded) and the rich features only the resampled audio, so both run
 * beside the resampling and the spectrogram on the main thread. Same code, same numbers as in-thread.
 */
import { Worker } from 'node:worker_threads';
import type { RichFeatures, RichOptions } from '../audio/features/rich.ts';
import { threadEntry } from '../threads/ts-entry.ts';
import type { NoiseOptions } from './noise.ts';
import { callWorker } from '../threads/thread-call.ts';

let worker: Worker | null = null;

function get(): Worker {
  if (!worker) {
    const { script, options } = threadEntry(new URL('./offline-worker.ts', import.meta.url));
    worker = new Worker(script, options);
    worker.unref();
    worker.on('exit', () => {
      worker = null;
    });
  }
  return worker;
}

function call<T>(msg: Record<string, unknown>): Promise<T> {
  return callWorker<T>(get(), msg);
}

export const helperThread = {
  /** Start the thread ahead of time (a daemon does this at start-up). */
  ready: () => call<void>({ ping: true }),
  noise: (opts: NoiseOptions) => call<Float32Array>({ kind: 'noise', opts }),
  rich: (samples: Float32Array, opts: RichOptions) => call<RichFeatures[]>({ kind: 'rich', samples, opts }),
  async close(): Promise<void> {
    const w = worker;
    worker = null;
    await w?.terminate();
  },
};
