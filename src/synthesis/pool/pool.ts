/**
 * The inference pool: frames go in on the main thread, pixels come back on the main thread, and
 * every `session.run` happens in a worker (a thread for the CPU provider, a process per GPU for
 * WebGPU). It batches what is queued, keeps results in submit order (see `stream`), restarts a
 * worker that dies and retries the frames it held, and swaps networks between frames: the next
 * network loads in fresh workers in the background and the switch happens at one point in the
 * frame sequence, so no frame is lost and no batch mixes networks.
 */
import { setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import type { SynthesisMetrics } from '../metrics.ts';
import { startProcess, startThread, type WorkerLink } from './link.ts';
import type { AdapterInfo, AdapterSpec, EngineName, FromWorker, ProviderAttempt, ProviderSpec, TensorData, TensorMsg, TensorType, ValueMeta } from './protocol.ts';
import { bindWorkerEnv, queryGpuBuses, type GpuBindingSpec, type GpuBus, type WorkerBinding } from '../webgpu/gpu-binding.ts';

/** The pool was closed (stop, a local render ending) while this waited: the end of the work, not its failure. */
export class PoolClosedError extends Error {
  constructor() {
    super('synthesis pool closed');
    this.name = 'PoolClosedError';
  }
}

export interface WorkerSpec {
  /** stable name: metric label, logs, API */
  id: string;
  /** tried in order for every network the worker loads */
  providers: ProviderSpec[];
  isolation: 'thread' | 'process';
  /** onnxruntime intra-op threads; 0 lets onnxruntime choose */
  intraOpThreads: number;
  /** extra environment of a process worker (what selects its GPU, for instance) */
  env?: Record<string, string>;
  /** onnx (default): onnxruntime with `providers`; webgpu: the WGSL engine (process isolation only) */
  engine?: EngineName;
  /** webgpu engine: the adapter to open */
  adapter?: AdapterSpec;
  /** a WebGPU worker bound to a GPU by its nvidia-smi index: its env gets the GPU's bus (see webgpu/gpu-binding.ts) */
  gpuBinding?: GpuBindingSpec;
}

export interface NetworkInput {
  name: string;
  type: TensorType;
  /** shape of one frame's value, batch dimension left out */
  dims: number[];
}

export interface PoolNetwork {
  id: string;
  path: string;
  /** every input the graph takes, each with a leading batch dimension */
  inputs: NetworkInput[];
  /** outputs to compute and return (empty: all) */
  fetch: string[];
  /** the graph's fixed batch size, if it has one: smaller batches are padded to it */
  batch?: number | null;
  /** nodes to keep on the CPU when the provider is WebGPU (the sidecar's host nodes) */
  cpuNodes?: string[];
}

export type FrameFeeds = Record<string, TensorData>;

export interface FrameRequest {
  feeds: FrameFeeds;
  /** network to render with; the active network when left out */
  network?: string;
  /**
   * A live session's frame: it goes ahead of every queued frame that is not (a render's), which
   * wait until no live frame is queued. Without it a live session got its frames after a whole
   * render window each (3.4 of 30 fps while a render ran on the same workers). Frames already in
   * a worker are not preempted: a live session holds the pool (`holdLive`) so that a worker has at
   * most one render batch to finish before a live frame.
   */
  live?: boolean;
}

export interface FrameTensor {
  type: TensorType;
  /** shape of this frame's value (batch dimension left out) */
  dims: number[];
  /**
   * A view, not a copy: the frames of one batch share one buffer that came from the worker without
   * copying. Slice it before transferring it elsewhere.
   */
  data: TensorData;
}

export interface Frame {
  seq: number;
  network: string;
  worker: string;
  /** frames that shared this frame's inference call */
  batchSize: number;
  /**
   * What made it: the worker as it had the network loaded then (provider after any fallback,
   * adapter, binding). One object per load, shared by its frames: a worker restarted mid-render
   * (and perhaps fallen back to another provider) gives its later frames another one.
   */
  origin: LoadedOn;
  outputs: Record<string, FrameTensor>;
}

export interface PoolOptions {
  workers: WorkerSpec[];
  log: Logger;
  metrics?: SynthesisMetrics;
  /** most frames per inference call */
  maxBatch?: number;
  /** batches handed to one worker before it answers (2 keeps it busy while a result travels) */
  pipelineDepth?: number;
  /** warm-up runs per batch size (1 and maxBatch) when a network loads */
  warmupRuns?: number;
  /** tries per frame when workers crash under it */
  maxAttempts?: number;
  restartDelayMs?: number;
  restartMaxDelayMs?: number;
  loadTimeoutMs?: number;
  /** lets tests make workers crash on purpose */
  testHooks?: boolean;
  /** called when a frame is submitted after `busyAfterIdleMs` without any (and for the first frame) */
  onBusy?: () => void;
  busyAfterIdleMs?: number;
}

export interface LoadedOn {
  worker: string;
  provider: string;
  engine: EngineName;
  /** webgpu engine: the adapter the worker opened */
  adapter?: AdapterInfo;
  /** how the worker process was bound to its GPU (derived from `gpu`, or its own env) */
  binding?: WorkerBinding;
  /** the providers tried before `provider` and why each could not be used (absent: the first one worked) */
  fallback?: ProviderAttempt[];
  pid: number;
  isolation: 'thread' | 'process';
}

export class NetworkLoadError extends Error {
  constructor(
    message: string,
    readonly failures: Array<{ worker: string; message: string; attempts: ProviderAttempt[] }>,
  ) {
    super(message);
    this.name = 'NetworkLoadError';
  }
}

interface PendingFrame {
  seq: number;
  live: boolean;
  network: string;
  feeds: FrameFeeds;
  submittedAt: number;
  attempts: number;
  settled: boolean;
  resolve(frame: Frame): void;
  reject(err: Error): void;
  detach(): void;
}

interface Batch {
  id: number;
  network: string;
  /** a live session's frames (a batch never mixes live and render frames) */
  live: boolean;
  frames: PendingFrame[];
}

interface LoadedNetwork {
  provider: string;
  engine: EngineName;
  adapter?: AdapterInfo;
  inputs: ValueMeta[];
  outputs: ValueMeta[];
  /** where it is loaded, as loadedNetworks() reports it and its frames carry it */
  on: LoadedOn;
}

type HandleState = 'loading' | 'ready' | 'retiring' | 'dead';

interface WorkerHandle {
  slot: Slot;
  gen: number;
  link: WorkerLink;
  binding?: WorkerBinding;
  state: HandleState;
  inflight: Map<number, Batch>;
  loaded: Map<string, LoadedNetwork>;
  waiters: Map<string, { resolve(n: LoadedNetwork): void; reject(e: Error): void }>;
}

interface Slot {
  spec: WorkerSpec;
  current: WorkerHandle | undefined;
  /** bumped whenever `current` is replaced by a load, so a late restart does not overwrite it */
  epoch: number;
  failures: number;
  restartTimer: NodeJS.Timeout | undefined;
}

const TYPED: Record<TensorType, { new (n: number): TensorData; name: string }> = {
  float32: Float32Array,
  float16: Uint16Array,
  uint8: Uint8Array,
  int32: Int32Array,
  int64: BigInt64Array,
};

const numel = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);

