/**
 * A tiny network with the shape of the synthesis contract (w in, uint8 NHWC frames out), built
 * with the project's ONNX graph builder, for pool tests that need many quick real inferences and
 * two networks that render the same w differently.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OnnxGraph, int, ints } from '../../../src/synthesis/onnx/graph.ts';
import type { PoolNetwork } from '../../../src/synthesis/pool/pool.ts';

export const TINY = { numWs: 4, wDim: 8, size: 8 } as const;

function seeded(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

/** ONNX bytes: image = uint8(127.5 + 127.5 * tanh(mean_over_ws(w) @ W)), shape [N, size, size, 3]. */
export function tinyNetBytes(seed: number, size: number = TINY.size): Uint8Array {
  const { numWs, wDim } = TINY;
  const g = new OnnxGraph(`tiny-${seed}`);
  const w = g.input('w', 'float32', ['N', numWs, wDim]);
  const mean = g.node('ReduceMean', [w], { axes: ints([1]), keepdims: int(0) });
  const rnd = seeded(seed);
  const weights = Array.from({ length: wDim * size * size * 3 }, () => rnd() * 2);
  const proj = g.node('MatMul', [mean, g.initializer('proj', 'float32', [wDim, size * size * 3], weights)]);
  const t = g.node('Tanh', [proj]);
  const scaled = g.node('Add', [g.node('Mul', [t, g.scalar('half', 'float32', 127.5)]), g.scalar('mid', 'float32', 127.5)]);
  const u8 = g.node('Cast', [g.node('Round', [scaled])], { to: int(2) });
  const img = g.node('Reshape', [u8, g.int64s('shape', [-1, size, size, 3])]);
  g.rename(img, 'image');
  g.output('image', 'uint8', ['N', size, size, 3]);
  return g.toBytes();
}

/** Writes tiny networks to a temp dir and returns them as pool networks. */
export function tinyNetworks(seeds: number[], size: number = TINY.size): PoolNetwork[] {
  const dir = mkdtempSync(join(tmpdir(), 'gance-tiny-'));
  return seeds.map((seed) => {
    const path = join(dir, `tiny-${seed}.onnx`);
    writeFileSync(path, tinyNetBytes(seed, size));
    return { id: `tiny-${seed}`, path, inputs: [{ name: 'w', type: 'float32', dims: [TINY.numWs, TINY.wDim] }], fetch: ['image'] };
  });
}

/** A deterministic w for frame i. */
export function tinyW(i: number): Float32Array {
  const rnd = seeded(1000 + i);
  return Float32Array.from({ length: TINY.numWs * TINY.wDim }, () => rnd() * 4);
}
