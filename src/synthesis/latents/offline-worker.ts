/** Worker side of offline-helpers: GANce noise and rich features off the main thread. */
import { parentPort } from 'node:worker_threads';
import { richFeaturesOffline, type RichOptions } from '../features/rich.ts';
import { ganceNoise, type NoiseOptions } from './noise.ts';

type Job = { id: number; ping: true } | { id: number; kind: 'noise'; opts: NoiseOptions } | { id: number; kind: 'rich'; samples: Float32Array; opts: RichOptions };

parentPort!.on('message', (job: Job) => {
  try {
    if ('ping' in job) parentPort!.postMessage({ id: job.id, ok: true });
    else if (job.kind === 'noise') {
      const out = ganceNoise(job.opts);
      parentPort!.postMessage({ id: job.id, ok: true, result: out }, [out.buffer as ArrayBuffer]);
    } else {
      parentPort!.postMessage({ id: job.id, ok: true, result: richFeaturesOffline(job.samples, job.opts) });
    }
  } catch (err) {
    parentPort!.postMessage({ id: job.id, ok: false, error: err instanceof Error ? err.message : String(err) });
  }
});
