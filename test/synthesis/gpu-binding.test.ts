/**
 * A worker's `gpu` binds a WebGPU worker process to that GPU: its PCI bus from nvidia-smi (here
 * the fake, which prints a bus id per GPU: 00000000:1E:00.0 for GPU 0, 1F for GPU 1) becomes
 * DRI_PRIME for Mesa's device-select layer. Runs the real nvidia-smi query and parser against it.
 */
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadConfigFile, resolveConfig } from '../../src/config/load.ts';
import { createLocalRenderer } from '../../src/render/local.ts';
import { workerSpecs } from '../../src/synthesis/config.ts';
import { NetworkLoadError, SynthesisPool } from '../../src/synthesis/pool/pool.ts';
import { bindWorkerEnv, driPrimeOf, parseGpuBuses, queryGpuBuses } from '../../src/synthesis/webgpu/gpu-binding.ts';
import { captureLog } from './pool/helpers.ts';

const FAKE_SMI = fileURLToPath(new URL('../../src/thermal/sim/fake-nvidia-smi.mjs', import.meta.url));
const base = {
  cooler: { driver: 'simulated', fans: [{ id: 'f0', channel: 0 }] },
  thermal: { sensors: { source: 'simulated' }, zones: [{ id: 'z0', gpus: [0], fans: ['f0'], mode: 'pid', pid: { setpoint: 75 } }] },
};
const specs = (workers: unknown[], nvidiaSmiPath = FAKE_SMI) => workerSpecs(resolveConfig({ ...base, synthesis: { workers } }).synthesis, { nvidiaSmiPath });
const twoGpus = () => vi.stubEnv('FAKE_NVIDIA_SMI_GPUS', JSON.stringify([{}, {}]));

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('nvidia-smi bus ids as device-select bindings', () => {
  it('reads index and bus id lines and writes the layer\'s pci-DDDD_BB_SS_F', () => {
    expect(parseGpuBuses('0, 00000000:41:00.0\n1, 00000000:C1:00.0\n')).toEqual([
      { index: 0, busId: '00000000:41:00.0' },
      { index: 1, busId: '00000000:C1:00.0' },
    ]);
    expect(driPrimeOf('00000000:C1:00.0')).toBe('pci-0000_c1_00_0');
    expect(driPrimeOf('00000001:00:06.0')).toBe('pci-0001_00_06_0');
    expect(() => driPrimeOf('00010000:00:06.0')).toThrow(/domain of 4 hex digits/);
    expect(() => driPrimeOf('41:00.0')).toThrow(/not DOMAIN:BB:SS\.F/);
  });

  it('asks nvidia-smi for every GPU\'s bus', async () => {
    twoGpus();
    expect(await queryGpuBuses(FAKE_SMI)).toEqual([
      { index: 0, busId: '00000000:1E:00.0' },
      { index: 1, busId: '00000000:1F:00.0' },
    ]);
  });
});

