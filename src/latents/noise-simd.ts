/**
 * GANce noise's draws through WebAssembly (kernels/noise.as.ts): the same float32 values as
 * noise.ts's JavaScript RandomState, which stays for engines where the kernel does not load.
 */
import { ln } from '../audio/features/detmath.ts';
import { instantiateKernel, type KernelMemory } from '../kernels/load.ts';

interface Exports extends KernelMemory {
  seed: (state: number, seed: number) => void;
  gauss: (out: number, count: number) => void;
}

const STATE = 0;
const RAW = 8192;

/** Normals drawn through the kernel per call of drawNormalsInto: its memory stays this small. */
const DRAW_CHUNK = 1 << 20;

/**
 * numpy RandomState(seed).randn(out.length) as float32 into `out`, a chunk at a time through the
 * kernel's memory (the generator's state and its cached second normal carry over from chunk to
 * chunk), so a whole track's draws are held once, where the caller wants them. False where
 * the kernel does not load (no WebAssembly).
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
