/**
 * Opens a WebGPU device through Dawn's Node binding (the `webgpu` package). One per process:
 * Dawn's instance is process-wide, so the pool gives each GPU its own worker process, and the
 * adapter is picked per process (see AdapterChoice).
 */
import { create, globals } from 'webgpu';
import { deviceSelectProblem } from './device-select.ts';

let installed = false;
/**
 * Dawn's instances, kept for the life of the process: a device outlives the GPU object it came
 * from only while that object is reachable (collected, it takes Dawn's instance with it, and the
 * process crashes in a driver thread).
 */
const instances: GPU[] = [];
/** GPUBufferUsage and friends as globals (Dawn's binding exports them; Node has none of its own). */
export function installGlobals(): void {
  if (installed) return;
  Object.assign(globalThis, globals);
  installed = true;
}

export interface AdapterChoice {
  /** Dawn's `backend` toggle (vulkan, null, ...); default: Dawn's choice (Vulkan on Linux). */
  backend?: string;
  /** Dawn's `adapter` toggle: the adapter whose name matches (Dawn prints the names when none does). */
  adapter?: string;
  powerPreference?: 'low-power' | 'high-performance';
  /** Dawn toggles to enable, e.g. disable_robustness (the kernels bound their own indices). */
  toggles?: string[];
  /** Ask for shader-f16 when the adapter has it. */
  f16?: boolean;
}

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  features: string[];
  subgroupMinSize?: number;
  subgroupMaxSize?: number;
  isFallbackAdapter?: boolean;
}

export interface OpenedDevice {
  device: GPUDevice;
  adapter: AdapterSummary;
  /** Optional features the device was created with. */
  features: { f16: boolean; timestamps: boolean; subgroups: boolean };
}

export class NoAdapterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NoAdapterError';
  }
}

export async function openDevice(choice: AdapterChoice = {}, env: NodeJS.ProcessEnv = process.env): Promise<OpenedDevice> {
  installGlobals();
  const wanted = choice.adapter !== undefined ? ` adapter "${choice.adapter}"` : ' adapter';
  const bound = deviceSelectProblem(env);
  if (bound) throw new NoAdapterError(`no WebGPU adapter as bound: ${bound}`);
  const flags: string[] = [];
  if (choice.backend) flags.push(`backend=${choice.backend}`);
  if (choice.adapter) flags.push(`adapter=${choice.adapter}`);
  if (choice.toggles?.length) flags.push(`enable-dawn-features=${choice.toggles.join(',')}`);
  let adapter: GPUAdapter | null;
  try {
    const gpu = create(flags);
    instances.push(gpu);
    adapter = await gpu.requestAdapter(choice.powerPreference ? { powerPreference: choice.powerPreference } : {});
  } catch (err) {
    throw new NoAdapterError(`no WebGPU${wanted}: ${(err as Error).message.split('\n').join(' ')}`);
  }
  if (!adapter) throw new NoAdapterError(`no WebGPU${wanted} (is a Vulkan driver installed? lavapipe on CPU-only machines: mesa-vulkan-drivers)`);
  const has = (f: string) => adapter.features.has(f);
  const required: GPUFeatureName[] = [];
  const features = { f16: Boolean(choice.f16) && has('shader-f16'), timestamps: has('timestamp-query'), subgroups: has('subgroups') };
  if (features.f16) required.push('shader-f16');
  if (features.timestamps) required.push('timestamp-query');
  if (features.subgroups) required.push('subgroups' as GPUFeatureName);
  const lim = adapter.limits;
  const device = await adapter.requestDevice({
    requiredFeatures: required,
    requiredLimits: {
      maxBufferSize: lim.maxBufferSize,
      maxStorageBufferBindingSize: lim.maxStorageBufferBindingSize,
      maxComputeWorkgroupStorageSize: lim.maxComputeWorkgroupStorageSize,
      maxStorageBuffersPerShaderStage: lim.maxStorageBuffersPerShaderStage,
      maxComputeInvocationsPerWorkgroup: lim.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: lim.maxComputeWorkgroupSizeX,
      maxComputeWorkgroupSizeY: lim.maxComputeWorkgroupSizeY,
    },
  });
  const info = adapter.info;
  return {
    device,
    adapter: {
      vendor: info.vendor,
      architecture: info.architecture,
      device: info.device,
      description: info.description,
      features: [...adapter.features].sort(),
      ...(info.subgroupMinSize !== undefined ? { subgroupMinSize: info.subgroupMinSize, subgroupMaxSize: info.subgroupMaxSize } : {}),
      ...(info.isFallbackAdapter !== undefined ? { isFallbackAdapter: info.isFallbackAdapter } : {}),
    },
    features,
  };
}
