/**
 * The engine's f16 conv arithmetic on the machine's WebGPU adapter (lavapipe on CI, which has
 * shader-f16), held to the error today's float16 ONNX graph has: a random demo-shaped network and
 * the official-architecture fixture (imported from its state dict), each built twice from
 * the same weights (float32 and float16 graphs), both run on onnxruntime's CPU
 * provider for the same latents; the f16 engine, on the float32 network, must stay within twice the
 * float16 graph's error against the float32 graph (worst pixel and mean), and must differ from the
 * f32 engine (else the f16 path did not run).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { demoShape, importNetwork, randomSourceHash, randomStateDict, readSidecar, writeNetwork } from '../../../src/synthesis/stylegan2/index.ts';
import { TINY_WEIGHTS } from '../stylegan2/helpers.ts';
import { buildPlan, type EnginePlan } from '../../../src/synthesis/webgpu/plan.ts';
import { openDevice, type OpenedDevice } from '../../../src/synthesis/webgpu/gpu.ts';
import { WebGpuSynthesis, type EngineOptions } from '../../../src/synthesis/webgpu/engine.ts';
import { resolvePrecision } from '../../../src/synthesis/webgpu/host.ts';
import { SynthesisPool } from '../../../src/synthesis/pool/pool.ts';
import { captureLog } from '../pool/helpers.ts';

const N = 3;

function latents(zDim: number): { z: Float32Array; psi: Float32Array } {
  let s = 424242;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  };
  return { z: Float32Array.from({ length: N * zDim }, () => next() * 1.7), psi: Float32Array.from({ length: N }, (_, i) => 1 - 0.2 * i) };
}

async function onnxImage(path: string, z: Float32Array, psi: Float32Array, zDim: number): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(path, { intraOpNumThreads: 1 });
  try {
    const out = await session.run({ z: new ort.Tensor('float32', z, [N, zDim]), psi: new ort.Tensor('float32', psi, [N]) });
    return Float32Array.from(out.image!.data as Float32Array);
  } finally {
    await session.release();
  }
}

function errors(got: Float32Array, want: Float32Array): { max: number; mean: number } {
  expect(got.length).toBe(want.length);
  let max = 0;
  let sum = 0;
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs(got[i]! - want[i]!);
    max = Math.max(max, d);
    sum += d;
  }
  return { max, mean: sum / got.length };
}

describe('webgpu engine, f16 conv arithmetic', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gance-webgpu-f16-'));
  let opened: OpenedDevice;
  interface Net {
    plan: EnginePlan;
    feeds: Map<string, Float32Array>;
    ref32: Float32Array;
    ref16: Float32Array;
  }
  const nets: Record<string, Net> = {};
  let pool: SynthesisPool | undefined;

  const render = async (net: Net, options: Omit<EngineOptions, 'maxBatch'>): Promise<Float32Array> => {
    const engine = WebGpuSynthesis.create(opened.device, net.plan, { maxBatch: N, ...options });
    try {
      return (await engine.run(net.feeds, N)).image!;
    } finally {
      engine.destroy();
    }
  };

  beforeAll(async () => {
    const shape = demoShape();
    const dict = randomStateDict(shape, 11);
    const src = { kind: 'random' as const, seed: 11, hash: randomSourceHash(shape, 11) };
    writeNetwork(dict, shape, join(dir, 'demo-f32.onnx'), src, { outputs: ['image'] });
    writeNetwork(dict, shape, join(dir, 'demo-f16.onnx'), src, { outputs: ['image'], dtype: 'float16' });
    importNetwork(TINY_WEIGHTS, join(dir, 'tiny-f32.onnx'), { outputs: ['image'] });
    importNetwork(TINY_WEIGHTS, join(dir, 'tiny-f16.onnx'), { outputs: ['image'], dtype: 'float16' });
    for (const key of ['demo', 'tiny']) {
      const plan = buildPlan(join(dir, `${key}-f32.onnx`), readSidecar(join(dir, `${key}-f32.json`)));
      const zDim = plan.shape.zDim;
      const { z, psi } = latents(zDim);
      nets[key] = {
        plan,
        feeds: new Map([
          [plan.latentName, z],
          [plan.psiName!, psi],
        ]),
        ref32: await onnxImage(join(dir, `${key}-f32.onnx`), z, psi, zDim),
        ref16: await onnxImage(join(dir, `${key}-f16.onnx`), z, psi, zDim),
      };
    }
    opened = await openDevice({ f16: true });
  }, 120_000);

  afterAll(async () => {
    await pool?.close();
    opened?.device.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('has an adapter with shader-f16 (lavapipe has it; CI must exercise the f16 path)', () => {
    expect(opened.adapter.features).toContain('shader-f16');
    expect(opened.features.f16).toBe(true);
  });

  for (const key of ['demo', 'tiny']) {
    it(`${key}: renders within twice the float16 graph error against the float32 graph`, async () => {
      const net = nets[key]!;
      const { ref32, ref16 } = net;
      expect(Math.max(...ref32) - Math.min(...ref32)).toBeGreaterThan(0.5);
      const onnx16 = errors(ref16, ref32);
      const eng32 = errors(await render(net, { precision: 'f32' }), ref32);
      const eng16 = errors(await render(net, { precision: 'f16' }), ref32);
      console.log(
        `f16 figures, ${key} (${N} images, |diff| on [-1, 1] images vs the float32 graph on ORT CPU): ` +
          `float16 graph max ${onnx16.max.toExponential(3)} mean ${onnx16.mean.toExponential(3)}; ` +
          `f16 engine max ${eng16.max.toExponential(3)} mean ${eng16.mean.toExponential(3)}; ` +
          `f32 engine max ${eng32.max.toExponential(3)}`,
      );
      // the float16 graph is measurably off, or the bound below means nothing
      expect(onnx16.max).toBeGreaterThan(1e-3);
      expect(eng32.max).toBeLessThan(1e-4);
      // the f16 path ran: its error is of the float16 kind, far above the f32 engine's
      expect(eng16.max).toBeGreaterThan(10 * eng32.max);
      expect(eng16.max).toBeLessThanOrEqual(2 * onnx16.max);
      expect(eng16.mean).toBeLessThanOrEqual(2 * onnx16.mean);
    }, 120_000);
  }

  it('a worker with precision auto gets f16 on this adapter, says so, and renders within the bound', async () => {
    pool = new SynthesisPool({
      workers: [{ id: 'gpu0', providers: [{ name: 'cpu' }], isolation: 'process', intraOpThreads: 1, engine: 'webgpu', adapter: { precision: 'auto' } }],
      log: captureLog().log,
      maxBatch: N,
      warmupRuns: 0,
      restartDelayMs: 20,
    });
    const { plan, feeds, ref32, ref16 } = nets.demo!;
    const zDim = plan.shape.zDim;
    await pool.load({ id: 'net', path: join(dir, 'demo-f32.onnx'), inputs: [{ name: 'z', type: 'float32', dims: [zDim] }, { name: 'psi', type: 'float32', dims: [] }], fetch: [], batch: null });
    expect(pool.loadedNetworks().get('net')![0]!.adapter).toMatchObject({ precision: 'f16' });
    expect(pool.loadedNetworks().get('net')![0]!.adapter?.precisionNote).toBeUndefined();
    pool.activate('net');
    const z = feeds.get('z')!;
    const psi = feeds.get('psi')!;
    const frames = await Promise.all(Array.from({ length: N }, (_, i) => pool!.submit({ network: 'net', feeds: { z: z.slice(i * zDim, (i + 1) * zDim), psi: psi.slice(i, i + 1) } })));
    const image = new Float32Array(ref32.length);
    frames.forEach((f, i) => image.set(f.outputs.image!.data as Float32Array, (i * ref32.length) / N));
    const onnx16 = errors(ref16, ref32);
    const got = errors(image, ref32);
    expect(got.max).toBeGreaterThan(1e-4);
    expect(got.max).toBeLessThanOrEqual(2 * onnx16.max);
  }, 120_000);

  it('precision f16 on a device without shader-f16 fails naming the adapter; auto falls back to f32 saying why', async () => {
    // a real device created without the feature, as the host gets where the adapter lacks it
    const plain = await openDevice({});
    try {
      expect(() => resolvePrecision('f16', plain)).toThrow(/precision f16: adapter "[^"]*llvmpipe[^"]*" has no shader-f16 feature/i);
      expect(resolvePrecision('auto', plain)).toEqual({ use: 'f32', note: expect.stringMatching(/^auto: adapter ".+" has no shader-f16 feature; computing in f32$/) });
      expect(resolvePrecision(undefined, opened)).toEqual({ use: 'f32' });
      expect(resolvePrecision('auto', opened)).toEqual({ use: 'f16' });
    } finally {
      plain.device.destroy();
    }
  });

  it('refuses f16 on a device without shader-f16, and on the square kernel', async () => {
    const plain = await openDevice({});
    try {
      expect(plain.features.f16).toBe(false);
      expect(() => WebGpuSynthesis.create(plain.device, nets.demo!.plan, { maxBatch: 1, precision: 'f16' })).toThrow(/without the 'shader-f16' feature/);
    } finally {
      plain.device.destroy();
    }
    expect(() => WebGpuSynthesis.create(opened.device, nets.demo!.plan, { maxBatch: 1, precision: 'f16', kernel: 'square' })).toThrow(/needs the wide conv kernel/);
  });
});
