import { expect } from 'vitest';
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { parseSafetensors } from '../../../src/synthesis/stylegan2/weights-file.ts';
import { fixturePath } from '../../fixtures/stylegan2/make-fixture.ts';

export { TINY_SHAPE, TINY_SEED, PSI, fixturePath } from '../../fixtures/stylegan2/make-fixture.ts';

export const TINY_WEIGHTS = fixturePath('tiny-32.safetensors');

export function fixtureTensors(name: string) {
  const file = fixturePath(name);
  return parseSafetensors(readFileSync(file), file).dict;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

export async function session(model: Uint8Array | string): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(model as never, { graphOptimizationLevel: 'all', intraOpNumThreads: 1 });
}

export function zTensor(data: Float32Array, n: number): ort.Tensor {
  return new ort.Tensor('float32', data, [n, data.length / n]);
}

export function psiTensor(values: number[]): ort.Tensor {
  return new ort.Tensor('float32', Float32Array.from(values), [values.length]);
}

/** Runs a z-input generator one sample at a time (fixed-batch graphs) or all at once. */
export async function runZ(s: ort.InferenceSession, z: Float32Array, psi: number[], perSample: boolean): Promise<{ image: Float32Array; frames: Uint8Array }> {
  const n = psi.length;
  const zDim = z.length / n;
  const step = perSample ? 1 : n;
  const image: number[] = [];
  const frames: number[] = [];
  for (let i = 0; i < n; i += step) {
    const r = await s.run({ z: zTensor(z.slice(i * zDim, (i + step) * zDim), step), psi: psiTensor(psi.slice(i, i + step)) });
    if (r.image) image.push(...(r.image.data as Float32Array));
    if (r.frames) frames.push(...(r.frames.data as Uint8Array));
  }
  return { image: Float32Array.from(image), frames: Uint8Array.from(frames) };
}
