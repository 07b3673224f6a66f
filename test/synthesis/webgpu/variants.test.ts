/**
 * The engine's kernel variants against each other on the machine's WebGPU adapter (lavapipe on
 * CI): the square conv kernel, the wide one with and without split K, one batch and one at a time.
 * (engine.test.ts holds them all to the ONNX graph; this shows the variants agree where the pool
 * test exercises only the default.) Also: what the plan refuses, naming why.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demoShape, randomSourceHash, randomStateDict, readSidecar, writeNetwork } from '../../../src/synthesis/stylegan2/index.ts';
import { buildPlan, type EnginePlan } from '../../../src/synthesis/webgpu/plan.ts';
import { openDevice } from '../../../src/synthesis/webgpu/gpu.ts';
import { WebGpuSynthesis, type EngineOptions } from '../../../src/synthesis/webgpu/engine.ts';

const N = 3;

function feeds(plan: EnginePlan, n: number): Map<string, Float32Array> {
  let s = 12345;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  };
  const m = new Map<string, Float32Array>();
  m.set(plan.latentName, Float32Array.from({ length: n * plan.shape.zDim }, () => next() * 1.5));
  m.set(plan.psiName!, Float32Array.from({ length: n }, (_, i) => 1 - 0.2 * i));
  return m;
}

describe('webgpu engine variants', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gance-webgpu-var-'));
  let device: GPUDevice;
  let plan: EnginePlan;
  let reference: Float32Array;

  const render = async (options: Omit<EngineOptions, 'maxBatch'>, perSample = false): Promise<Float32Array> => {
    const engine = WebGpuSynthesis.create(device, plan, { maxBatch: N, ...options });
    try {
      if (!perSample) return (await engine.run(feeds(plan, N), N)).image!;
      const all = feeds(plan, N);
      const parts: Float32Array[] = [];
      for (let i = 0; i < N; i++) {
        const one = new Map([...all].map(([k, v]) => [k, v.slice((i * v.length) / N, ((i + 1) * v.length) / N)]));
        parts.push((await engine.run(one, 1)).image!);
      }
      const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
      parts.reduce((off, p) => (out.set(p, off), off + p.length), 0);
      return out;
    } finally {
      engine.destroy();
    }
  };
  const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

  beforeAll(async () => {
    const shape = demoShape();
    const path = join(dir, 'net.onnx');
    writeNetwork(randomStateDict(shape, 4), shape, path, { kind: 'random', seed: 4, hash: randomSourceHash(shape, 4) }, { outputs: ['image'] });
    plan = buildPlan(path, readSidecar(join(dir, 'net.json')));
    device = (await openDevice()).device;
    reference = await render({ kernel: 'square' });
  }, 120_000);

  afterAll(() => {
    device?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('renders a non-trivial image', () => {
    expect(reference.length).toBe(N * 3 * 64 * 64);
    expect(Math.max(...reference) - Math.min(...reference)).toBeGreaterThan(0.5);
  });

  it('agrees across kernels, split K and batching', async () => {
    expect(maxDiff(await render({}), reference)).toBeLessThan(2e-5);
    expect(maxDiff(await render({ splitK: false }), reference)).toBeLessThan(2e-5);
    expect(maxDiff(await render({}, true), reference)).toBeLessThan(2e-5);
  }, 120_000);

  it('refuses networks it cannot compute, naming why', () => {
    const shape = demoShape();
    const path = join(dir, 'sub.onnx');
    writeNetwork(randomStateDict(shape, 4), shape, path, { kind: 'random', seed: 4, hash: randomSourceHash(shape, 4) }, { upsample: 'subpixel' });
    expect(() => buildPlan(path, readSidecar(join(dir, 'sub.json')))).toThrow(/upsample "transpose"; this one has "subpixel"/);
  });

  it('rejects a batch over its size and inputs of the wrong length', async () => {
    const engine = WebGpuSynthesis.create(device, plan, { maxBatch: 2 });
    await expect(engine.run(feeds(plan, 3), 3)).rejects.toThrow(/batch must be 1\.\.2, got 3/);
    await expect(engine.run(feeds(plan, 2), 1)).rejects.toThrow(/input 'z' has 1024 values, expected 1 x 512/);
    engine.destroy();
  });
});
