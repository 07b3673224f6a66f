/**
 * The webgpu engine against the ONNX graph on onnxruntime's CPU provider, through the real worker
 * pool: the engine runs in a worker process on the machine's WebGPU adapter (lavapipe, Mesa's
 * software Vulkan driver, on CI), the reference in this process. Networks: the bundled demo, a
 * demo-shaped random network with both outputs (z input, constant noise), the same with w and
 * noise inputs, and the official-architecture fixture imported from its state dict (conv clamp 2).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SynthesisPool, type PoolNetwork } from '../../../src/synthesis/pool/pool.ts';
import type { TensorType } from '../../../src/synthesis/pool/protocol.ts';
import { demoShape, randomSourceHash, randomStateDict, readSidecar, writeNetwork, importNetwork, type BuildOptions } from '../../../src/synthesis/stylegan2/index.ts';
import { captureLog, Reference } from '../pool/helpers.ts';
import { TINY_WEIGHTS } from '../stylegan2/helpers.ts';

const DEMO = fileURLToPath(new URL('../../../config/networks/demo-64.onnx', import.meta.url));

function network(id: string, path: string): PoolNetwork {
  const sc = readSidecar(path.replace(/\.onnx$/, '.json'));
  return {
    id,
    path,
    inputs: sc.inputs.map((i) => ({ name: i.name, type: i.dtype as TensorType, dims: i.shape.slice(1) as number[] })),
    fetch: [],
    batch: sc.batch,
  };
}

/** Seeded feeds of one frame: latents about N(0, 1), psi from 1 down to 0.5 by frame. */
function feeds(net: PoolNetwork, frame: number): Record<string, Float32Array> {
  let s = (frame + 1) * 7919;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  };
  const out: Record<string, Float32Array> = {};
  for (const i of net.inputs) {
    const n = i.dims.reduce((a, b) => a * b, 1);
    out[i.name] = i.name === 'psi' ? Float32Array.of(1 - 0.1 * frame) : Float32Array.from({ length: n }, () => next() * 1.7);
  }
  return out;
}

describe('webgpu engine vs the ONNX CPU path', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gance-webgpu-'));
  const ref = new Reference();
  const { log } = captureLog();
  let pool: SynthesisPool;
  const nets: Record<string, PoolNetwork> = {};

  beforeAll(async () => {
    const shape = demoShape();
    const dict = randomStateDict(shape, 5);
    const src = { kind: 'random' as const, seed: 5, hash: randomSourceHash(shape, 5) };
    const both: Partial<BuildOptions> = { outputs: ['frames', 'image'] };
    writeNetwork(dict, shape, join(dir, 'rand-z.onnx'), src, both);
    writeNetwork(dict, shape, join(dir, 'rand-w.onnx'), src, { ...both, input: 'w', noise: 'input' });
    importNetwork(TINY_WEIGHTS, join(dir, 'tiny.onnx'), both);
    nets.demo = network('demo', DEMO);
    nets.randZ = network('rand-z', join(dir, 'rand-z.onnx'));
    nets.randW = network('rand-w', join(dir, 'rand-w.onnx'));
    nets.tiny = network('tiny', join(dir, 'tiny.onnx'));
    pool = new SynthesisPool({
      workers: [{ id: 'gpu0', providers: [{ name: 'cpu' }], isolation: 'process', intraOpThreads: 1, engine: 'webgpu' }],
      log,
      maxBatch: 4,
      warmupRuns: 1,
      restartDelayMs: 20,
    });
    for (const n of Object.values(nets)) await pool.load(n);
  }, 120_000);

  afterAll(async () => {
    await pool?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports the engine and the adapter it opened', () => {
    const where = pool.loadedNetworks().get('demo')!;
    expect(where).toHaveLength(1);
    expect(where[0]).toMatchObject({ worker: 'gpu0', engine: 'webgpu', provider: 'webgpu', isolation: 'process' });
    expect(where[0]!.adapter?.description).toMatch(/llvmpipe|NVIDIA|AMD|Intel/i);
  });

  for (const key of ['demo', 'randZ', 'randW', 'tiny'] as const) {
    it(`${key}: images within 1e-4 of the ONNX graph, frames within one step, in order, batched`, async () => {
      const net = nets[key]!;
      pool.activate(net.id);
      const count = 6; // a batch of 4 and one of 2 (or as the pool splits them)
      const frames = await Promise.all(Array.from({ length: count }, (_, i) => pool.submit({ feeds: feeds(net, i), network: net.id })));
      expect(frames.map((f) => f.seq)).toEqual([...frames.map((f) => f.seq)].sort((a, b) => a - b));
      expect(Math.max(...frames.map((f) => f.batchSize))).toBeGreaterThan(1);
      let worstImage = 0;
      let frameSteps = 0;
      let total = 0;
      for (let i = 0; i < count; i++) {
        const want = await ref.run(net, feeds(net, i));
        const got = frames[i]!.outputs;
        const wf = want.frames as Uint8Array;
        const gf = got.frames!.data as Uint8Array;
        expect(gf.length).toBe(wf.length);
        for (let k = 0; k < wf.length; k++) {
          const d = Math.abs(wf[k]! - gf[k]!);
          expect(d).toBeLessThanOrEqual(1);
          frameSteps += d;
        }
        total += wf.length;
        if (want.image) {
          const wi = want.image as Float32Array;
          const gi = got.image!.data as Float32Array;
          const res = Math.sqrt(wi.length / 3);
          expect(got.image!.dims).toEqual([3, res, res]);
          for (let k = 0; k < wi.length; k++) worstImage = Math.max(worstImage, Math.abs(wi[k]! - gi[k]!));
          // the image must not be degenerate: something of its range shows
          expect(Math.max(...wi)).toBeGreaterThan(0.2);
        }
      }
      expect(worstImage).toBeLessThan(1e-4);
      // a step only where the image sits on a rounding boundary
      expect(frameSteps / total).toBeLessThan(0.01);
    }, 120_000);
  }

  it('refuses a network it cannot compute, naming why', async () => {
    const shape = demoShape();
    const dict = randomStateDict(shape, 9);
    writeNetwork(dict, shape, join(dir, 'resized.onnx'), { kind: 'random', seed: 9, hash: randomSourceHash(shape, 9) }, { resize: { width: 32, height: 32, mode: 'linear' } });
    await expect(pool.load(network('resized', join(dir, 'resized.onnx')))).rejects.toThrow(/resizes its frames/);
  }, 60_000);
});
