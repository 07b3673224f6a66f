import { Type, type Static } from '@sinclair/typebox';
import { checkLatentsConfig, LatentsConfig } from '../latents/config.ts';
import type { ProviderSpec } from './pool/protocol.ts';
import type { PoolOptions, WorkerSpec } from './pool/pool.ts';
import { envBindsDevice } from './webgpu/gpu-binding.ts';

const ProviderName = Type.Union([Type.Literal('cuda'), Type.Literal('webgpu'), Type.Literal('cpu')]);

export const ProviderConfig = Type.Union(
  [
    ProviderName,
    Type.Object(
      {
        name: ProviderName,
        deviceId: Type.Optional(Type.Integer({ minimum: 0, description: 'GPU index for cuda (webgpu takes none: its process environment picks the GPU)' })),
        options: Type.Optional(
          Type.Record(Type.String({ pattern: '^.{1,64}$' }), Type.Union([Type.String({ maxLength: 1024 }), Type.Number(), Type.Boolean()]), {
            maxProperties: 32,
            description: 'extra provider options, e.g. webgpu preferredLayout: NHWC',
          }),
        ),
      },
      { additionalProperties: false },
    ),
  ],
  { description: 'execution provider: a name, or {name, deviceId, options}' },
);
export type ProviderConfig = Static<typeof ProviderConfig>;

export const SynthesisWorkerConfig = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.-]+$', description: 'worker name (metric label, logs, API)' }),
    providers: Type.Array(ProviderConfig, {
      minItems: 1,
      maxItems: 8,
      default: ['cpu'],
      description: 'tried in order for each network; the first that loads is used, the others are logged as unavailable',
    }),
    gpu: Type.Optional(
      Type.Integer({
        minimum: 0,
        description:
          "GPU this worker drives (nvidia-smi's index): the cuda device id unless a provider sets its own; with webgpu, the worker process is bound to this GPU's PCI bus through Mesa's device-select layer (DRI_PRIME, from nvidia-smi) unless its env sets DRI_PRIME or MESA_VK_DEVICE_SELECT",
      }),
    ),
    engine: Type.Union([Type.Literal('onnx'), Type.Literal('webgpu')], {
      default: 'onnx',
      description: 'onnx: onnxruntime with `providers` (the reference, and the CPU path); webgpu: the WGSL kernels through Dawn, one device per worker process (providers are then unused)',
    }),
    adapter: Type.Optional(
      Type.Object(
        {
          backend: Type.Optional(Type.String({ pattern: '^[a-z0-9]{1,16}$', description: "Dawn backend, e.g. vulkan (Dawn's default on Linux)" })),
          adapter: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'adapter name as Dawn lists it (identical GPUs share a name: pick those by `env`, see README)' })),
          powerPreference: Type.Optional(Type.Union([Type.Literal('low-power'), Type.Literal('high-performance')])),
          precision: Type.Optional(
            Type.Union([Type.Literal('f32'), Type.Literal('f16'), Type.Literal('auto')], {
              description:
                "arithmetic of the conv kernels: f32 (when absent); f16 (needs the adapter's shader-f16, else the worker's loads fail naming the adapter); auto: f16 where the adapter has shader-f16, else f32 with the reason in GET /v1/networks",
            }),
          ),
        },
        { additionalProperties: false, description: 'engine webgpu: the WebGPU adapter this worker opens' },
      ),
    ),
    isolation: Type.Union([Type.Literal('auto'), Type.Literal('thread'), Type.Literal('process')], {
      default: 'auto',
      description: 'auto: a child process when the engine or a provider is webgpu (its context is process-wide), else a worker thread',
    }),
    intraOpThreads: Type.Integer({ minimum: 0, maximum: 256, default: 0, description: 'onnxruntime intra-op threads (0: onnxruntime decides)' }),
    env: Type.Record(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]{0,255}$' }), Type.String({ maxLength: 4096 }), {
      maxProperties: 64,
      default: {},
      description: 'extra environment of a process worker, e.g. what makes the Vulkan loader pick its GPU; its variables win over the binding derived from `gpu`',
    }),
  },
  { additionalProperties: false },
);
export type SynthesisWorkerConfig = Static<typeof SynthesisWorkerConfig>;

