/** Worker side of resample-pool: computes one output range of the resampy emulation in shared memory. */
import { parentPort } from 'node:worker_threads';
import { resampleRange, resampleTables } from './resampy.ts';

interface Job {
  id: number;
  x: SharedArrayBuffer;
  xLength: number;
  y: SharedArrayBuffer;
  t0: number;
  t1: number;
  register: number;
  srOrig: number;
  srNew: number;
}

parentPort!.on('message', (job: Job & { ping?: boolean }) => {
  if (job.ping) {
    parentPort!.postMessage({ id: job.id, ok: true });
    return;
  }
  try {
    const x = new Float32Array(job.x, 0, job.xLength);
    const y = new Float32Array(job.y, job.t0 * 4, job.t1 - job.t0);
    resampleRange(x, resampleTables(job.srOrig, job.srNew), job.t0, job.t1, job.register, y);
    parentPort!.postMessage({ id: job.id, ok: true });
  } catch (err) {
    parentPort!.postMessage({ id: job.id, ok: false, error: String(err) });
  }
});