function abortError(signal: AbortSignal): Error {
  const reason = signal.reason as unknown;
  if (reason instanceof Error) return reason;
  const err = new Error(typeof reason === 'string' ? reason : 'frame cancelled');
  err.name = 'AbortError';
  return err;
}

export class SynthesisPool {
  private readonly opts: Required<Omit<PoolOptions, 'metrics' | 'onBusy'>> & Pick<PoolOptions, 'metrics' | 'onBusy'>;
  private readonly slots: Slot[];
  private readonly handles = new Set<WorkerHandle>();
  private readonly networks = new Map<string, PoolNetwork>();
  /** networks on their way out: no new frames, the queued ones still render */
  private readonly unloading = new Set<string>();
  private readonly queue: PendingFrame[] = [];
  private activeId: string | undefined;
  private seq = 0;
  private lastSubmitAt = -Infinity;
  private batchSeq = 0;
  private gen = 0;
  private rr = 0;
  private closed = false;
  /** live sessions on (holdLive): while any is, a worker gets one render batch at a time */
  private liveHolds = 0;
  /** loads and unloads one at a time, so each sees the last one's network set */
  private mutex: Promise<unknown> = Promise.resolve();
  /** nvidia-smi's GPU buses per command, once per pool (bus ids do not change; a failed query is asked again) */
  private readonly buses = new Map<string, Promise<GpuBus[]>>();

