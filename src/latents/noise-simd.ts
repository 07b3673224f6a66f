/**
 * GANce noise's elementwise steps through WebAssembly (kernels/noise.as.ts): the same float32 values as
 * noise.ts's JavaScript loops, which stay for engines without WebAssembly SIMD. The draws and the
 * filtered noise live in the kernel's memory, so no step copies the noise in or out.
 */
import { ln } from '../audio/features/detmath.ts';
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
const RAW = 8192;

export interface NoiseKernel {
  /** numpy RandomState(seed).randn(count) as float32, a view on the kernel's memory */
  gauss(seed: number): Float32Array;
  /** where the filtered noise goes (a view on the kernel's memory); the steps below work on it in place */
  readonly filtered: Float32Array;
  sumSquares(): number;
  /** filtered / d in float32; returns [min, max] */
  divideExtremes(d: number): [number, number];
  scaleOffset(scale: number, offset: number): void;
}

/**
 * A kernel for `count` float32 values, or null without WebAssembly SIMD. `inPlace`: the filtered noise
 * takes the draws' place (a filter that reads all it needs before it writes), half the memory.
 */
export function noiseKernel(count: number, inPlace = false): NoiseKernel | null {
  const filteredAt = inPlace ? RAW : RAW + count * 4;
  const exp = instantiateKernel<Exports>('noise', filteredAt + count * 4, { ln });
  if (!exp) return null;
  const buf = exp.memory.buffer;
  const raw = new Float32Array(buf, RAW, count);
  const extremes = new Float32Array(buf, EXTREMES, 2);
  return {
    filtered: new Float32Array(buf, filteredAt, count),
    gauss(seed) {
      exp.seed(STATE, seed);
      exp.gauss(RAW, count);
      return raw;
    },
    sumSquares: () => exp.sumSquares(filteredAt, count),
    divideExtremes(d) {
      exp.divideExtremes(filteredAt, count, d, EXTREMES);
      return [extremes[0]!, extremes[1]!];
    },
    scaleOffset: (scale, offset) => exp.scaleOffset(filteredAt, count, scale, offset),
  };
}

/** Normals drawn through the kernel per call of drawNormalsInto: its memory stays this small. */
const DRAW_CHUNK = 1 << 20;

/**
 * numpy RandomState(seed).randn(out.length) as float32 into `out`, a chunk at a time through the
 * kernel's memory (the generator's state and its cached second normal carry over from chunk to
 * chunk), so a whole track's draws are held once, where the caller wants them. False without
 * WebAssembly SIMD.
 */
export function drawNormalsInto(seed: number, out: Float32Array): boolean {
  const chunk = Math.max(1, Math.min(out.length, DRAW_CHUNK));
  const exp = instantiateKernel<Exports>('noise', RAW + chunk * 4, { ln });
  if (!exp) return false;
  exp.seed(STATE, seed);
  const drawn = new Float32Array(exp.memory.buffer, RAW, chunk);
  for (let at = 0; at < out.length; at += chunk) {
    const n = Math.min(chunk, out.length - at);
    exp.gauss(RAW, n);
    out.set(n === chunk ? drawn : drawn.subarray(0, n), at);
  }
  return true;
}
