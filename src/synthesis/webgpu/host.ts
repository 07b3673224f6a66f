/**
 * The worker side of the webgpu engine: answers the pool's messages like SessionHost does for
 * onnxruntime, with one WebGPU device per process (opened on the first load, on the adapter the
 * worker's config names) and one engine per loaded network.
 *
 * Runs are pipelined: a run's work is submitted as soon as its message arrives, and its answer is
 * sent once its outputs are read back; answers leave in submission order, so frames come back in
 * order while the GPU already computes the next batch.
 */
import type { AdapterSpec, FromWorker, LoadRequest, TensorMsg, ToWorker, ValueMeta } from '../pool/protocol.ts';
import { readSidecar } from '../stylegan2/sidecar.ts';
import { sidecarPathFor } from '../stylegan2/network-file.ts';
import { buildPlan } from './plan.ts';
import { openDevice, type OpenedDevice } from './gpu.ts';
import { WebGpuSynthesis } from './engine.ts';
import { CrashHooks, type CrashHow } from '../pool/crash-hooks.ts';

type Send = (msg: FromWorker) => void;

function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n').map((l) => l.trim()).find((l) => l.length > 0) ?? text;
}

/** Seeded warm-up values (same LCG as the onnx host: no Math.random). */
function warmupData(length: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  return Float32Array.from({ length }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  });
}

/** The conv arithmetic a worker gets: f16 only on a device created with shader-f16. */
export function resolvePrecision(asked: 'f32' | 'f16' | 'auto' | undefined, opened: OpenedDevice): { use: 'f32' | 'f16'; note?: string } {
  if (asked === undefined || asked === 'f32') return { use: 'f32' };
  if (opened.features.f16) return { use: 'f16' };
  const why = `adapter "${opened.adapter.description || opened.adapter.device || opened.adapter.vendor}" has no shader-f16 feature`;
  if (asked === 'f16') throw new Error(`precision f16: ${why} (use precision f32 or auto)`);
  return { use: 'f32', note: `auto: ${why}; computing in f32` };
}

export class WebGpuHost {
  private readonly engines = new Map<string, { engine: WebGpuSynthesis; meta: { inputs: ValueMeta[]; outputs: ValueMeta[] } }>();
  private opened?: Promise<OpenedDevice>;
  private chain: Promise<void> = Promise.resolve();
  private answers: Promise<void> = Promise.resolve();
  private readonly crash: CrashHooks;

  constructor(
    private readonly send: Send,
    testHooks: boolean,
    die: (how: CrashHow) => void,
  ) {
    this.crash = new CrashHooks(testHooks, die);
  }

  receive(msg: ToWorker): void {
    this.chain = this.chain.then(() => this.handle(msg));
  }

  private device(adapter: AdapterSpec | undefined): Promise<OpenedDevice> {
    this.opened ??= openDevice({ ...adapter, f16: adapter?.precision === 'f16' || adapter?.precision === 'auto' });
    return this.opened;
  }

  private async handle(msg: ToWorker): Promise<void> {
    switch (msg.t) {
      case 'load':
        return this.load(msg);
      case 'unload': {
        await this.answers;
        this.engines.get(msg.key)?.engine.destroy();
        this.engines.delete(msg.key);
        return;
      }
      case 'run':
        if (this.crash.diesOnRun()) return;
        return this.run(msg.id, msg.key, msg.feeds, msg.fetch);
      case 'slow':
        return;
      case 'crash':
        this.crash.request(msg);
        return;
    }
  }

