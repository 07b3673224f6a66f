/**
 * The rich-feature extractor's per-frame work through WebAssembly (kernels/rich.as.ts), with the FFT
 * still done by fft.js on views of the kernel's memory. The same numbers as the JavaScript path
 * (rich.ts), which stays for engines without WebAssembly SIMD.
 */
import { instantiateKernel, type KernelMemory } from '../../kernels/load.ts';
import type { createPow2Fft } from './fft.ts';

interface Exports extends KernelMemory {
  setup: (w: number, n: number, bins: number, k: number, ...addresses: number[]) => void;
  slide: () => void;
  analyse: (t: number) => void;
}

export interface RawFrame {
  rms: number;
  onset: number;
  harmonic: number;
  percussive: number;
  chroma: Float64Array;
}

export interface RichKernel {
  push(frame: ArrayLike<number>): RawFrame;
}

/** A kernel for one extractor, or null without WebAssembly SIMD. */
export function richKernel(opts: { windowLength: number; frameLength: number; bins: number; sustainFrames: number; window: Float64Array; pitchClass: Int8Array; fft: ReturnType<typeof createPow2Fft> }): RichKernel | null {
  const { windowLength: W, frameLength: n, bins, sustainFrames: k, fft } = opts;
  if (W % 2 !== 0 || n > W) return null;
  const rowBytes = Math.ceil(bins / 2) * 16;
  const layout: number[] = [];
  let at = 0;
  const take = (bytes: number) => {
    layout.push(at);
    at += Math.ceil(bytes / 16) * 16;
  };
  take(W * 8); // history
  take(W * 8); // window
  take(W * 8); // windowed
  take(2 * W * 8); // spectrum
  take(rowBytes); // magnitudes
  take(rowBytes); // previous square roots
  take(rowBytes); // minimum
  take(k * bins * 8); // ring
  take(bins * 4); // pitch classes
  take(n * 4); // frame
  take(16 * 8); // results
  const exp = instantiateKernel<Exports>('rich', at);
  if (!exp) return null;
  exp.setup(W, n, bins, k, ...layout);
  const buf = exp.memory.buffer;
  const [, winAt, windowedAt, specAt, , , , , pitchAt, frameAt, outAt] = layout as [number, number, number, number, number, number, number, number, number, number, number];
  new Float64Array(buf, winAt, W).set(opts.window);
  new Int32Array(buf, pitchAt, bins).set(opts.pitchClass);
  const windowed = new Float64Array(buf, windowedAt, W);
  const spec = new Float64Array(buf, specAt, 2 * W);
  const frameIn = new Float32Array(buf, frameAt, n);
  const out = new Float64Array(buf, outAt, 16);
  let t = 0;
  return {
    push(frame) {
      frameIn.set(frame);
      exp.slide();
      fft.realTransform(spec, windowed);
      exp.analyse(t++);
      return {
        rms: Math.sqrt(out[15]! / n),
        onset: out[0]! / bins,
        harmonic: Math.sqrt(out[1]! / bins),
        percussive: Math.sqrt(out[2]! / bins),
        chroma: out.slice(3, 15),
      };
    },
  };
}