  constructor(options: PoolOptions) {
    if (options.workers.length === 0) throw new Error('synthesis pool: no workers configured');
    const ids = new Set<string>();
    for (const w of options.workers) {
      if (ids.has(w.id)) throw new Error(`synthesis pool: duplicate worker id "${w.id}"`);
      ids.add(w.id);
      if (w.providers.length === 0) throw new Error(`synthesis pool: worker "${w.id}" has no execution providers`);
    }
    this.opts = {
      maxBatch: 4,
      pipelineDepth: 2,
      warmupRuns: 1,
      maxAttempts: 3,
      restartDelayMs: 200,
      restartMaxDelayMs: 10_000,
      loadTimeoutMs: 300_000,
      testHooks: false,
      busyAfterIdleMs: 10_000,
      ...options,
    };
    this.slots = options.workers.map((spec) => ({ spec, current: undefined, epoch: 0, failures: 0, restartTimer: undefined }));
  }

  get log(): Logger {
    return this.opts.log;
  }

  get active(): string | undefined {
    return this.activeId;
  }

  get workerIds(): string[] {
    return this.slots.map((s) => s.spec.id);
  }

  /** Every worker is up with every loaded network warmed, and there is an active network. */
  isReady(): boolean {
    return this.activeId !== undefined && this.slots.every((s) => s.current?.state === 'ready');
  }

  /** Where each loaded network is loaded, and with which provider. */
  loadedNetworks(): Map<string, LoadedOn[]> {
    const out = new Map<string, LoadedOn[]>();
    for (const id of this.networks.keys()) {
      const where: LoadedOn[] = [];
      for (const slot of this.slots) {
        const h = slot.current;
        const loaded = h?.state === 'ready' ? h.loaded.get(id) : undefined;
        if (h && loaded) where.push(loaded.on);
      }
      out.set(id, where);
    }
    return out;
  }

  isLoaded(id: string): boolean {
    return this.networks.has(id) && !this.unloading.has(id);
  }

  /**
   * Loads a network in every worker, in the background: fresh workers load and warm it (with the
   * networks already loaded) while the current ones keep rendering, then all switch over at once.
   * If any worker cannot load it, nothing changes and the error says which worker and why.
   */
  load(net: PoolNetwork, opts: { reload?: boolean } = {}): Promise<void> {
    return this.exclusive(async () => {
      this.assertOpen();
      if (this.networks.has(net.id) && !opts.reload) return;
      const set = [...[...this.networks.values()].filter((n) => n.id !== net.id), net];
      const spawned = await Promise.allSettled(this.slots.map((slot) => this.spawn(slot, set)));
      const failures = spawned.flatMap((r, i) => (r.status === 'rejected' ? [{ slot: this.slots[i]!, err: r.reason as Error }] : []));
      if (failures.length > 0 || this.closed) {
        await Promise.all(spawned.map((r) => (r.status === 'fulfilled' ? this.dispose(r.value) : undefined)));
        if (this.closed) throw new PoolClosedError();
        const list = failures.map((f) => ({
          worker: f.slot.spec.id,
          message: f.err.message,
          attempts: (f.err as { attempts?: ProviderAttempt[] }).attempts ?? [],
        }));
        throw new NetworkLoadError(
          `network "${net.id}" (${net.path}) could not be loaded: ${list.map((f) => `worker ${f.worker}: ${f.message}`).join('; ')}`,
          list,
        );
      }
      this.networks.set(net.id, net);
      this.slots.forEach((slot, i) => {
        const fresh = (spawned[i] as PromiseFulfilledResult<WorkerHandle>).value;
        const old = slot.current;
        slot.current = fresh;
        slot.epoch++;
        fresh.state = 'ready';
        if (slot.restartTimer) {
          clearTimeout(slot.restartTimer);
          slot.restartTimer = undefined;
        }
        if (old) this.retire(old);
      });
      this.opts.metrics?.networksLoaded.set(this.networks.size);
      this.pump();
    });
  }

  /** Frames submitted from now on without a network use this one. */
  activate(id: string): void {
    if (!this.isLoaded(id)) throw new Error(`network "${id}" is not loaded (loaded: ${[...this.networks.keys()].join(', ') || 'none'})`);
    this.activeId = id;
  }

  /**
   * Hot swap: load `net` in the background, make it active between two frames, then unload the
   * previous network once the frames submitted for it are done (unless told to keep it).
   */
  async swap(net: PoolNetwork, opts: { keepPrevious?: boolean } = {}): Promise<void> {
    await this.load(net);
    const previous = this.activeId;
    this.activate(net.id);
    if (previous !== undefined && previous !== net.id && !opts.keepPrevious) await this.unload(previous);
  }

