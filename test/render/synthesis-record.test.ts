/**
 * What `gance render` says about its workers, from what the pool reports of a load (LoadedOn):
 * the GPU cases, which the render tests on the CPU cannot reach (a webgpu worker on lavapipe would
 * take minutes per render; GET /v1/networks shows the same `loaded[]` objects on the H200).
 */
import { describe, expect, it } from 'vitest';
import { describeFallback, describeWorker, workerInfo } from '../../src/render/synthesis-record.ts';
import type { RenderNetwork } from '../../src/render/resolve.ts';
import type { LoadedOn } from '../../src/synthesis/pool/pool.ts';

const net = (dtype: 'float16' | 'float32') => ({ id: 'n', sidecar: { dtype } }) as unknown as RenderNetwork;
const h200 = { vendor: 'nvidia', architecture: 'hopper', device: '', description: 'NVIDIA H200' };
const bus = { source: 'gpu' as const, gpu: 0, busId: '00000000:00:06.0', env: { DRI_PRIME: 'pci-0000_00_06_0', MESA_VK_DEVICE_SELECT_FORCE_DEFAULT_DEVICE: '1' } };

describe('synthesis workers as a render reports them', () => {
  it('a webgpu-engine worker bound to its GPU: adapter, its kernels\' precision (not the graph\'s), the bus', () => {
    const on: LoadedOn = { worker: 'gpu0', provider: 'webgpu', engine: 'webgpu', adapter: { ...h200, precision: 'f16' }, binding: bus, pid: 7, isolation: 'process' };
    const w = workerInfo(on, net('float32'));
    expect(w).toEqual({ id: 'gpu0', engine: 'webgpu', provider: 'webgpu', adapter: h200, precision: 'f16', precisionNote: null, fallback: [], binding: bus });
    expect(describeWorker(w)).toBe('gpu0 webgpu "NVIDIA H200" f16, bound to GPU 0 (pci-0000_00_06_0)');
    expect(describeFallback(w)).toBeNull();
  });

  it('precision auto on an adapter without shader-f16: f32 with the reason', () => {
    const on: LoadedOn = { worker: 'gpu1', provider: 'webgpu', engine: 'webgpu', adapter: { ...h200, description: 'llvmpipe', precision: 'f32', precisionNote: 'adapter "llvmpipe" has no shader-f16 feature' }, pid: 7, isolation: 'process' };
    expect(workerInfo(on, undefined)).toMatchObject({ precision: 'f32', precisionNote: 'adapter "llvmpipe" has no shader-f16 feature', binding: null });
    expect(describeWorker(workerInfo(on, undefined))).toBe('gpu1 webgpu "llvmpipe" f32');
  });

  it("an onnx worker on WebGPU bound by its own env; its precision is the graph's", () => {
    const env = { source: 'env' as const, env: { MESA_VK_DEVICE_SELECT: '10de:2335' } };
    const w = workerInfo({ worker: 'o0', provider: 'webgpu', engine: 'onnx', binding: env, pid: 7, isolation: 'process' }, net('float16'));
    expect(w).toMatchObject({ engine: 'onnx', provider: 'webgpu', adapter: null, precision: 'f16', binding: env });
    expect(describeWorker(w)).toBe('o0 onnx/webgpu, bound by its env (MESA_VK_DEVICE_SELECT=10de:2335)');
  });

  it('a worker bound to GPU 0 that fell back to the CPU is on no GPU: no binding in its line, the fallback and its reason in a warning', () => {
    const fallback = [{ provider: 'webgpu', error: 'no WebGPU adapter as bound: DRI_PRIME="pci-0000_00_06_0" names no GPU here' }];
    const w = workerInfo({ worker: 'gpu0', provider: 'cpu', engine: 'onnx', binding: bus, fallback, pid: 7, isolation: 'process' }, net('float32'));
    expect(w).toMatchObject({ provider: 'cpu', precision: 'f32', fallback, binding: bus });
    expect(describeWorker(w)).toBe('gpu0 onnx/cpu');
    expect(describeFallback(w)).toBe('synthesis worker gpu0: webgpu unavailable (no WebGPU adapter as bound: DRI_PRIME="pci-0000_00_06_0" names no GPU here); fell back to cpu');
  });
});
