/**
 * Messages between the pool (main thread) and an inference worker (thread or child process).
 * Tensors travel as typed arrays: transferred between threads, streamed as raw bytes between processes.
 */

export type TensorType = 'float32' | 'float16' | 'uint8' | 'int32' | 'int64';

export type TensorData = Float32Array | Uint16Array | Uint8Array | Int32Array | BigInt64Array;

export interface TensorMsg {
  name: string;
  type: TensorType;
  dims: number[];
  data: TensorData;
}

/** A model input or output as the loaded session reports it; string dims are symbolic (the batch). */
export interface ValueMeta {
  name: string;
  type: string;
  shape: Array<number | string>;
}

/** One execution provider to try, in the order given. */
export interface ProviderSpec {
  name: 'cuda' | 'webgpu' | 'cpu';
  deviceId?: number;
  /** extra options passed to the provider (e.g. webgpu preferredLayout) */
  options?: Record<string, string | number | boolean>;
}

/** Which engine a worker runs: onnxruntime with its providers, or the WGSL kernels of src/synthesis/webgpu. */
export type EngineName = 'onnx' | 'webgpu';

/** The WebGPU adapter a webgpu-engine worker opens (Dawn's options; see webgpu/gpu.ts). */
export interface AdapterSpec {
  backend?: string;
  adapter?: string;
  powerPreference?: 'low-power' | 'high-performance';
  /** Arithmetic of the conv kernels (absent: f32); auto: f16 where the adapter has shader-f16. */
  precision?: 'f32' | 'f16' | 'auto';
}

/** What a worker reports about the adapter it opened. */
export interface AdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** The conv kernels' arithmetic the engine got, and why it is not the one asked for (auto on an adapter without shader-f16). */
  precision?: 'f32' | 'f16';
  precisionNote?: string;
}

export interface WarmupSpec {
  runs: number;
  /** feeds to warm up with, one list per batch size (the worker fills them with seeded values) */
  shapes: Array<Array<{ name: string; type: TensorType; dims: number[] }>>;
}

export interface LoadRequest {
  t: 'load';
  key: string;
  path: string;
  providers: ProviderSpec[];
  intraOpThreads: number;
  warmup: WarmupSpec;
  /** nodes to keep on the CPU under WebGPU (the network's small-vector part: a dispatch each on the GPU) */
  cpuNodes: string[];
  /** absent: onnx */
  engine?: EngineName;
  adapter?: AdapterSpec;
  /** most frames per run the pool will send (the webgpu engine sizes its buffers for it) */
  maxBatch?: number;
}

export type ToWorker =
  | LoadRequest
  | { t: 'unload'; key: string }
  | { t: 'run'; id: number; key: string; feeds: TensorMsg[]; fetch: string[] }
  /** the pool is done with a worker thread: finish the native call under way, release, exit */
  | { t: 'close' }
  /** test-only (honoured when the worker was started with test hooks): die on purpose */
  | { t: 'crash'; how: 'exit' | 'throw' | 'abort'; onRun: boolean; delayMs?: number }
  /** test-only: sleep this long before each inference call (makes one worker slower than another) */
  | { t: 'slow'; ms: number };

export interface ProviderAttempt {
  provider: string;
  error: string;
}

export type FromWorker =
  | { t: 'hello'; pid: number; threadId: number }
  | {
      t: 'loaded';
      key: string;
      provider: string;
      engine?: EngineName;
      adapter?: AdapterInfo;
      attempts: ProviderAttempt[];
      inputs: ValueMeta[];
      outputs: ValueMeta[];
      loadMs: number;
      warmupMs: number;
    }
  | { t: 'load-failed'; key: string; message: string; attempts: ProviderAttempt[] }
  | { t: 'result'; id: number; outputs: TensorMsg[]; runMs: number }
  | { t: 'run-failed'; id: number; message: string };

/** The ArrayBuffers of a message's tensors: handed over (not copied) when posted to or from a thread. */
export function transferables(msg: ToWorker | FromWorker): ArrayBuffer[] {
  const tensors = msg.t === 'run' ? msg.feeds : msg.t === 'result' ? msg.outputs : [];
  const seen = new Set<ArrayBuffer>();
  for (const tensor of tensors) {
    const buf = tensor.data.buffer;
    if (buf instanceof ArrayBuffer && buf.byteLength > 0) seen.add(buf);
  }
  return [...seen];
}
