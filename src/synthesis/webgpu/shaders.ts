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

/** The conv kernel with its tile constants: BM = 16 * tm output channels, BN = 16 * tn pixels, bk deep. */
export function modconvSource(tile: ConvTile): string {
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
      .replace('$WY', String(wy));
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
