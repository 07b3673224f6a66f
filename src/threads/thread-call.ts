/** One request to a worker thread and its reply, matched by id (workers answer `{ id, ok, result | error }`). */
import type { Worker } from 'node:worker_threads';

let nextId = 0;

export function callWorker<T>(w: Worker, msg: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<T> {
  const id = nextId++;
  return new Promise<T>((resolve, reject) => {
    const done = () => {
      w.off('message', onMessage);
      w.off('error', onError);
      w.off('exit', onExit);
    };
    const onMessage = (m: { id: number; ok: boolean; result?: T; error?: string }) => {
      if (m.id !== id) return;
      done();
      if (m.ok) resolve(m.result as T);
      else reject(new Error(m.error));
    };
    const onError = (e: Error) => {
      done();
      reject(e);
    };
    // a thread that ends without an error event (terminated, process.exit) must not leave the call hanging
    const onExit = (code: number) => {
      done();
      reject(new Error(`worker thread exited (code ${code}) before answering`));
    };
    w.on('message', onMessage);
    w.on('error', onError);
    w.on('exit', onExit);
    if (w.threadId === -1) {
      onExit(-1);
      return;
    }
    w.postMessage({ ...msg, id }, transfer);
  });
}

/** The reply a worker posts for a job, ok or not. */
export function reply(post: (m: unknown, transfer?: ArrayBuffer[]) => void, id: number, work: () => { result?: unknown; transfer?: ArrayBuffer[] }): void {
  try {
    const { result, transfer } = work();
    post({ id, ok: true, result }, transfer ?? []);
  } catch (err) {
    post({ id, ok: false, error: err instanceof Error ? err.message : String(err) });
  }
}
