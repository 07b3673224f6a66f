/**
 * Two webgpu worker processes, each bound to its adapter through its own config, the way two GPUs
 * would be: one by Dawn's adapter name, one by Mesa's device-select layer in its env. Here both
 * bindings resolve to lavapipe (the only adapter on CI); what the test shows is that each worker
 * opens the adapter its config names and says so, that a 20-frame stream split over both comes
 * back complete and in order (every frame against the ONNX CPU frame of the same inputs), and that
 * a binding to an adapter that is not there stops the load naming the worker and the adapter
 * instead of falling back to another GPU.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '../../../src/config/load.ts';
import { workerSpecs } from '../../../src/synthesis/config.ts';
import { NetworkLoadError, SynthesisPool, type PoolNetwork } from '../../../src/synthesis/pool/pool.ts';
import type { TensorType } from '../../../src/synthesis/pool/protocol.ts';
import { importNetwork, readSidecar } from '../../../src/synthesis/stylegan2/index.ts';
import { deviceSelectProblem, listSelectableGpus, parseSelectableList } from '../../../src/synthesis/webgpu/device-select.ts';
import { captureLog, Reference } from '../pool/helpers.ts';
import { TINY_WEIGHTS } from '../stylegan2/helpers.ts';

const base = {
  cooler: { driver: 'simulated', fans: [{ id: 'f0', channel: 0 }] },
  thermal: { sensors: { source: 'simulated' }, zones: [{ id: 'z0', gpus: [0], fans: ['f0'], mode: 'pid', pid: { setpoint: 75 } }] },
};

function network(id: string, path: string): PoolNetwork {
  const sc = readSidecar(path.replace(/\.onnx$/, '.json'));
  return { id, path, inputs: sc.inputs.map((i) => ({ name: i.name, type: i.dtype as TensorType, dims: i.shape.slice(1) as number[] })), fetch: [], batch: sc.batch };
}

/** Seeded latents per frame index: a frame out of place differs from the reference of its index. */
function feeds(net: PoolNetwork, frame: number): Record<string, Float32Array> {
  let s = (frame + 1) * 7919;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  };
  const out: Record<string, Float32Array> = {};
  for (const i of net.inputs) out[i.name] = i.name === 'psi' ? Float32Array.of(1) : Float32Array.from({ length: i.dims.reduce((a, b) => a * b, 1) }, () => next() * 1.7);
  return out;
}

/** Workers as the daemon builds them from `synthesis.workers`. */
function pool(workers: unknown[]): SynthesisPool {
  const config = resolveConfig({ ...base, synthesis: { workers, maxBatch: 2, pipelineDepth: 2 } }).synthesis;
  return new SynthesisPool({ workers: workerSpecs(config), log: captureLog().log, maxBatch: 2, pipelineDepth: 2, warmupRuns: 1, restartDelayMs: 20 });
}

describe('device-select binding check (the layer falls back silently on its own)', () => {
  // the layer's list on a host with two H200s (format of Mesa's device_select_layer print_gpu)
  const twoH200 = [
    'selectable devices:',
    '  GPU 0: 10de:2335 "NVIDIA H200" discrete GPU 0000:41:00.0',
    '  GPU 1: 10de:2335 "NVIDIA H200" discrete GPU 0000:c1:00.0',
    '  GPU 2: 10005:0 "llvmpipe (LLVM 15.0.6, 256 bits)" CPU',
  ].join('\n');
  const gpus = parseSelectableList(twoH200);

  it('reads ids, names and bus addresses of the list', () => {
    expect(gpus.map((g) => [g.index, g.vendorId, g.deviceId, g.name, g.bus])).toEqual([
      [0, 0x10de, 0x2335, 'NVIDIA H200', '0000:41:00.0'],
      [1, 0x10de, 0x2335, 'NVIDIA H200', '0000:c1:00.0'],
      [2, 0x10005, 0, 'llvmpipe (LLVM 15.0.6, 256 bits)', undefined],
    ]);
  });

  it('passes a GPU that is there, refuses one that is not, naming the variable and what is offered', () => {
    expect(deviceSelectProblem({ DRI_PRIME: 'pci-0000_c1_00_0' }, () => gpus)).toBeUndefined();
    expect(deviceSelectProblem({ MESA_VK_DEVICE_SELECT: '10de:2335' }, () => gpus)).toBeUndefined();
    expect(deviceSelectProblem({}, () => gpus)).toBeUndefined();
    expect(deviceSelectProblem({ DRI_PRIME: 'pci-0000_81_00_0' }, () => gpus)).toMatch(/DRI_PRIME="pci-0000_81_00_0" names no GPU here .*0000:41:00\.0.*0000:c1:00\.0/);
    expect(deviceSelectProblem({ MESA_VK_DEVICE_SELECT: '10de:2330' }, () => gpus)).toMatch(/MESA_VK_DEVICE_SELECT="10de:2330" names no GPU here/);
    expect(deviceSelectProblem({ MESA_VK_DEVICE_SELECT: 'gpu1' }, () => gpus)).toMatch(/not vendor:device in hex/);
  });

  it('lists lavapipe through the real layer on this machine', () => {
    const { gpus: here, raw } = listSelectableGpus();
    expect(here.some((g) => g.vendorId === 0x10005 && /llvmpipe/.test(g.name)), raw).toBe(true);
  }, 60_000);
});

