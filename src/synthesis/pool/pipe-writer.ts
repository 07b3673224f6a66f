/**
 * A process worker's outgoing pipe, written from a thread of its own. The worker's main thread
 * blocks in each inference call, so a frame written from it would either hold up the next call
 * (written synchronously) or wait for it to finish (queued on the event loop). Here the frame's
 * buffers are handed (not copied) to a writer thread that writes them while the next frame renders.
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { encodeMessage, writeAllSync } from './wire.ts';
import type { FromWorker } from './protocol.ts';
import { transferables } from './protocol.ts';
import { threadEntry } from '../../threads/ts-entry.ts';

export interface PipeWriter {
  send(msg: FromWorker): void;
}

/** Starts the writer thread for `fd`; `onError` runs (on this thread) if the pipe breaks. */
export function startPipeWriter(fd: number, onError: (message: string) => void): PipeWriter {
  const { script, options } = threadEntry(new URL(import.meta.url));
  const writer = new Worker(script, { ...options, workerData: { pipeWriterFd: fd } });
  writer.on('message', (m: { error: string }) => onError(m.error));
  writer.on('error', (err) => onError(err.message));
  // the writer must not keep the process alive on its own
  writer.unref();
  return {
    send(msg) {
      const parts = encodeMessage(msg);
      writer.postMessage(parts, transferables(msg));
    },
  };
}

// the writer thread itself
const fd = (workerData as { pipeWriterFd?: number } | null)?.pipeWriterFd;
if (!isMainThread && parentPort && typeof fd === 'number') {
  const port = parentPort;
  port.on('message', (parts: Uint8Array[]) => {
    try {
      writeAllSync(fd, parts);
    } catch (err) {
      port.postMessage({ error: (err as Error).message });
    }
  });
}
