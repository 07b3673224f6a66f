/**
 * A synthesis worker asked for [webgpu, cpu] and bound by MESA_VK_DEVICE_SELECT="ffff:ffff", which names
 * no GPU here: it falls back to the CPU. What the renders', stills' and live sessions' tests expect it to say.
 */
import { expect } from 'vitest';

export const FELL_BACK_ENV = { MESA_VK_DEVICE_SELECT: 'ffff:ffff' };
const NO_GPU = 'MESA_VK_DEVICE_SELECT="ffff:ffff" names no GPU here';

/** the fallback warning as logged (`prefix`: 'warning: ' as the CLI prints it) */
export const fellBackLine = (id: string, prefix = '') => new RegExp(`^${prefix}synthesis worker ${id}: webgpu unavailable \\(no WebGPU adapter as bound: ${NO_GPU} .*\\); fell back to cpu$`);

/** the worker's entry in a synthesis record (frames not included) */
export const fellBackWorker = (id: string) => ({
  id,
  engine: 'onnx',
  provider: 'cpu',
  adapter: null,
  precision: 'f32',
  precisionNote: null,
  fallback: [{ provider: 'webgpu', error: expect.stringMatching(NO_GPU) }],
  binding: { source: 'env', env: FELL_BACK_ENV },
});
