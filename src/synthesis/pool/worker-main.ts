/**
 * Entry of an inference worker, as a worker thread (CPU provider) or as a child process (one per
 * GPU for WebGPU, whose context is process-wide; such a process hosts either onnxruntime or the webgpu
 * engine, as GANCE_SYNTH_ENGINE says). The pool starts this file; it is not imported.
 */
import { isMainThread, parentPort, threadId, workerData } from 'node:worker_threads';
import { Socket } from 'node:net';
import { transferables, type FromWorker, type ToWorker } from './protocol.ts';
import { MessageReader } from './wire.ts';
import { startPipeWriter } from './pipe-writer.ts';

/** fds a process worker talks on (stdio 3 and 4 of the child), see process-link.ts */
export const PROCESS_IN_FD = 3;
export const PROCESS_OUT_FD = 4;

function die(how: 'exit' | 'throw' | 'abort'): never {
  if (how === 'abort') process.abort();
  if (how === 'exit') process.exit(70);
  throw new Error('synthesis worker: crash requested by a test');
}

if (!isMainThread && parentPort) {
  const port = parentPort;
  const testHooks = Boolean((workerData as { testHooks?: boolean } | undefined)?.testHooks);
  const send = (msg: FromWorker) => port.postMessage(msg, transferables(msg));
  const { SessionHost } = await import('./session-host.ts');
  const host = new SessionHost(send, testHooks, die);
  port.on('message', (msg: ToWorker) => {
    if (msg.t === 'close') void host.close().then(() => process.exit(0));
    else host.receive(msg);
  });
  send({ t: 'hello', pid: process.pid, threadId });
} else if (process.env.GANCE_SYNTH_WORKER === 'process') {
  const testHooks = process.env.GANCE_SYNTH_TEST_HOOKS === '1';
  const input = new Socket({ fd: PROCESS_IN_FD, readable: true, writable: false });
  // answers go out from a writer thread (see pipe-writer.ts); a pool that is gone ends this process
  const writer = startPipeWriter(PROCESS_OUT_FD, () => process.exit(0));
  const send = (msg: FromWorker) => writer.send(msg);
  // a process hosts one engine: onnxruntime, or the WGSL kernels (each loads only its own native module)
  const host =
    process.env.GANCE_SYNTH_ENGINE === 'webgpu'
      ? new (await import('../webgpu/host.ts')).WebGpuHost(send, testHooks, die)
      : new (await import('./session-host.ts')).SessionHost(send, testHooks, die);
  const reader = new MessageReader((msg) => host.receive(msg as ToWorker));
  input.on('data', (chunk: Buffer) => reader.push(chunk));
  // the pool closing our input (or dying) is the signal to go
  input.on('end', () => process.exit(0));
  input.on('error', () => process.exit(0));
  send({ t: 'hello', pid: process.pid, threadId: 0 });
}
