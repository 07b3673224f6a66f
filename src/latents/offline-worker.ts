/** Worker side of offline-helpers: GANce noise and rich features off the main thread. */
import { parentPort } from 'node:worker_threads';
import { richFeaturesOffline, type RichOptions } from '../audio/features/rich.ts';
import { ganceNoise, type NoiseOptions } from './noise.ts';
import { reply } from '../threads/thread-call.ts';

type Job = { id: number; ping: true } | { id: number; kind: 'noise'; opts: NoiseOptions } | { id: number; kind: 'rich'; samples: Float32Array; opts: RichOptions };

parentPort!.on('message', (job: Job) =>
  reply((m, t) => parentPort!.postMessage(m, t), job.id, () => {
    if ('ping' in job) return {};
    if (job.kind === 'noise') {
      // on shared memory: posted without a copy
      return { result: ganceNoise(job.opts) };
    }
    return { result: richFeaturesOffline(job.samples, job.opts) };
  }),
);
