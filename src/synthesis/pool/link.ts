/**
 * The pool's end of a worker: a worker thread (messages posted, tensor buffers transferred) or a
 * child process (messages framed over a pipe pair, see wire.ts). Both look the same to the pool.
 */
import { Worker } from 'node:worker_threads';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { processExecArgv, threadEntry } from '../../threads/ts-entry.ts';
import { transferables, type FromWorker, type ToWorker } from './protocol.ts';
import { MessageReader, writeMessage } from './wire.ts';

export const WORKER_ENTRY = new URL('./worker-main.ts', import.meta.url);

export interface LinkHandlers {
  message(msg: FromWorker): void;
  /** the worker is gone (crash, exit, kill); called once */
  exit(reason: string): void;
  /** a line the worker printed (native libraries write to stdout/stderr) */
  output?(line: string, stream: 'stdout' | 'stderr'): void;
}

export interface WorkerLink {
  readonly kind: 'thread' | 'process';
  readonly pid: number;
  send(msg: ToWorker): void;
  /** ends the worker; resolves once it is gone */
  terminate(): Promise<void>;
}

/** How long a closing worker thread may finish its native call (a large network's load) before it is terminated. */
export const THREAD_CLOSE_GRACE_MS = 60_000;

export interface LinkOptions {
  closeGraceMs?: number;
  testHooks?: boolean;
  /** extra environment for a process worker (e.g. what selects its GPU) */
  env?: Record<string, string>;
  entry?: URL;
}

function forwardLines(stream: Readable | null, name: 'stdout' | 'stderr', handlers: LinkHandlers): void {
  if (!stream) return;
  createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
    if (line.trim().length > 0) handlers.output?.(line, name);
  });
}

export function startThread(handlers: LinkHandlers, opts: LinkOptions = {}): WorkerLink {
  const entry = opts.entry ?? WORKER_ENTRY;
  const { script, options } = threadEntry(entry);
  const worker = new Worker(script, {
    ...options,
    workerData: { testHooks: Boolean(opts.testHooks) },
    stdout: true,
    stderr: true,
  });
  forwardLines(worker.stdout, 'stdout', handlers);
  forwardLines(worker.stderr, 'stderr', handlers);
  let gone = false;
  let lastError: Error | undefined;
  const exited = new Promise<void>((resolve) => {
    worker.on('error', (err) => {
      lastError = err;
    });
    worker.on('exit', (code) => {
      resolve();
      if (gone) return;
      gone = true;
      handlers.exit(lastError ? `thread crashed: ${lastError.message}` : `thread exited with code ${code}`);
    });
  });
  worker.on('message', (msg: FromWorker) => handlers.message(msg));
  return {
    kind: 'thread',
    pid: process.pid,
    send(msg) {
      if (gone) return;
      worker.postMessage(msg, transferables(msg));
    },
    async terminate() {
      if (gone) return exited;
      gone = true;
      // a thread stopped inside onnxruntime-node takes the process down: it exits itself once the
      // native call under way returns; terminate() only for a thread that hangs there
      worker.postMessage({ t: 'close' } satisfies ToWorker);
      const timer = setTimeout(() => void worker.terminate(), opts.closeGraceMs ?? THREAD_CLOSE_GRACE_MS);
      await exited;
      clearTimeout(timer);
    },
  };
}

export function startProcess(handlers: LinkHandlers, opts: LinkOptions = {}): WorkerLink {
  const entry = opts.entry ?? WORKER_ENTRY;
  // its own process group: a Ctrl-C at the terminal reaches the daemon alone, whose stop ends the
  // worker once no frame needs it (sharing the group, it died at once and the pool restarted it
  // mid-stop). A daemon gone outright closes fd 3, and the worker exits on its end (worker-main.ts)
  const child: ChildProcess = spawn(process.execPath, [...processExecArgv(entry), fileURLToPath(entry)], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'],
    env: { ...process.env, ...opts.env, GANCE_SYNTH_WORKER: 'process', GANCE_SYNTH_TEST_HOOKS: opts.testHooks ? '1' : '0' },
  });
  const toChild = child.stdio[3] as Writable;
  const fromChild = child.stdio[4] as Readable;
  forwardLines(child.stdout, 'stdout', handlers);
  forwardLines(child.stderr, 'stderr', handlers);
  const reader = new MessageReader((msg) => handlers.message(msg as FromWorker));
  fromChild.on('data', (chunk: Buffer) => reader.push(chunk));
  // a dead child makes its pipes error; the exit event says what happened
  toChild.on('error', () => {});
  fromChild.on('error', () => {});
  let gone = false;
  let writing: Promise<void> = Promise.resolve();
  const exited = new Promise<void>((resolve) => {
    const done = (reason: string) => {
      resolve();
      if (gone) return;
      gone = true;
      handlers.exit(reason);
    };
    child.on('exit', (code, signal) => done(signal ? `process killed by ${signal}` : `process exited with code ${code}`));
    child.on('error', (err) => done(`process failed: ${err.message}`));
  });
  return {
    kind: 'process',
    pid: child.pid ?? -1,
    send(msg) {
      if (gone) return;
      writing = writing.then(() => writeMessage(toChild, msg)).catch(() => {});
    },
    async terminate() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      gone = true;
      toChild.end();
      // nothing in a worker needs saving, and a load or run in native code would hold off a polite exit
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
      await exited;
      clearTimeout(timer);
    },
  };
}
