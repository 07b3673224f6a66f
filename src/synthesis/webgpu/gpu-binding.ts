/**
 * A worker's `gpu` (nvidia-smi's index) as a WebGPU binding. Neither Dawn nor onnxruntime's WebGPU
 * provider takes a device id: the Vulkan loader of the worker's process decides, and Mesa's
 * device-select layer makes it take one GPU by PCI bus id. So the pool asks nvidia-smi for GPU N's
 * bus and gives the worker process DRI_PRIME=pci-DDDD_BB_SS_F with
 * MESA_VK_DEVICE_SELECT_FORCE_DEFAULT_DEVICE=1. Without this, every webgpu worker of a multi-GPU
 * rig opened the same first GPU while its load hints went to the zones of the GPUs it named.
 * A bus the layer does not offer is refused in the worker (device-select.ts), not here: only the
 * worker's own Vulkan loader knows what the layer offers.
 */
import { execFile } from 'node:child_process';

/** What the pool derives a worker's binding from (synthesis/config.ts fills it in). */
export interface GpuBindingSpec {
  /** nvidia-smi's index */
  gpu: number;
  /** the config field it came from, for errors: synthesis.workers[i].gpu */
  field: string;
  /** how nvidia-smi is run (thermal.sensors.nvidiaSmiPath) */
  nvidiaSmi: string;
}

export interface GpuBus {
  index: number;
  /** as nvidia-smi prints it: 00000000:41:00.0 */
  busId: string;
}

/** How a worker process is bound to its GPU, as the pool reports it. */
export interface WorkerBinding {
  /** gpu: derived from the worker's `gpu` through nvidia-smi; env: the worker's own env */
  source: 'gpu' | 'env';
  gpu?: number;
  busId?: string;
  /** the device-select variables the worker process gets */
  env: Record<string, string>;
}

/** Variables through which a worker's env picks its GPU itself: with either, nothing is derived. */
export const BINDING_VARS = ['DRI_PRIME', 'MESA_VK_DEVICE_SELECT'] as const;
const SHOWN_VARS = [...BINDING_VARS, 'MESA_VK_DEVICE_SELECT_FORCE_DEFAULT_DEVICE'];

export function envBindsDevice(env: Record<string, string> | undefined): boolean {
  return env !== undefined && BINDING_VARS.some((k) => k in env);
}

export class GpuBindingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GpuBindingError';
  }
}

/** `nvidia-smi --query-gpu=index,pci.bus_id --format=csv,noheader` lines. */
export function parseGpuBuses(text: string): GpuBus[] {
  const out: GpuBus[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*(\d+)\s*,\s*([0-9a-f]+:[0-9a-f]{2}:[0-9a-f]{2}\.[0-9a-f])\s*$/i.exec(line);
    if (m) out.push({ index: Number(m[1]), busId: m[2]! });
  }
  return out;
}

/** GPU index -> PCI bus id, from nvidia-smi. Rejects with what went wrong (not found, exit status, output). */
export function queryGpuBuses(nvidiaSmi = 'nvidia-smi', timeoutMs = 20_000): Promise<GpuBus[]> {
  return new Promise((resolve, reject) => {
    execFile(nvidiaSmi, ['--query-gpu=index,pci.bus_id', '--format=csv,noheader'], { encoding: 'utf8', timeout: timeoutMs }, (err, stdout) => {
      if (err) {
        const said = `${stdout ?? ''}`.trim().split('\n')[0];
        const code = (err as NodeJS.ErrnoException).code;
        reject(new Error(code === 'ENOENT' ? `"${nvidiaSmi}" not found` : `"${nvidiaSmi}" failed: ${err.message.split('\n')[0]}${said ? ` (${said})` : ''}`));
        return;
      }
      resolve(parseGpuBuses(stdout));
    });
  });
}

/** nvidia-smi's 00000000:41:00.0 as the device-select layer takes it: pci-0000_41_00_0. */
export function driPrimeOf(busId: string): string {
  const m = /^([0-9a-f]+):([0-9a-f]{2}):([0-9a-f]{2})\.([0-9a-f])$/i.exec(busId.trim());
  if (!m) throw new GpuBindingError(`PCI bus id "${busId}" is not DOMAIN:BB:SS.F`);
  const domain = parseInt(m[1]!, 16);
  // the layer reads the domain as 4 hex digits
  if (domain > 0xffff) throw new GpuBindingError(`PCI bus id "${busId}": the device-select layer takes a domain of 4 hex digits`);
  return `pci-${domain.toString(16).padStart(4, '0')}_${m[2]}_${m[3]}_${m[4]}`.toLowerCase();
}

/**
 * The environment of a worker process and how it is bound. With a `binding`, GPU N's bus from
 * nvidia-smi becomes DRI_PRIME + MESA_VK_DEVICE_SELECT_FORCE_DEFAULT_DEVICE=1, under the worker's
 * own env (any variable it sets wins). Rejects with a GpuBindingError naming the config field, its
 * value and what nvidia-smi lists.
 */
export async function bindWorkerEnv(
  userEnv: Record<string, string> = {},
  binding: GpuBindingSpec | undefined,
  buses: (nvidiaSmi: string) => Promise<GpuBus[]> = queryGpuBuses,
): Promise<{ env: Record<string, string>; binding?: WorkerBinding }> {
  if (!binding) {
    const shown = Object.fromEntries(SHOWN_VARS.filter((k) => k in userEnv).map((k) => [k, userEnv[k]!]));
    return { env: userEnv, ...(envBindsDevice(userEnv) ? { binding: { source: 'env', env: shown } } : {}) };
  }
  const { gpu, field, nvidiaSmi } = binding;
  const how = `set the worker's env (DRI_PRIME=pci-DDDD_BB_SS_F, MESA_VK_DEVICE_SELECT_FORCE_DEFAULT_DEVICE=1) or thermal.sensors.nvidiaSmiPath`;
  let list: GpuBus[];
  try {
    list = await buses(nvidiaSmi);
  } catch (err) {
    throw new GpuBindingError(`${field}: ${gpu} cannot be bound to its GPU for WebGPU: nvidia-smi lists nothing (${(err as Error).message}); ${how}`);
  }
  const found = list.find((b) => b.index === gpu);
  if (!found) {
    const lists = list.length > 0 ? list.map((b) => `${b.index} (${b.busId})`).join(', ') : 'no GPU';
    throw new GpuBindingError(`${field}: ${gpu} names no GPU here (nvidia-smi lists ${lists})`);
  }
  let prime: string;
  try {
    prime = driPrimeOf(found.busId);
  } catch (err) {
    throw new GpuBindingError(`${field}: ${gpu}: ${(err as Error).message}; ${how}`);
  }
  const derived = { DRI_PRIME: prime, MESA_VK_DEVICE_SELECT_FORCE_DEFAULT_DEVICE: '1' };
  const env: Record<string, string> = { ...derived, ...userEnv };
  const shown = Object.fromEntries(SHOWN_VARS.filter((k) => k in env).map((k) => [k, env[k]!]));
  return { env, binding: { source: 'gpu', gpu, busId: found.busId, env: shown } };
}
