/**
 * GANce noise's elementwise steps through WebAssembly (kernels/noise.as.ts): the same float32 values as
 * noise.ts's JavaScript loops, which stay for engines without WebAssembly SIMD.
 */
import { ln } from '../features/detmath.ts';
import { instantiateKernel, type KernelMemory } from '../kernels/load.ts';

interface Exports extends KernelMemory {
  seed: (state: number, seed: number) => void;
  gauss: (out: number, count: number) => void;
  sumSquares: (x: number, count: number) => number;
  divideExtremes: (x: number, count: number, d: number, ext: number) => void;
  scaleOffset: (x: number, count: number, scale: number, offset: number) => void;
}

const STATE = 0;
const EXTREMES = 4096;
const DATA = 8192;

export interface NoiseKernel {
  /** numpy RandomState(seed).randn(count) as float32 */
  gauss(seed: number, count: number): Float32Array;
  sumSquares(x: Float32Array): number;
  /** x / d in float32 in place; returns [min, max] */
  divideExtremes(x: Float32Array, d: number): [number, number];
  scaleOffset(x: Float32Array, scale: number, offset: number): void;
}

/** A kernel with room for `count` float32 values, or null without WebAssembly SIMD. */
export function noiseKernel(count: number): NoiseKernel | null {
  const exp = instantiateKernel<Exports>('noise', DATA + count * 4, { ln });
  if (!exp) return null;
  const data = () => new Float32Array(exp.memory.buffer, DATA, count);
  const run = (x: Float32Array, f: () => void) => {
    const d = data();
    d.set(x);
    f();
    x.set(d);
  };
  return {
    gauss(seed, n) {
      exp.seed(STATE, seed);
      exp.gauss(DATA, n);
      return data().slice(0, n);
    },
    sumSquares(x) {
      data().set(x);
      return exp.sumSquares(DATA, x.length);
    },
    divideExtremes(x, d) {
      run(x, () => exp.divideExtremes(DATA, x.length, d, EXTREMES));
      const e = new Float32Array(exp.memory.buffer, EXTREMES, 2);
      return [e[0]!, e[1]!];
    },
    scaleOffset(x, scale, offset) {
      run(x, () => exp.scaleOffset(DATA, x.length, scale, offset));
    },
  };
}