describe('a worker\'s gpu binds its WebGPU process', () => {
  it('derives DRI_PRIME of GPU 1\'s bus for a webgpu worker with gpu: 1, and for onnx with the webgpu provider', async () => {
    twoGpus();
    const [engine, provider, cuda, cpu] = specs([
      { id: 'w1', gpu: 1, engine: 'webgpu' },
      { id: 'o0', gpu: 0, providers: ['webgpu', 'cpu'] },
      { id: 'c2', gpu: 2, providers: ['cuda'] },
      { id: 'cpu' },
    ]);
    expect(engine!.gpuBinding).toEqual({ gpu: 1, field: 'synthesis.workers[0].gpu', nvidiaSmi: FAKE_SMI });
    const bound = await bindWorkerEnv(engine!.env, engine!.gpuBinding);
    expect(bound.env).toEqual({ DRI_PRIME: 'pci-0000_1f_00_0', MESA_VK_DEVICE_SELECT_FORCE_DEFAULT_DEVICE: '1' });
    expect(bound.binding).toEqual({ source: 'gpu', gpu: 1, busId: '00000000:1F:00.0', env: bound.env });
    expect((await bindWorkerEnv(provider!.env, provider!.gpuBinding)).env.DRI_PRIME).toBe('pci-0000_1e_00_0');
    // cuda takes the index as its device id; a worker without a gpu has nothing to bind
    expect(cuda!.gpuBinding).toBeUndefined();
    expect(cpu!.gpuBinding).toBeUndefined();
  });

  it('leaves a binding set in the worker\'s env alone, and lets its variables win over the derived ones', async () => {
    twoGpus();
    const [prime, select, force] = specs([
      { id: 'a', gpu: 2, engine: 'webgpu', env: { DRI_PRIME: 'pci-0000_41_00_0' } },
      { id: 'b', gpu: 0, providers: ['webgpu'], env: { MESA_VK_DEVICE_SELECT: '10de:2335' } },
      { id: 'c', gpu: 1, engine: 'webgpu', env: { MESA_VK_DEVICE_SELECT_FORCE_DEFAULT_DEVICE: '0', VK_LOADER_DEBUG: 'error' } },
    ]);
    expect(prime!.gpuBinding).toBeUndefined();
    expect(select!.gpuBinding).toBeUndefined();
    expect(await bindWorkerEnv(prime!.env, prime!.gpuBinding)).toEqual({ env: { DRI_PRIME: 'pci-0000_41_00_0' }, binding: { source: 'env', env: { DRI_PRIME: 'pci-0000_41_00_0' } } });
    expect((await bindWorkerEnv(select!.env, select!.gpuBinding)).binding).toEqual({ source: 'env', env: { MESA_VK_DEVICE_SELECT: '10de:2335' } });
    expect((await bindWorkerEnv(force!.env, force!.gpuBinding)).env).toEqual({
      DRI_PRIME: 'pci-0000_1f_00_0',
      MESA_VK_DEVICE_SELECT_FORCE_DEFAULT_DEVICE: '0',
      VK_LOADER_DEBUG: 'error',
    });
  });

  it('fails a GPU index nvidia-smi does not list naming the field, the value and what it lists', async () => {
    twoGpus();
    const [, spec] = specs([{ id: 'cpu0' }, { id: 'w3', gpu: 3, engine: 'webgpu' }]);
    await expect(bindWorkerEnv(spec!.env, spec!.gpuBinding)).rejects.toThrow(
      'synthesis.workers[1].gpu: 3 names no GPU here (nvidia-smi lists 0 (00000000:1E:00.0), 1 (00000000:1F:00.0))',
    );
  });

  it('fails when nvidia-smi cannot run, naming the field, the value and the command', async () => {
    const [spec] = specs([{ id: 'w0', gpu: 0, engine: 'webgpu' }], '/nonexistent/nvidia-smi');
    await expect(bindWorkerEnv(spec!.env, spec!.gpuBinding)).rejects.toThrow(
      /^synthesis\.workers\[0\]\.gpu: 0 cannot be bound to its GPU for WebGPU: nvidia-smi lists nothing \("\/nonexistent\/nvidia-smi" not found\)/,
    );
  });

  it('fails the worker\'s load in the pool, naming the field, before any process starts', async () => {
    twoGpus();
    const pool = new SynthesisPool({ workers: specs([{ id: 'w5', gpu: 5, engine: 'webgpu' }]), log: captureLog().log });
    try {
      const err = await pool.load({ id: 'x', path: '/nonexistent/x.onnx', inputs: [], fetch: [] }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(NetworkLoadError);
      // a worker process would have failed on the network file the pool gave it
      expect((err as NetworkLoadError).failures).toEqual([
        { worker: 'w5', message: 'synthesis.workers[0].gpu: 5 names no GPU here (nvidia-smi lists 0 (00000000:1E:00.0), 1 (00000000:1F:00.0))', attempts: [] },
      ]);
      expect(pool.workerPid('w5')).toBeUndefined();
    } finally {
      await pool.close();
    }
  });

  it('binds gance render/live workers the same way, through the config\'s nvidiaSmiPath', async () => {
    twoGpus();
    const config = loadConfigFile();
    config.thermal.sensors.nvidiaSmiPath = FAKE_SMI;
    config.synthesis.workers = [resolveConfig({ ...base, synthesis: { workers: [{ id: 'w4', gpu: 4, engine: 'webgpu' }] } }).synthesis.workers[0]!];
    const local = createLocalRenderer({ config, log: captureLog().log });
    try {
      await local.deps.networks.settled('demo-64');
      expect(local.deps.networks.list().networks.find((n) => n.id === 'demo-64')?.error).toMatch(
        /worker w4: synthesis\.workers\[0\]\.gpu: 4 names no GPU here \(nvidia-smi lists 0 \(00000000:1E:00\.0\), 1 \(00000000:1F:00\.0\)\)/,
      );
    } finally {
      await local.close();
    }
  });
});