export const SynthesisNetworksConfig = Type.Object(
  {
    dirs: Type.Array(Type.String({ minLength: 1, maxLength: 4096 }), { maxItems: 32, default: [], description: 'folders scanned for NAME.onnx + NAME.json networks' }),
    bundled: Type.Boolean({ default: true, description: 'also offer the networks shipped in config/networks (the demo)' }),
    default: Type.String({ minLength: 1, maxLength: 255, default: 'demo-64', description: 'network loaded and made active at start (demo-64: the bundled demo)' }),
  },
  { additionalProperties: false, default: {} },
);

export const LoadHintConfig = Type.Object(
  {
    watts: Type.Number({ minimum: 0, maximum: 2000, default: 150, description: 'power each worker\'s GPU is expected to draw while rendering (0: send no hints)' }),
    seconds: Type.Number({ exclusiveMinimum: 0, maximum: 3600, default: 30, description: 'how long a hint holds the thermal feed-forward up before the measured power alone counts' }),
    idleSeconds: Type.Number({ minimum: 0, maximum: 3600, default: 10, description: 'frames after at least this long without any count as a load starting' }),
  },
  {
    additionalProperties: false,
    default: {},
    description: 'When frames start after an idle spell, thermal control is told that the GPUs of the workers with a `gpu` (nvidia-smi\'s index) are about to draw this power, so the fans lead the load step',
  },
);

export const SynthesisConfig = Type.Object(
  {
    enabled: Type.Boolean({ default: true, description: 'start inference workers and load the default network' }),
    networks: SynthesisNetworksConfig,
    output: Type.Union([Type.Literal('frames'), Type.Literal('image')], {
      default: 'frames',
      description: 'output to fetch: frames (uint8 NHWC) or image (float32 NCHW); a network without it returns all its outputs',
    }),
    workers: Type.Array(SynthesisWorkerConfig, { minItems: 1, maxItems: 64, default: [{ id: 'cpu0', providers: ['cpu'] }] }),
    maxBatch: Type.Integer({ minimum: 1, maximum: 64, default: 4, description: 'most frames per inference call (WebGPU is fastest per image at 1)' }),
    pipelineDepth: Type.Integer({ minimum: 1, maximum: 8, default: 2, description: 'inference calls handed to a worker ahead of its answers (a render gets one while a live session is on, so a live frame waits for at most one render batch)' }),
    warmupRuns: Type.Integer({ minimum: 0, maximum: 20, default: 1, description: 'warm-up runs per batch size when a network loads' }),
    maxAttempts: Type.Integer({ minimum: 1, maximum: 10, default: 3, description: 'tries per frame when workers crash under it' }),
    loadTimeoutSeconds: Type.Number({ minimum: 1, maximum: 3600, default: 300, description: 'a network load (and warm-up) taking longer fails' }),
    loadHint: LoadHintConfig,
    latents: LatentsConfig,
  },
  { additionalProperties: false, default: {} },
);
export type SynthesisConfig = Static<typeof SynthesisConfig>;

export interface SpecOptions {
  /** how nvidia-smi is run to find a `gpu`'s PCI bus (thermal.sensors.nvidiaSmiPath; default nvidia-smi) */
  nvidiaSmiPath?: string;
}

