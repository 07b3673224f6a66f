/**
 * The WGSL sources of the engine (kept in ./wgsl, apart from the WebAssembly kernels of
 * src/kernels), read once. Tile sizes are filled into the conv kernel per layer shape.
 */
import { readFileSync } from 'node:fs';

const cache = new Map<string, string>();

export function wgsl(name: 'mapping' | 'styles' | 'modconv' | 'modconv-wide' | 'splitk' | 'fir' | 'torgb' | 'frames'): string {
  let text = cache.get(name);
  if (text === undefined) {
    text = readFileSync(new URL(`./wgsl/${name}.wgsl`, import.meta.url), 'utf8');
    cache.set(name, text);
  }
  return text;
}

/** Arithmetic of the conv GEMM: f32 throughout, or f16 operands and products summed in f32 (see modconv-wide.wgsl). */
export type Precision = 'f32' | 'f16';

/** The wide kernel's inner product of one K tile: f32 products, or f16 products; summed in f32 either way. */
const INNER: Record<Precision, string> = {
  f32: `    for (var kk = 0u; kk < BK; kk++) {
      var a: array<f32, TM>;
      var b: array<f32, TN>;
      for (var i = 0u; i < TM; i++) { a[i] = As[kk * BM + lid.y + i * WY]; }
      for (var j = 0u; j < TN; j++) { b[j] = Bs[kk * BN + lid.x + j * WX]; }
      for (var i = 0u; i < TM; i++) {
        for (var j = 0u; j < TN; j++) { acc[i * TN + j] = fma(a[i], b[j], acc[i * TN + j]); }
      }
    }`,
  // f16 partial sums were measured worse on the demo-shaped test net (lavapipe, max |diff| vs the
  // float32 graph, the float16 graph's being 1.44e-3): 2.99e-3 summing 16 products in f16, 2.59e-3
  // summing 4, 2.15e-3 summing none (this), against a bound of twice the float16 graph's error
  f16: `    for (var kk = 0u; kk < BK; kk++) {
      var a: array<f16, TM>;
      var b: array<f16, TN>;
      for (var i = 0u; i < TM; i++) { a[i] = As[kk * BM + lid.y + i * WY]; }
      for (var j = 0u; j < TN; j++) { b[j] = Bs[kk * BN + lid.x + j * WX]; }
      for (var i = 0u; i < TM; i++) {
        for (var j = 0u; j < TN; j++) { acc[i * TN + j] += f32(a[i] * b[j]); }
      }
    }`,
};

/** The conv kernel with its tile constants: BM = 16 * tm output channels, BN = 16 * tn pixels, bk deep. */
export function modconvSource(tile: ConvTile, precision: Precision = 'f32'): string {
  if (precision === 'f16' && tile.wx === undefined) throw new Error('precision f16 needs the wide conv kernel (kernel: square computes in f32 only)');
  if (tile.wx !== undefined) {
    const wy = 256 / tile.wx;
    if (![4, 8, 16, 32, 64].includes(tile.wx) || (tile.bk * tile.wx * tile.tn) % 256 !== 0 || 256 % (tile.wx * tile.tn) !== 0) {
      throw new Error(`bad wide conv tile ${JSON.stringify(tile)}`);
    }
    return wgsl('modconv-wide')
      .replace('$TM', String(tile.tm))
      .replace('$TN', String(tile.tn))
      .replace('$BK', String(tile.bk))
      .replace('$WX', String(tile.wx))
      .replace('$WY', String(wy))
      .replace('$ENABLE', precision === 'f16' ? 'enable f16;' : '')
      .replace('$H', precision)
      .replace('$INNER', INNER[precision]);
  }
  if (![1, 2, 4, 8].includes(tile.tm) || ![1, 2, 4, 8, 16].includes(tile.tn) || ![4, 8, 16, 32].includes(tile.bk)) throw new Error(`bad conv tile ${JSON.stringify(tile)}`);
  if ((tile.bk * 16 * tile.tn) % 256 !== 0) throw new Error(`conv tile ${JSON.stringify(tile)}: bk * bn must be a multiple of 256`);
  return wgsl('modconv').replace('$TM', String(tile.tm)).replace('$TN', String(tile.tn)).replace('$BK', String(tile.bk));
}

export interface ConvTile {
  tm: number;
  tn: number;
  bk: number;
  /**
   * Threads along the pixels (the 'wide' kernel: WX x 256/WX threads, K in tap-major order);
   * absent: the square 16 x 16 kernel.
   */
  wx?: number;
}
