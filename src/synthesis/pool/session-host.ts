/**
 * The worker side: holds the inference sessions of one worker (thread or process) and answers the
 * pool's messages one at a time. This is the only code that calls `session.run`, and it never runs
 * on the daemon's main thread.
 */
import * as ort from 'onnxruntime-node';
import type { FromWorker, LoadRequest, ProviderAttempt, ProviderSpec, TensorMsg, TensorType, ToWorker, ValueMeta } from './protocol.ts';
import { CrashHooks, type CrashHow } from './crash-hooks.ts';
import { deviceSelectProblem } from '../webgpu/device-select.ts';

type Send = (msg: FromWorker) => void;

/** Session options for one provider attempt. */
export function providerOption(spec: ProviderSpec, cpuNodes: readonly string[] = []): ort.InferenceSession.ExecutionProviderConfig {
  if (spec.name === 'cpu') return 'cpu';
  if (spec.name === 'cuda') return { name: 'cuda', deviceId: spec.deviceId ?? 0, ...(spec.options ?? {}) } as ort.InferenceSession.ExecutionProviderConfig;
  // webgpu in onnxruntime-node 1.30 rejects deviceId; the GPU is chosen by the process environment
  return {
    name: 'webgpu',
    ...(cpuNodes.length > 0 ? { forceCpuNodeNames: [...cpuNodes] } : {}),
    ...(spec.options ?? {}),
  } as ort.InferenceSession.ExecutionProviderConfig;
}

function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n').map((l) => l.trim()).find((l) => l.length > 0) ?? text;
}

/** onnxruntime's own messages for a missing provider are cryptic; say what is missing. */
function explainProviderError(spec: ProviderSpec, message: string): string {
  if (spec.name === 'cuda' && /Failed to load shared library|libonnxruntime_providers/.test(message)) {
    return `CUDA provider libraries are not installed (onnxruntime-node downloads them at install time unless ONNXRUNTIME_NODE_INSTALL=skip; they also need CUDA 12 + cuDNN 9): ${message}`;
  }
  if (spec.name === 'webgpu' && /adapter/i.test(message)) return `no WebGPU (Vulkan) adapter on this machine: ${message}`;
  return message;
}

/**
 * onnxruntime's WebGPU provider opens whatever the device-select layer gives it, and the layer falls
 * back to its default GPU, silently, when the GPU this process's env names (DRI_PRIME, derived from
 * the worker's `gpu`, or MESA_VK_DEVICE_SELECT) is not among those it offers: four workers would
 * share one GPU with nothing said. Checked once per process (the layer's list does not change, and
 * listing takes a child process).
 */
let bindingProblem: { problem: string | undefined } | undefined;
function webgpuBindingProblem(): string | undefined {
  bindingProblem ??= { problem: deviceSelectProblem(process.env) };
  return bindingProblem.problem;
}

/** Tries each provider in order; the first that creates a session wins. */
export async function createSession(
  path: string,
  providers: readonly ProviderSpec[],
  intraOpThreads: number,
  cpuNodes: readonly string[] = [],
): Promise<{ session: ort.InferenceSession; provider: string; attempts: ProviderAttempt[] }> {
  const attempts: ProviderAttempt[] = [];
  for (const spec of providers) {
    const bound = spec.name === 'webgpu' ? webgpuBindingProblem() : undefined;
    if (bound) {
      attempts.push({ provider: spec.name, error: `no WebGPU adapter as bound: ${bound}` });
      continue;
    }
    try {
      const session = await ort.InferenceSession.create(path, {
        executionProviders: [providerOption(spec, cpuNodes)],
        graphOptimizationLevel: 'all',
        ...(intraOpThreads > 0 ? { intraOpNumThreads: intraOpThreads } : {}),
        logSeverityLevel: 3,
      });
      return { session, provider: spec.name, attempts };
    } catch (err) {
      attempts.push({ provider: spec.name, error: explainProviderError(spec, firstLine(err)) });
    }
  }
  const tried = attempts.map((a) => `${a.provider}: ${a.error}`).join('; ');
  throw Object.assign(new Error(`no execution provider could load ${path} (${tried})`), { attempts });
}

function meta(list: readonly ort.InferenceSession.ValueMetadata[]): ValueMeta[] {
  return list.map((m) => (m.isTensor ? { name: m.name, type: m.type, shape: [...m.shape] } : { name: m.name, type: 'non-tensor', shape: [] }));
}

/** Deterministic filler for warm-up feeds (a small LCG: no dependence on Math.random). */
function warmupData(type: TensorType, length: number, seed: number): TensorMsg['data'] {
  let s = seed >>> 0 || 1;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  switch (type) {
    case 'float32':
      return Float32Array.from({ length }, () => next() * 2 - 1);
    case 'float16':
      return new Uint16Array(length); // zeros: a valid half for any graph
    case 'uint8':
      return Uint8Array.from({ length }, () => Math.floor(next() * 256));
    case 'int32':
      return new Int32Array(length);
    case 'int64':
      return new BigInt64Array(length);
  }
}