/** The pool's options that come from the config section: the daemon and `gance render` build their pools alike. */
export function poolOptions(config: SynthesisConfig, opts: SpecOptions = {}): Pick<PoolOptions, 'workers' | 'maxBatch' | 'pipelineDepth' | 'warmupRuns' | 'maxAttempts' | 'loadTimeoutMs'> {
  return {
    workers: workerSpecs(config, opts),
    maxBatch: config.maxBatch,
    pipelineDepth: config.pipelineDepth,
    warmupRuns: config.warmupRuns,
    maxAttempts: config.maxAttempts,
    loadTimeoutMs: config.loadTimeoutSeconds * 1000,
  };
}

/**
 * Config workers as the pool takes them: provider objects with device ids, isolation decided, and
 * for a worker that will use WebGPU with a `gpu` and no device-select variable in its env, what
 * the pool derives its GPU binding from (webgpu takes no device id; see webgpu/gpu-binding.ts).
 */
export function workerSpecs(config: SynthesisConfig, opts: SpecOptions = {}): WorkerSpec[] {
  return config.workers.map((w, i) => {
    const providers: ProviderSpec[] = w.providers.map((p) => {
      const spec: ProviderSpec = typeof p === 'string' ? { name: p } : { name: p.name, ...(p.deviceId !== undefined ? { deviceId: p.deviceId } : {}), ...(p.options ? { options: p.options } : {}) };
      if (spec.name === 'cuda' && spec.deviceId === undefined && w.gpu !== undefined) spec.deviceId = w.gpu;
      return spec;
    });
    const engine = w.engine ?? 'onnx';
    const webgpu = engine === 'webgpu' || providers.some((p) => p.name === 'webgpu');
    const isolation = w.isolation === 'auto' ? (webgpu ? 'process' : 'thread') : w.isolation;
    const gpuBinding =
      webgpu && w.gpu !== undefined && !envBindsDevice(w.env) ? { gpu: w.gpu, field: `synthesis.workers[${i}].gpu`, nvidiaSmi: opts.nvidiaSmiPath ?? 'nvidia-smi' } : undefined;
    return { id: w.id, providers, isolation, intraOpThreads: w.intraOpThreads, env: w.env, engine, ...(w.adapter ? { adapter: w.adapter } : {}), ...(gpuBinding ? { gpuBinding } : {}) };
  });
}

/** Rules the schema cannot say; one line per issue, each naming its field. */
export function checkSynthesisConfig(config: SynthesisConfig): string[] {
  const issues: string[] = [];
  const ids = new Set<string>();
  const gpus = new Map<number, string>();
  config.workers.forEach((w, i) => {
    if (ids.has(w.id)) issues.push(`synthesis.workers[${i}].id: duplicate worker id "${w.id}"`);
    ids.add(w.id);
    if (w.gpu !== undefined) {
      const other = gpus.get(w.gpu);
      // two sessions on one GPU add no throughput (the kernels are the bottleneck) and double its memory
      if (other !== undefined) issues.push(`synthesis.workers[${i}].gpu: GPU ${w.gpu} is already driven by worker "${other}" (one worker per GPU)`);
      else gpus.set(w.gpu, w.id);
    }
    const names = w.providers.map((p) => (typeof p === 'string' ? p : p.name));
    names.forEach((n, j) => {
      if (names.indexOf(n) !== j) issues.push(`synthesis.workers[${i}].providers[${j}]: provider "${n}" listed twice`);
    });
    if (w.isolation === 'thread' && w.engine === 'webgpu') {
      issues.push(`synthesis.workers[${i}].isolation: the webgpu engine needs a process per GPU (Dawn's instance is process-wide); use "process" or "auto"`);
    }
    if (w.adapter !== undefined && w.engine !== 'webgpu') issues.push(`synthesis.workers[${i}].adapter: only the webgpu engine opens an adapter; set engine: webgpu or drop adapter`);
    if (w.isolation === 'thread' && names.includes('webgpu')) {
      issues.push(`synthesis.workers[${i}].isolation: webgpu needs a process per GPU (its context is process-wide); use "process" or "auto"`);
    }
  });
  issues.push(...checkLatentsConfig(config.latents));
  return issues;
}
