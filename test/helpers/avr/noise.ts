/** Seeded line noise for the fuzz tests of both parsers, and a check that it holds no frame. */
import { FRAME_OVERHEAD, MAX_PAYLOAD, SYNC } from '../../../src/cooler/protocol/frame.ts';
import { crc16 } from '../../../src/cooler/protocol/crc16.ts';

/** mulberry32: a small deterministic PRNG, uniform in [0, 1). */
export function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` random bytes, rich in sync bytes and plausible lengths so that the parsers start many frames. */
export function noise(r: () => number, n: number): number[] {
  return Array.from({ length: n }, () => {
    const x = r();
    return x < 0.1 ? SYNC : x < 0.2 ? Math.floor(r() * 70) : Math.floor(r() * 256);
  });
}

/**
 * Offsets of every valid frame anywhere in `bytes` (a sync byte, LEN <= 64, a matching CRC),
 * whatever a parser would have skipped before it: noise with none cannot yield a frame to any
 * parser that only takes frames from contiguous bytes, however it resynchronises.
 */
export function framesHiddenIn(bytes: ArrayLike<number>): number[] {
  const b = Buffer.from(Array.from(bytes));
  const found: number[] = [];
  for (let i = 0; i + FRAME_OVERHEAD <= b.length; i++) {
    if (b[i] !== SYNC) continue;
    const len = b[i + 1]!;
    if (len > MAX_PAYLOAD || i + len + FRAME_OVERHEAD > b.length) continue;
    if (crc16(b, i + 1, i + 4 + len) === b.readUInt16BE(i + 4 + len)) found.push(i);
  }
  return found;
}