function toOrt(t: TensorMsg): ort.Tensor {
  return new ort.Tensor(t.type, t.data as never, t.dims);
}

function fromOrt(name: string, value: ort.OnnxValue): TensorMsg {
  const tensor = value as ort.Tensor;
  return { name, type: tensor.type as TensorType, dims: [...tensor.dims], data: tensor.data as TensorMsg['data'] };
}

export class SessionHost {
  private readonly sessions = new Map<string, ort.InferenceSession>();
  private chain: Promise<void> = Promise.resolve();
  private readonly crash: CrashHooks;
  private slowMs = 0;

  constructor(
    private readonly send: Send,
    testHooks: boolean,
    die: (how: CrashHow) => void,
  ) {
    this.crash = new CrashHooks(testHooks, die);
  }

  private closing = false;

  /** Messages are handled strictly in arrival order: a run never overlaps a load. */
  receive(msg: ToWorker): void {
    // once closing, queued work is skipped: the pool has already settled (requeued) its frames
    this.chain = this.chain.then(() => (this.closing ? undefined : this.handle(msg)));
  }

  /**
   * Ends this host once the native call under way (a load, a warm-up, a run) has returned, with
   * every session released. A worker thread stopped inside onnxruntime-node aborts the whole
   * process (its completion throws into a torn-down environment), so a thread is only ended after this.
   */
  close(): Promise<void> {
    this.closing = true;
    this.chain = this.chain.then(async () => {
      const sessions = [...this.sessions.values()];
      this.sessions.clear();
      await Promise.all(sessions.map((s) => s.release().catch(() => {})));
    });
    return this.chain;
  }

  private async handle(msg: ToWorker): Promise<void> {
    switch (msg.t) {
      case 'load':
        return this.load(msg);
      case 'unload': {
        const session = this.sessions.get(msg.key);
        this.sessions.delete(msg.key);
        await session?.release();
        return;
      }
      case 'run':
        if (this.crash.diesOnRun()) return;
        if (this.slowMs > 0) await new Promise((r) => setTimeout(r, this.slowMs));
        return this.run(msg.id, msg.key, msg.feeds, msg.fetch);
      case 'slow':
        if (this.crash.enabled) this.slowMs = msg.ms;
        return;
      case 'crash':
        this.crash.request(msg);
        return;
    }
  }

  private async load(req: LoadRequest): Promise<void> {
    const t0 = performance.now();
    let created;
    try {
      created = await createSession(req.path, req.providers, req.intraOpThreads, req.cpuNodes);
    } catch (err) {
      this.send({ t: 'load-failed', key: req.key, message: firstLine(err), attempts: (err as { attempts?: ProviderAttempt[] }).attempts ?? [] });
      return;
    }
    const { session, provider, attempts } = created;
    const loadMs = performance.now() - t0;
    const t1 = performance.now();
    try {
      for (let r = 0; r < req.warmup.runs; r++) {
        for (const shape of req.warmup.shapes) {
          const feeds: Record<string, ort.Tensor> = {};
          shape.forEach((f, i) => {
            const n = f.dims.reduce((a, b) => a * b, 1);
            feeds[f.name] = new ort.Tensor(f.type, warmupData(f.type, n, 1 + i + r) as never, f.dims);
          });
          await session.run(feeds);
        }
      }
    } catch (err) {
      await session.release();
      this.send({ t: 'load-failed', key: req.key, message: `warm-up failed: ${firstLine(err)}`, attempts });
      return;
    }
    const previous = this.sessions.get(req.key);
    this.sessions.set(req.key, session);
    await previous?.release();
    this.send({
      t: 'loaded',
      key: req.key,
      provider,
      attempts,
      inputs: meta(session.inputMetadata),
      outputs: meta(session.outputMetadata),
      loadMs,
      warmupMs: performance.now() - t1,
    });
  }

  private async run(id: number, key: string, feeds: TensorMsg[], fetch: string[]): Promise<void> {
    const session = this.sessions.get(key);
    if (!session) {
      this.send({ t: 'run-failed', id, message: `network "${key}" is not loaded in this worker` });
      return;
    }
    try {
      const input: Record<string, ort.Tensor> = {};
      for (const f of feeds) input[f.name] = toOrt(f);
      const t0 = performance.now();
      const out = fetch.length > 0 ? await session.run(input, fetch) : await session.run(input);
      const runMs = performance.now() - t0;
      this.send({ t: 'result', id, runMs, outputs: Object.entries(out).map(([name, value]) => fromOrt(name, value)) });
    } catch (err) {
      this.send({ t: 'run-failed', id, message: firstLine(err) });
    }
  }
}