  /** Releases a network once no queued or running frame needs it. The active network cannot go. */
  unload(id: string): Promise<void> {
    return this.exclusive(async () => {
      if (id === this.activeId) throw new Error(`network "${id}" is active; activate another one first`);
      if (!this.networks.has(id)) return;
      this.unloading.add(id);
      while (this.usesNetwork(id)) await new Promise((r) => setTimeout(r, 5));
      this.networks.delete(id);
      this.unloading.delete(id);
      this.opts.metrics?.networksLoaded.set(this.networks.size);
      for (const h of this.handles) {
        if (h.loaded.delete(id)) h.link.send({ t: 'unload', key: id });
      }
    });
  }

  /**
   * A live session is on until the returned release is called (again: nothing). Meanwhile each
   * worker is handed at most one render batch at a time, so a live frame waits for at most the one
   * a worker is running, not `pipelineDepth` of them: a batch sent to a worker cannot be taken back,
   * and with two there a live frame waited for both (a stutter on stage while a render ran). The
   * price is the render's pipelining (a worker idles while a result travels) while a session is on;
   * with none, render batches fill every worker's pipeline again.
   */
  holdLive(): () => void {
    this.liveHolds++;
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.liveHolds--;
      if (this.liveHolds === 0) this.pump();
    };
  }

  /** Queues one frame; resolves with its outputs (see `stream` for results in submit order). */
  submit(request: FrameRequest, opts: { signal?: AbortSignal } = {}): Promise<Frame> {
    const { signal } = opts;
    if (this.closed) return Promise.reject(new PoolClosedError());
    if (signal?.aborted) return Promise.reject(abortError(signal));
    const network = request.network ?? this.activeId;
    let net: PoolNetwork | undefined;
    try {
      if (network === undefined) throw new Error('no network is active: load and activate one first');
      net = this.networks.get(network);
      if (!net || this.unloading.has(network)) {
        const loaded = [...this.networks.keys()].filter((id) => !this.unloading.has(id));
        throw new Error(`network "${network}" is not loaded (loaded: ${loaded.join(', ') || 'none'})`);
      }
      checkFeeds(net, request.feeds);
    } catch (err) {
      return Promise.reject(err);
    }
    const now = performance.now();
    if (this.opts.onBusy && now - this.lastSubmitAt >= this.opts.busyAfterIdleMs) {
      try {
        this.opts.onBusy();
      } catch (err) {
        this.opts.log.warn({ err: (err as Error).message }, 'synthesis pool: the busy callback failed');
      }
    }
    this.lastSubmitAt = now;
    return new Promise<Frame>((resolve, reject) => {
      const frame: PendingFrame = {
        seq: this.seq++,
        live: request.live === true,
        network: net.id,
        feeds: request.feeds,
        submittedAt: performance.now(),
        attempts: 0,
        settled: false,
        resolve: (f) => {
          if (frame.settled) return;
          frame.settled = true;
          frame.detach();
          resolve(f);
        },
        reject: (e) => {
          if (frame.settled) return;
          frame.settled = true;
          frame.detach();
          reject(e);
        },
        detach: () => {},
      };
      if (signal) {
        const onAbort = () => {
          const at = this.queue.indexOf(frame);
          if (at >= 0) this.queue.splice(at, 1);
          // a frame already in a worker finishes there; its result is dropped
          frame.reject(abortError(signal));
        };
        signal.addEventListener('abort', onAbort, { once: true });
        frame.detach = () => signal.removeEventListener('abort', onAbort);
      }
      this.enqueue(frame);
      this.pump();
    });
  }

  /**
   * Renders a sequence of frames and yields them in submit order, with back-pressure: at most
   * `window` frames are in the pool at once. Ending the loop early or aborting cancels the rest.
   */
  async *stream(source: AsyncIterable<FrameRequest> | Iterable<FrameRequest>, opts: { signal?: AbortSignal; window?: number } = {}): AsyncGenerator<Frame> {
    const window = opts.window ?? this.slots.length * this.opts.pipelineDepth * this.opts.maxBatch;
    const own = new AbortController();
    const signal = opts.signal ? AbortSignal.any([opts.signal, own.signal]) : own.signal;
    setMaxListeners(0, signal); // one listener per frame in flight, all removed as frames settle
    const pending: Array<Promise<Frame>> = [];
    try {
      for await (const request of source) {
        if (signal.aborted) throw abortError(signal);
        const p = this.submit(request, { signal });
        p.catch(() => {}); // awaited below, in order; this only keeps a later rejection from counting as unhandled
        pending.push(p);
        while (pending.length >= window) yield await pending.shift()!;
      }
      while (pending.length > 0) yield await pending.shift()!;
    } finally {
      own.abort(new Error('stream ended'));
    }
  }

  /** Test hook: make one worker die, now or on its next inference call. */
  crashWorker(workerId: string, how: 'exit' | 'throw' | 'abort', onRun = false): void {
    const slot = this.slots.find((s) => s.spec.id === workerId);
    if (!slot?.current) throw new Error(`no running worker "${workerId}"`);
    slot.current.link.send({ t: 'crash', how, onRun });
  }

  /** Test hook: make one worker sleep before each inference call. */
  slowWorker(workerId: string, ms: number): void {
    const slot = this.slots.find((s) => s.spec.id === workerId);
    if (!slot?.current) throw new Error(`no running worker "${workerId}"`);
    slot.current.link.send({ t: 'slow', ms });
  }

  /** pid of the worker serving a slot (the daemon's own pid for a thread worker). */
  workerPid(workerId: string): number | undefined {
    return this.slots.find((s) => s.spec.id === workerId)?.current?.link.pid;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const slot of this.slots) clearTimeout(slot.restartTimer);
    for (const frame of this.queue.splice(0)) frame.reject(new PoolClosedError());
    const handles = [...this.handles];
    for (const h of handles) {
      for (const batch of h.inflight.values()) for (const f of batch.frames) f.reject(new PoolClosedError());
    }
    // a worker thread ends itself once its native call under way returns (see link.ts); results
    // that still arrive are for settled frames and dropped
    await Promise.all(handles.map((h) => this.dispose(h)));
  }

  // --- internals ---

  private assertOpen(): void {
    if (this.closed) throw new PoolClosedError();
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.mutex.then(fn, fn);
    this.mutex = run.catch(() => {});
    return run;
  }

  private usesNetwork(id: string): boolean {
    if (this.queue.some((f) => f.network === id)) return true;
    for (const h of this.handles) for (const b of h.inflight.values()) if (b.network === id) return true;
    return false;
  }

  /** Starts a worker for a slot and loads (and warms) the given networks in it. */
  private async spawn(slot: Slot, networks: PoolNetwork[]): Promise<WorkerHandle> {
    const spec = slot.spec;
    const log = this.opts.log;
    // a binding that cannot be derived fails this worker's load, naming the config field
    const bound = spec.isolation === 'process' ? await bindWorkerEnv(spec.env, spec.gpuBinding, (smi) => this.gpuBuses(smi)) : { env: spec.env ?? {} };
    this.assertOpen();
    const handle: WorkerHandle = {
      slot,
      gen: ++this.gen,
      link: undefined as unknown as WorkerLink,
      state: 'loading',
      inflight: new Map(),
      loaded: new Map(),
      waiters: new Map(),
    };
    const handlers = {
      message: (msg: FromWorker) => this.onMessage(handle, msg),
      exit: (reason: string) => this.onExit(handle, reason),
      output: (line: string, stream: 'stdout' | 'stderr') => log[stream === 'stderr' ? 'warn' : 'debug']({ worker: spec.id, stream }, line),
    };
    const engine = spec.engine ?? 'onnx';
    if (engine === 'webgpu' && spec.isolation !== 'process') throw new Error(`synthesis pool: worker "${spec.id}" runs the webgpu engine, which needs a process of its own`);
    const linkOpts = { testHooks: this.opts.testHooks, env: { ...bound.env, ...(engine === 'webgpu' ? { GANCE_SYNTH_ENGINE: 'webgpu' } : {}) } };
    handle.link = spec.isolation === 'process' ? startProcess(handlers, linkOpts) : startThread(handlers, linkOpts);
    if (bound.binding) handle.binding = bound.binding;
    this.handles.add(handle);
    const loads = networks.map(
      (net) =>
        new Promise<LoadedNetwork>((resolve, reject) => {
          handle.waiters.set(net.id, { resolve, reject });
          handle.link.send({
            t: 'load',
            key: net.id,
            path: net.path,
            providers: spec.providers,
            intraOpThreads: spec.intraOpThreads,
            cpuNodes: net.cpuNodes ?? [],
            engine,
            ...(spec.adapter ? { adapter: spec.adapter } : {}),
            maxBatch: this.batchLimit(net),
            warmup: { runs: this.opts.warmupRuns, shapes: this.warmupShapes(net) },
          });
        }),
    );
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        Promise.all(loads),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`loading ${networks.map((n) => n.id).join(', ')} took longer than ${this.opts.loadTimeoutMs} ms`)),
            this.opts.loadTimeoutMs,
          );
        }),
      ]);
    } catch (err) {
      await this.dispose(handle);
      throw err;
    } finally {
      clearTimeout(timer);
    }
    log.debug({ worker: spec.id, gen: handle.gen, pid: handle.link.pid, isolation: handle.link.kind, binding: handle.binding, networks: networks.map((n) => n.id) }, 'synthesis worker ready');
    return handle;
  }

  private gpuBuses(nvidiaSmi: string): Promise<GpuBus[]> {
    let query = this.buses.get(nvidiaSmi);
    if (!query) {
      query = queryGpuBuses(nvidiaSmi);
      this.buses.set(nvidiaSmi, query);
      query.catch(() => this.buses.delete(nvidiaSmi));
    }
    return query;
  }

  private batchLimit(net: PoolNetwork): number {
    return net.batch ?? this.opts.maxBatch;
  }

  private warmupShapes(net: PoolNetwork) {
    const sizes = net.batch ? [net.batch] : [...new Set([1, this.opts.maxBatch])];
    return sizes.map((n) => net.inputs.map((i) => ({ name: i.name, type: i.type, dims: [n, ...i.dims] })));
  }

  private onMessage(h: WorkerHandle, msg: FromWorker): void {
    const log = this.opts.log;
    const worker = h.slot.spec.id;
    switch (msg.t) {
      case 'hello':
        return;
      case 'loaded': {
        const engine = msg.engine ?? 'onnx';
        const on: LoadedOn = {
          worker,
          provider: msg.provider,
          engine,
          ...(msg.adapter ? { adapter: msg.adapter } : {}),
          ...(h.binding ? { binding: h.binding } : {}),
          ...(msg.attempts.length > 0 ? { fallback: msg.attempts } : {}),
          pid: h.link.pid,
          isolation: h.link.kind,
        };
        const entry: LoadedNetwork = { provider: msg.provider, engine, inputs: msg.inputs, outputs: msg.outputs, on };
        if (msg.adapter) entry.adapter = msg.adapter;
        h.loaded.set(msg.key, entry);
        if (msg.attempts.length > 0) {
          const why = msg.attempts.map((a) => `${a.provider} unavailable (${a.error})`).join('; ');
          log.warn({ worker, network: msg.key, provider: msg.provider, attempts: msg.attempts }, `synthesis worker ${worker}: ${why}; fell back to ${msg.provider} for network "${msg.key}"`);
        }
        // the binding only matters to webgpu: a worker fallen back to cpu is not on that GPU
        const bound = h.binding?.source === 'gpu' && msg.provider === 'webgpu' ? ` (GPU ${h.binding.gpu}: DRI_PRIME=${h.binding.env.DRI_PRIME})` : '';
        log.info(
          { worker, network: msg.key, provider: msg.provider, loadMs: Math.round(msg.loadMs), warmupMs: Math.round(msg.warmupMs), ...(h.binding ? { binding: h.binding } : {}) },
          `synthesis worker ${worker}: network "${msg.key}" loaded on ${msg.provider}${bound} and warmed`,
        );
        const waiter = h.waiters.get(msg.key);
        h.waiters.delete(msg.key);
        waiter?.resolve(entry);
        return;
      }
      case 'load-failed': {
        const waiter = h.waiters.get(msg.key);
        h.waiters.delete(msg.key);
        waiter?.reject(Object.assign(new Error(msg.message), { attempts: msg.attempts }));
        return;
      }
      case 'result':
        return this.onResult(h, msg.id, msg.outputs);
      case 'run-failed': {
        const batch = h.inflight.get(msg.id);
        if (!batch) return;
        h.inflight.delete(msg.id);
        const err = new Error(`synthesis failed on worker ${worker} (network "${batch.network}"): ${msg.message}`);
        for (const f of batch.frames) f.reject(err);
        this.afterBatch(h);
        return;
      }
    }
  }

  private onResult(h: WorkerHandle, id: number, outputs: TensorMsg[]): void {
    const batch = h.inflight.get(id);
    if (!batch) return;
    h.inflight.delete(id);
    const n = batch.frames.length;
    const worker = h.slot.spec.id;
    const now = performance.now();
    // loaded before any batch of it was sent, and kept while one is in flight (unload waits for them)
    const origin = h.loaded.get(batch.network)?.on ?? { worker, provider: 'unknown', engine: h.slot.spec.engine ?? 'onnx', pid: h.link.pid, isolation: h.link.kind };
    h.slot.failures = 0;
    batch.frames.forEach((frame, i) => {
      const out: Record<string, FrameTensor> = {};
      for (const t of outputs) {
        // dims[0] exceeds n when a fixed-batch graph was padded
        const per = t.data.length / (t.dims[0] ?? n);
        out[t.name] = { type: t.type, dims: t.dims.slice(1), data: t.data.subarray(i * per, (i + 1) * per) as TensorData };
      }
      if (!frame.settled) this.opts.metrics?.latency.observe((now - frame.submittedAt) / 1000);
      frame.resolve({ seq: frame.seq, network: batch.network, worker, batchSize: n, origin, outputs: out });
    });
    this.opts.metrics?.frames.inc({ worker }, n);
    this.afterBatch(h);
  }

  private afterBatch(h: WorkerHandle): void {
    if (h.state === 'retiring' && h.inflight.size === 0) void this.dispose(h);
    this.pump();
  }

  private onExit(h: WorkerHandle, reason: string): void {
    const prev = h.state;
    h.state = 'dead';
    this.handles.delete(h);
    const worker = h.slot.spec.id;
    const err = new Error(`worker ${worker} ${reason}`);
    for (const w of h.waiters.values()) w.reject(err);
    h.waiters.clear();
    this.requeue(h, reason);
    if (this.closed) return;
    if (h.slot.current === h) {
      h.slot.current = undefined;
      this.opts.metrics?.restarts.inc({ worker });
      this.opts.log.error({ worker, reason, pid: h.link.pid, wasState: prev }, `synthesis worker ${worker} died (${reason}); restarting it and retrying its frames`);
      this.scheduleRestart(h.slot);
    }
    this.pump();
  }

  /** Frames a dead worker held go back to the queue in sequence order, unless they have had their tries. */
  private requeue(h: WorkerHandle, reason: string): void {
    const back: PendingFrame[] = [];
    for (const batch of h.inflight.values()) {
      for (const f of batch.frames) {
        if (f.settled) continue;
        f.attempts++;
        if (f.attempts >= this.opts.maxAttempts) {
          f.reject(new Error(`frame ${f.seq}: worker ${h.slot.spec.id} died ${f.attempts} times while synthesizing it (last: ${reason})`));
        } else back.push(f);
      }
    }
    h.inflight.clear();
    if (back.length === 0) return;
    this.queue.push(...back);
    this.queue.sort(queueOrder);
  }

  /** Live frames after the live ones queued, ahead of the rest; the rest in submit order. */
  private enqueue(frame: PendingFrame): void {
    if (!frame.live) {
      this.queue.push(frame);
      return;
    }
    const at = this.queue.findIndex((f) => !f.live);
    if (at < 0) this.queue.push(frame);
    else this.queue.splice(at, 0, frame);
  }

  private scheduleRestart(slot: Slot): void {
    slot.failures++;
    const delay = Math.min(this.opts.restartMaxDelayMs, this.opts.restartDelayMs * 2 ** (slot.failures - 1));
    const epoch = slot.epoch;
    clearTimeout(slot.restartTimer);
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      if (this.closed || slot.epoch !== epoch || slot.current) return;
      this.spawn(slot, [...this.networks.values()]).then(
        (h) => {
          if (this.closed || slot.epoch !== epoch || slot.current) {
            void this.dispose(h);
            return;
          }
          h.state = 'ready';
          slot.current = h;
          this.opts.log.info({ worker: slot.spec.id, pid: h.link.pid }, `synthesis worker ${slot.spec.id} restarted`);
          this.pump();
        },
        (err: Error) => {
          if (this.closed || slot.epoch !== epoch) return;
          this.opts.log.error({ worker: slot.spec.id, err: err.message }, `synthesis worker ${slot.spec.id} failed to restart: ${err.message}`);
          this.scheduleRestart(slot);
        },
      );
    }, delay);
  }

  private retire(h: WorkerHandle): void {
    h.state = 'retiring';
    if (h.inflight.size === 0) void this.dispose(h);
  }

  private async dispose(h: WorkerHandle): Promise<void> {
    if (h.state === 'dead') return;
    h.state = 'dead';
    this.handles.delete(h);
    for (const w of h.waiters.values()) w.reject(new Error(`worker ${h.slot.spec.id} stopped while loading`));
    h.waiters.clear();
    this.requeue(h, 'worker stopped');
    await h.link.terminate();
  }

  /**
   * Hands queued frames to workers with room, one batch per worker per round. Room: fewer than
   * `pipelineDepth` batches, and while a live session is on, no render batch for a render frame.
   */
  private pump(): void {
    if (this.closed) return;
    const n = this.slots.length;
    let progressed = true;
    while (progressed && this.queue.length > 0) {
      progressed = false;
      for (let k = 0; k < n && this.queue.length > 0; k++) {
        const h = this.slots[(this.rr + k) % n]!.current;
        if (!h || h.state !== 'ready' || h.inflight.size >= this.opts.pipelineDepth) continue;
        // live frames go first in the queue, so a render frame at its head means none is waiting
        if (this.liveHolds > 0 && !this.queue[0]!.live && hasRenderBatch(h)) continue;
        const batch = this.takeBatch(h);
        if (!batch) continue;
        this.dispatch(h, batch);
        progressed = true;
      }
      this.rr = (this.rr + 1) % n;
    }
  }

  private takeBatch(h: WorkerHandle): Batch | undefined {
    const head = this.queue[0]!;
    if (!h.loaded.has(head.network)) return undefined;
    const limit = this.batchLimit(this.networks.get(head.network)!);
    let count = 1;
    // every input is batched along its first dimension, so any frames of one network batch together;
    // a live frame's batch takes no render frames, which would only make it take longer
    while (count < limit && count < this.queue.length && this.queue[count]!.network === head.network && this.queue[count]!.live === head.live) count++;
    return { id: ++this.batchSeq, network: head.network, live: head.live, frames: this.queue.splice(0, count) };
  }

  private dispatch(h: WorkerHandle, batch: Batch): void {
    const net = this.networks.get(batch.network)!;
    // a fixed-batch graph gets zero frames after the real ones; their outputs are never looked at
    const n = net.batch ?? batch.frames.length;
    const feeds: TensorMsg[] = net.inputs.map((input) => {
      const per = numel(input.dims);
      // always a fresh buffer: it is transferred away, and the frame keeps its own feeds for a retry
      const data = new TYPED[input.type](per * n);
      batch.frames.forEach((f, i) => (data as Float32Array).set(f.feeds[input.name] as Float32Array, i * per));
      return { name: input.name, type: input.type, dims: [n, ...input.dims], data };
    });
    h.inflight.set(batch.id, batch);
    this.opts.metrics?.batchSize.observe(batch.frames.length);
    h.link.send({ t: 'run', id: batch.id, key: batch.network, feeds, fetch: net.fetch });
  }
}

