import { describe, expect, it } from 'vitest';
import { loadConfigFile, resolveConfig } from '../../src/config/load.ts';
import { checkSynthesisConfig, workerSpecs } from '../../src/synthesis/config.ts';

const base = {
  cooler: { driver: 'simulated', fans: [{ id: 'f0', channel: 0 }] },
  thermal: { sensors: { source: 'simulated' }, zones: [{ id: 'z0', gpus: [0], fans: ['f0'], mode: 'pid', pid: { setpoint: 75 } }] },
};

describe('synthesis config', () => {
  it('defaults to one CPU thread worker and the bundled demo, so configs without the section stay valid', () => {
    const c = resolveConfig(base).synthesis;
    expect(c.networks).toEqual({ dirs: [], bundled: true, default: 'demo-64' });
    expect(workerSpecs(c)).toEqual([{ id: 'cpu0', providers: [{ name: 'cpu' }], isolation: 'thread', intraOpThreads: 0, env: {}, engine: 'onnx' }]);
    expect(loadConfigFile().synthesis.networks.default).toBe('demo-64');
  });

  it('gives a GPU worker its device id, and a process when WebGPU is among its providers', () => {
    const c = resolveConfig({
      ...base,
      synthesis: {
        workers: [
          { id: 'gpu0', gpu: 0, providers: ['cuda', 'webgpu', 'cpu'], env: { VK_DEVICE_SELECT: '0' } },
          { id: 'gpu1', gpu: 1, providers: [{ name: 'cuda', deviceId: 3 }, { name: 'webgpu', options: { preferredLayout: 'NHWC' } }] },
          { id: 'cuda2', gpu: 2, providers: ['cuda'] },
        ],
      },
    }).synthesis;
    expect(workerSpecs(c)).toEqual([
      // webgpu takes no device id: the pool binds the process to the GPU's bus (test/synthesis/gpu-binding.test.ts)
      {
        id: 'gpu0',
        providers: [{ name: 'cuda', deviceId: 0 }, { name: 'webgpu' }, { name: 'cpu' }],
        isolation: 'process',
        intraOpThreads: 0,
        env: { VK_DEVICE_SELECT: '0' },
        engine: 'onnx',
        gpuBinding: { gpu: 0, field: 'synthesis.workers[0].gpu', nvidiaSmi: 'nvidia-smi' },
      },
      {
        id: 'gpu1',
        providers: [{ name: 'cuda', deviceId: 3 }, { name: 'webgpu', options: { preferredLayout: 'NHWC' } }],
        isolation: 'process',
        intraOpThreads: 0,
        env: {},
        engine: 'onnx',
        gpuBinding: { gpu: 1, field: 'synthesis.workers[1].gpu', nvidiaSmi: 'nvidia-smi' },
      },
      { id: 'cuda2', providers: [{ name: 'cuda', deviceId: 2 }], isolation: 'thread', intraOpThreads: 0, env: {}, engine: 'onnx' },
    ]);
    expect(checkSynthesisConfig(c)).toEqual([]);
  });

  it('runs the webgpu engine in a process of its own, with the adapter it names, and refuses it in a thread', () => {
    const c = resolveConfig({
      ...base,
      synthesis: {
        workers: [
          { id: 'g0', gpu: 0, engine: 'webgpu', adapter: { backend: 'vulkan', adapter: 'NVIDIA' }, env: { DRI_PRIME: 'pci-0000_41_00_0' } },
        ],
      },
    }).synthesis;
    expect(workerSpecs(c)[0]).toEqual({
      id: 'g0',
      providers: [{ name: 'cpu' }],
      isolation: 'process',
      intraOpThreads: 0,
      env: { DRI_PRIME: 'pci-0000_41_00_0' },
      engine: 'webgpu',
      adapter: { backend: 'vulkan', adapter: 'NVIDIA' },
    });
    const bad = () =>
      resolveConfig({
        ...base,
        synthesis: { workers: [{ id: 'g1', gpu: 1, engine: 'webgpu', isolation: 'thread' }, { id: 'c0', adapter: { powerPreference: 'high-performance' } }] },
      });
    expect(bad).toThrow(/synthesis\.workers\[0\]\.isolation: the webgpu engine needs a process per GPU/);
    expect(bad).toThrow(/synthesis\.workers\[1\]\.adapter: only the webgpu engine opens an adapter/);
    expect(() => resolveConfig({ ...base, synthesis: { workers: [{ id: 'x', engine: 'cuda' }] } })).toThrow(/synthesis\.workers\[0\]\.engine/);
  });

  it('takes the webgpu conv precision per worker, naming the field of a bad one', () => {
    const c = resolveConfig({ ...base, synthesis: { workers: [{ id: 'g0', gpu: 0, engine: 'webgpu', adapter: { precision: 'auto' } }] } }).synthesis;
    expect(workerSpecs(c)[0]!.adapter).toEqual({ precision: 'auto' });
    expect(() => resolveConfig({ ...base, synthesis: { workers: [{ id: 'g0', engine: 'webgpu', adapter: { precision: 'f8' } }] } })).toThrow(/synthesis\.workers\[0\]\.adapter\.precision/);
  });

  it('names the field of a bad value', () => {
    expect(() => resolveConfig({ ...base, synthesis: { workers: [{ id: 'g', providers: ['vulkan'] }] } })).toThrow(/synthesis\.workers\[0\]\.providers\[0\]/);
    expect(() => resolveConfig({ ...base, synthesis: { maxBatch: 0 } })).toThrow(/synthesis\.maxBatch/);
    expect(() => resolveConfig({ ...base, synthesis: { workers: [] } })).toThrow(/synthesis\.workers/);
    expect(() => resolveConfig({ ...base, synthesis: { network: {} } })).toThrow(/synthesis/);
    const c = resolveConfig(base).synthesis;
    c.workers = [{ ...c.workers[0]!, id: 'a', providers: ['cpu', 'cpu'] }, { ...c.workers[0]!, id: 'a' }];
    expect(checkSynthesisConfig(c)).toEqual(['synthesis.workers[0].providers[1]: provider "cpu" listed twice', 'synthesis.workers[1].id: duplicate worker id "a"']);
    c.workers = [{ ...c.workers[0]!, id: 'a', gpu: 1, providers: ['cuda'] }, { ...c.workers[0]!, id: 'b', gpu: 1, providers: ['cuda'] }];
    expect(checkSynthesisConfig(c)).toEqual(['synthesis.workers[1].gpu: GPU 1 is already driven by worker "a" (one worker per GPU)']);
    // and loading refuses them, naming the field
    expect(() => resolveConfig({ ...base, synthesis: { workers: [{ id: 'a', providers: ['cpu'] }, { id: 'a' }] } })).toThrow(/synthesis\.workers\[1\]\.id: duplicate worker id "a"/);
  });
});
