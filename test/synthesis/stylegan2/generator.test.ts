import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { buildGenerator, numWs, randomStateDict, SeededRandom, synthesisLayers, type GeneratorShape } from '../../../src/synthesis/stylegan2/index.ts';
import { mappingForward } from '../../../src/synthesis/stylegan2/random-weights.ts';
import { maxAbsDiff, psiTensor, session, zTensor } from './helpers.ts';

// small and fast: 16 px, 3 blocks, 10 layers
const shape: GeneratorShape = { resolution: 16, zDim: 32, wDim: 32, mappingLayers: 8, mappingLrMultiplier: 0.01, channelBase: 128, channelMax: 16, imgChannels: 3, convClamp: null };
const dict = randomStateDict(shape, 3);
const z = new SeededRandom(4).normals(3 * shape.zDim);

async function run(options: Parameters<typeof buildGenerator>[2], feeds: Record<string, ort.Tensor>) {
  const built = buildGenerator(dict, shape, options);
  const s = await session(built.onnx);
  return { built, out: await s.run(feeds), s };
}

describe('StyleGAN2 generator graph', () => {
  it('declares and honours the input/output contract', async () => {
    const { built, out, s } = await run({ outputs: ['frames', 'image'] }, { z: zTensor(z, 3), psi: psiTensor([1, 1, 1]) });
    expect(built.inputs.map((i) => [i.name, i.role, i.dtype, i.shape])).toEqual([
      ['z', 'latent', 'float32', ['N', 32]],
      ['psi', 'psi', 'float32', ['N']],
    ]);
    expect(s.outputNames).toEqual(['frames', 'image']);
    expect(out.frames!.type).toBe('uint8');
    expect(out.frames!.dims).toEqual([3, 16, 16, 3]);
    expect(out.image!.type).toBe('float32');
    expect(out.image!.dims).toEqual([3, 3, 16, 16]);
    // frames are image * 127.5 + 128, clamped and truncated, in NHWC
    const img = out.image!.data as Float32Array;
    const frames = out.frames!.data as Uint8Array;
    for (const [n, y, x, c] of [[0, 0, 0, 0], [2, 15, 7, 2], [1, 3, 12, 1]] as const) {
      const v = img[((n * 3 + c) * 16 + y) * 16 + x]!;
      expect(Math.abs(frames[((n * 16 + y) * 16 + x) * 3 + c]! - Math.min(255, Math.max(0, Math.trunc(v * 127.5 + 128))))).toBeLessThanOrEqual(1);
    }
  });

  it('is deterministic, and different z give different images', async () => {
    const built = buildGenerator(dict, shape, { outputs: ['image'] });
    expect(Buffer.from(buildGenerator(dict, shape, { outputs: ['image'] }).onnx).equals(Buffer.from(built.onnx))).toBe(true);
    const s = await session(built.onnx);
    const a = (await s.run({ z: zTensor(z, 3), psi: psiTensor([1, 1, 1]) })).image!.data as Float32Array;
    const b = (await s.run({ z: zTensor(z, 3), psi: psiTensor([1, 1, 1]) })).image!.data as Float32Array;
    expect(maxAbsDiff(a, b)).toBe(0);
    expect(maxAbsDiff(a.subarray(0, 768), a.subarray(768, 1536))).toBeGreaterThan(0.05);
  });

  it('truncation: psi 0 gives the w_avg image for every z; psi 1 does not', async () => {
    const { out } = await run({ outputs: ['image'] }, { z: zTensor(z, 3), psi: psiTensor([0, 0, 1]) });
    const img = out.image!.data as Float32Array;
    expect(maxAbsDiff(img.subarray(0, 768), img.subarray(768, 1536))).toBeLessThan(1e-5);
    expect(maxAbsDiff(img.subarray(0, 768), img.subarray(1536))).toBeGreaterThan(0.05);
  });

  it('w input equals z input fed the same w (mapping computed outside the graph)', async () => {
    const psi = 0.6;
    const zs = z.subarray(0, shape.zDim);
    const wAvg = dict.get('mapping.w_avg')!.data;
    const w = mappingForward(dict, shape, zs).map((v, i) => wAvg[i]! + psi * (v - wAvg[i]!));
    const nWs = numWs(shape);
    const ws = new Float32Array(nWs * shape.wDim);
    for (let k = 0; k < nWs; k++) ws.set(w, k * shape.wDim);
    const viaW = await run({ input: 'w', outputs: ['image'] }, { w: new ort.Tensor('float32', ws, [1, nWs, shape.wDim]) });
    expect(viaW.built.inputs.map((i) => [i.name, i.shape])).toEqual([['w', ['N', nWs, shape.wDim]]]);
    const viaZ = await run({ outputs: ['image'] }, { z: zTensor(Float32Array.from(zs), 1), psi: psiTensor([psi]) });
    expect(maxAbsDiff(viaW.out.image!.data as Float32Array, viaZ.out.image!.data as Float32Array)).toBeLessThan(1e-4);
  });

  it('w input uses each layer its own w (style mixing changes the image)', async () => {
    const nWs = numWs(shape);
    const base = new SeededRandom(9).normals(shape.wDim);
    const other = new SeededRandom(10).normals(shape.wDim);
    const ws = new Float32Array(nWs * shape.wDim);
    for (let k = 0; k < nWs; k++) ws.set(k < nWs / 2 ? base : other, k * shape.wDim);
    const same = new Float32Array(nWs * shape.wDim);
    for (let k = 0; k < nWs; k++) same.set(base, k * shape.wDim);
    const built = buildGenerator(dict, shape, { input: 'w', outputs: ['image'] });
    const s = await session(built.onnx);
    const mixed = (await s.run({ w: new ort.Tensor('float32', ws, [1, nWs, shape.wDim]) })).image!.data as Float32Array;
    const plain = (await s.run({ w: new ort.Tensor('float32', same, [1, nWs, shape.wDim]) })).image!.data as Float32Array;
    expect(maxAbsDiff(mixed, plain)).toBeGreaterThan(0.01);
  });

  it('noise: input noise equal to noise_const reproduces const mode; other noise changes the image; none differs', async () => {
    const feeds = { z: zTensor(z.subarray(0, 32).slice(), 1), psi: psiTensor([1]) };
    const constImg = (await run({ noise: 'const', outputs: ['image'] }, feeds)).out.image!.data as Float32Array;
    const noneImg = (await run({ noise: 'none', outputs: ['image'] }, feeds)).out.image!.data as Float32Array;
    const built = buildGenerator(dict, shape, { noise: 'input', outputs: ['image'] });
    const convLayers = synthesisLayers(shape).filter((l) => l.kind !== 'torgb');
    expect(built.inputs.filter((i) => i.role === 'noise').map((i) => i.name)).toEqual(convLayers.map((l) => `noise_${l.prefix.slice('synthesis.'.length).replace('.', '_')}`));
    const s = await session(built.onnx);
    const noiseFeeds = (pick: (l: (typeof convLayers)[number]) => Float32Array) =>
      Object.fromEntries(convLayers.map((l) => [`noise_${l.prefix.slice('synthesis.'.length).replace('.', '_')}`, new ort.Tensor('float32', pick(l), [1, 1, l.resolution, l.resolution])]));
    const same = (await s.run({ ...feeds, ...noiseFeeds((l) => dict.get(`${l.prefix}.noise_const`)!.data) })).image!.data as Float32Array;
    const zero = (await s.run({ ...feeds, ...noiseFeeds((l) => new Float32Array(l.resolution ** 2)) })).image!.data as Float32Array;
    const rnd = (await s.run({ ...feeds, ...noiseFeeds((l) => new SeededRandom(l.resolution).normals(l.resolution ** 2)) })).image!.data as Float32Array;
    expect(maxAbsDiff(same, constImg)).toBeLessThan(1e-5);
    expect(maxAbsDiff(zero, noneImg)).toBeLessThan(1e-5);
    expect(maxAbsDiff(rnd, constImg)).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(noneImg, constImg)).toBeGreaterThan(1e-3);
  });

  it('fp16 agrees with fp32 within tolerance', async () => {
    const feeds = { z: zTensor(z, 3), psi: psiTensor([1, 0.7, 0.3]) };
    const a = (await run({ dtype: 'float32', outputs: ['image'] }, feeds)).out.image!.data as Float32Array;
    const b = (await run({ dtype: 'float16', outputs: ['image'] }, feeds)).out.image!.data as Float32Array;
    expect(maxAbsDiff(a, b)).toBeLessThan(2e-2);
  });

  it('resizes frames in the graph', async () => {
    const { built, out } = await run({ resize: { width: 40, height: 24, mode: 'linear' } }, { z: zTensor(z, 3), psi: psiTensor([1, 1, 1]) });
    expect(out.frames!.dims).toEqual([3, 24, 40, 3]);
    expect(built.output).toEqual({ width: 40, height: 24, resize: 'linear' });
  });

  it('weight modulation needs batch 1 and then runs only batch 1', async () => {
    expect(() => buildGenerator(dict, shape, { modulation: 'weight' })).toThrow(/needs batch 1/);
    const built = buildGenerator(dict, shape, { modulation: 'weight', batch: 1 });
    expect(built.inputs[0]!.shape).toEqual([1, 32]);
    const s = await session(built.onnx);
    await expect(s.run({ z: zTensor(z, 3), psi: psiTensor([1, 1, 1]) })).rejects.toThrow(/z|dimension|shape/i);
  });

  it('keeps the graph small: one Split per stack, at most 14 outputs each', () => {
    const built = buildGenerator(dict, shape, { modulation: 'activation' });
    expect(built.opCounts.Slice ?? 0).toBe(0);
    expect(built.opCounts.Split).toBeGreaterThanOrEqual(3);
    expect(built.hostNodes.length).toBeGreaterThan(20);
    expect(built.hostNodes.every((n) => n.startsWith('host/'))).toBe(true);
  });
});