function hasRenderBatch(h: WorkerHandle): boolean {
  for (const b of h.inflight.values()) if (!b.live) return true;
  return false;
}

/** The queue's order: live frames first, each kind in submit order. */
function queueOrder(a: PendingFrame, b: PendingFrame): number {
  return a.live === b.live ? a.seq - b.seq : a.live ? -1 : 1;
}

/** Checks one frame's feeds against the network's inputs, naming the first thing wrong. */
function checkFeeds(net: PoolNetwork, feeds: FrameFeeds): void {
  const takes = net.inputs.map((i) => `${i.name} ${i.type}[${i.dims.join(', ')}]`).join(', ');
  for (const name of Object.keys(feeds)) {
    if (!net.inputs.some((i) => i.name === name)) throw new Error(`input "${name}": network "${net.id}" has no such input (it takes ${takes})`);
  }
  for (const input of net.inputs) {
    const data = feeds[input.name];
    if (!data) throw new Error(`input "${input.name}" is missing (network "${net.id}" takes ${takes})`);
    const want = TYPED[input.type];
    const n = numel(input.dims);
    if (!(data instanceof want) || data.length !== n) {
      throw new Error(
        `input "${input.name}": expected a ${want.name} of ${n} values (${input.type} [${input.dims.join(', ')}]), got ${data.constructor.name} of ${data.length}`,
      );
    }
  }
}