  private async load(req: LoadRequest): Promise<void> {
    const t0 = performance.now();
    let opened: OpenedDevice;
    let engine: WebGpuSynthesis;
    let meta: { inputs: ValueMeta[]; outputs: ValueMeta[] };
    let precision: { use: 'f32' | 'f16'; note?: string };
    try {
      opened = await this.device(req.adapter);
      const sc = readSidecar(sidecarPathFor(req.path));
      const plan = buildPlan(req.path, sc);
      const maxBatch = sc.batch ?? Math.max(1, req.maxBatch ?? 1, ...req.warmup.shapes.map((s) => s[0]?.dims[0] ?? 1));
      opened.device.pushErrorScope('validation');
      precision = resolvePrecision(req.adapter?.precision, opened);
      engine = WebGpuSynthesis.create(opened.device, plan, { maxBatch, precision: precision.use });
      const invalid = await opened.device.popErrorScope();
      if (invalid) throw new Error(`WebGPU validation: ${invalid.message}`);
      const dims = (shape: Array<number | string>) => shape.map((d) => (typeof d === 'number' ? d : 'N'));
      meta = {
        inputs: sc.inputs.map((i) => ({ name: i.name, type: i.dtype, shape: dims(i.shape) })),
        outputs: sc.outputs.map((o) => ({ name: o.name, type: o.dtype, shape: dims(o.shape) })),
      };
    } catch (err) {
      this.send({ t: 'load-failed', key: req.key, message: firstLine(err), attempts: [{ provider: 'webgpu', error: firstLine(err) }] });
      return;
    }
    const loadMs = performance.now() - t0;
    const t1 = performance.now();
    try {
      for (let r = 0; r < req.warmup.runs; r++) {
        for (const shape of req.warmup.shapes) {
          const n = shape[0]?.dims[0] ?? 1;
          const feeds = new Map<string, Float32Array>();
          shape.forEach((f, i) => feeds.set(f.name, warmupData(f.dims.reduce((a, b) => a * b, 1), 1 + i + r)));
          await engine.run(feeds, n);
        }
      }
    } catch (err) {
      engine.destroy();
      this.send({ t: 'load-failed', key: req.key, message: `warm-up failed: ${firstLine(err)}`, attempts: [] });
      return;
    }
    this.engines.get(req.key)?.engine.destroy();
    this.engines.set(req.key, { engine, meta });
    const a = opened.adapter;
    this.send({
      t: 'loaded',
      key: req.key,
      provider: 'webgpu',
      engine: 'webgpu',
      adapter: {
        vendor: a.vendor,
        architecture: a.architecture,
        device: a.device,
        description: a.description,
        precision: precision.use,
        ...(precision.note ? { precisionNote: precision.note } : {}),
      },
      attempts: [],
      inputs: meta.inputs,
      outputs: meta.outputs,
      loadMs,
      warmupMs: performance.now() - t1,
    });
  }

  private run(id: number, key: string, feeds: TensorMsg[], fetch: string[]): void {
    const entry = this.engines.get(key);
    let answer: Promise<FromWorker>;
    if (!entry) answer = Promise.resolve({ t: 'run-failed', id, message: `network "${key}" is not loaded in this worker` });
    else {
      const t0 = performance.now();
      const { engine } = entry;
      const input = new Map<string, Float32Array>();
      let n = 0;
      for (const f of feeds) {
        if (!(f.data instanceof Float32Array)) {
          answer = Promise.resolve({ t: 'run-failed', id, message: `input '${f.name}' is ${f.type}; the webgpu engine takes float32` });
          this.queueAnswer(answer);
          return;
        }
        input.set(f.name, f.data);
        if (f.name === engine.plan.latentName) n = f.dims[0] ?? 0;
      }
      const names = new Map(engine.plan.outputs.map((o) => [o.name, o.role]));
      const wanted = fetch.length > 0 ? fetch : [...names.keys()];
      const roles = new Set(wanted.map((w) => names.get(w)).filter((r): r is 'frames' | 'image' => r !== undefined));
      const R = engine.plan.shape.resolution;
      const C = engine.plan.shape.imgChannels;
      answer = engine.run(input, n, roles).then(
        (out): FromWorker => ({
          t: 'result',
          id,
          runMs: performance.now() - t0,
          outputs: wanted.flatMap((name): TensorMsg[] => {
            const role = names.get(name);
            if (role === 'frames' && out.frames) return [{ name, type: 'uint8', dims: [n, R, R, C], data: out.frames }];
            if (role === 'image' && out.image) return [{ name, type: 'float32', dims: [n, C, R, R], data: out.image }];
            return [];
          }),
        }),
        (err: unknown): FromWorker => ({ t: 'run-failed', id, message: firstLine(err) }),
      );
    }
    this.queueAnswer(answer);
  }

  /** Answers leave in the order the runs came in. */
  private queueAnswer(answer: Promise<FromWorker>): void {
    this.answers = this.answers.then(async () => this.send(await answer));
  }
}