describe('two webgpu workers, each bound to its adapter', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gance-multi-webgpu-'));
  const ref = new Reference();
  let two: SynthesisPool;
  let net: PoolNetwork;

  beforeAll(async () => {
    importNetwork(TINY_WEIGHTS, join(dir, 'tiny.onnx'));
    net = network('tiny', join(dir, 'tiny.onnx'));
    two = pool([
      { id: 'gpu0', engine: 'webgpu', adapter: { adapter: 'llvmpipe' } },
      { id: 'gpu1', engine: 'webgpu', env: { MESA_VK_DEVICE_SELECT: '10005:0', MESA_VK_DEVICE_SELECT_FORCE_DEFAULT_DEVICE: '1' } },
    ]);
    await two.load(net);
    two.activate(net.id);
  }, 180_000);

  afterAll(async () => {
    await two?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('each worker reports the adapter it was bound to, from its own process', () => {
    const where = two.loadedNetworks().get('tiny')!;
    expect(where.map((w) => [w.worker, w.engine, w.isolation])).toEqual([
      ['gpu0', 'webgpu', 'process'],
      ['gpu1', 'webgpu', 'process'],
    ]);
    for (const w of where) expect(w.adapter).toMatchObject({ vendor: 'mesa', architecture: 'software', description: expect.stringMatching(/^llvmpipe/) });
    // the binding set in gpu1's env is shown as its own; gpu0 is bound by adapter name alone
    expect(where.map((w) => w.binding)).toEqual([undefined, { source: 'env', env: { MESA_VK_DEVICE_SELECT: '10005:0', MESA_VK_DEVICE_SELECT_FORCE_DEFAULT_DEVICE: '1' } }]);
    expect(where[0]!.pid).not.toBe(where[1]!.pid);
  });

  it('a 20-frame stream over both comes back complete and in order, each frame its own inputs', async () => {
    const count = 20;
    const got = [];
    for await (const f of two.stream(Array.from({ length: count }, (_, i) => ({ feeds: feeds(net, i) })))) got.push(f);
    expect(got).toHaveLength(count);
    expect(got.map((f) => f.seq)).toEqual([...got.map((f) => f.seq)].sort((a, b) => a - b));
    expect(new Set(got.map((f) => f.worker))).toEqual(new Set(['gpu0', 'gpu1']));
    for (let i = 0; i < count; i++) {
      const want = (await ref.run(net, feeds(net, i))).frames as Uint8Array;
      const frame = got[i]!.outputs.frames!.data as Uint8Array;
      expect(frame.length).toBe(want.length);
      let steps = 0;
      for (let k = 0; k < want.length; k++) {
        const d = Math.abs(want[k]! - frame[k]!);
        expect(d, `frame ${i} byte ${k} (from ${got[i]!.worker})`).toBeLessThanOrEqual(1);
        steps += d;
      }
      expect(steps / want.length).toBeLessThan(0.01);
    }
    // neighbouring frames differ by far more than one step, so a swap would have shown above
    const a = (await ref.run(net, feeds(net, 0))).frames as Uint8Array;
    const b = (await ref.run(net, feeds(net, 1))).frames as Uint8Array;
    expect(a.reduce((s, v, k) => s + Math.abs(v - b[k]!), 0) / a.length).toBeGreaterThan(2);
  }, 180_000);

  for (const [what, worker, needle] of [
    ['an adapter name that no adapter has', { id: 'gpu7', engine: 'webgpu', adapter: { adapter: 'NoSuchGPU' } }, /adapter "NoSuchGPU"/],
    ['a device-select id that is not there', { id: 'gpu7', engine: 'webgpu', env: { MESA_VK_DEVICE_SELECT: '10de:2335', MESA_VK_DEVICE_SELECT_FORCE_DEFAULT_DEVICE: '1' } }, /MESA_VK_DEVICE_SELECT="10de:2335" names no GPU here/],
  ] as const) {
    it(`a worker bound to ${what} fails the load naming the worker and the adapter`, async () => {
      const p = pool([{ id: 'gpu0', engine: 'webgpu' }, worker]);
      try {
        const err = await p.load(net).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(NetworkLoadError);
        const e = err as NetworkLoadError;
        expect(e.message).toMatch(/worker gpu7: no WebGPU/);
        expect(e.message).toMatch(needle);
        expect(e.failures.map((f) => f.worker)).toEqual(['gpu7']);
        expect(p.loadedNetworks().get('tiny')).toBeUndefined();
      } finally {
        await p.close();
      }
    }, 120_000);
  }
});
