/**
 * Fuzzing the host parser: whatever arrives, it never throws, never hands out a frame whose CRC
 * does not check out, and still finds real frames mixed into the noise.
 */
import { describe, expect, it } from 'vitest';
import { crc16 } from '../../../src/cooler/protocol/crc16.ts';
import { FrameParser, MAX_PAYLOAD, SYNC, encodeFrame, type Frame } from '../../../src/cooler/protocol/frame.ts';

/** Deterministic PRNG (mulberry32) so a failure can be replayed from its seed. */
function rng(seed: number): () => number {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function checkFrame(f: Frame): void {
  const raw = encodeFrame(f.seq, f.type, f.payload);
  expect(f.payload.length).toBeLessThanOrEqual(MAX_PAYLOAD);
  expect(crc16(raw, 1, raw.length - 2)).toBe(raw.readUInt16BE(raw.length - 2));
}

describe('host frame parser fuzz', () => {
  it('random bytes, biased towards sync and length bytes, never throw or yield a bad frame', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const r = rng(seed);
      const p = new FrameParser();
      const len = 1 + Math.floor(r() * 4000);
      const bytes = Buffer.alloc(len);
      for (let i = 0; i < len; i++) {
        const x = r();
        bytes[i] = x < 0.1 ? SYNC : x < 0.2 ? Math.floor(r() * 80) : Math.floor(r() * 256);
      }
      let at = 0;
      while (at < len) {
        const n = 1 + Math.floor(r() * 100);
        const frames = p.push(bytes.subarray(at, at + n));
        frames.forEach(checkFrame);
        at += n;
        if (r() < 0.05) p.flushPartial().forEach(checkFrame);
      }
      const s = p.stats;
      expect(s.junkBytes + s.crcErrors + s.lengthErrors + s.frames).toBeGreaterThan(0);
    }
  });

  it('real frames survive garbage, truncated frames and oversized lengths around them', () => {
    for (let seed = 1; seed <= 100; seed++) {
      const r = rng(1000 + seed);
      const p = new FrameParser();
      const sent: string[] = [];
      const parts: Buffer[] = [];
      for (let k = 0; k < 30; k++) {
        const kind = r();
        if (kind < 0.4) {
          const payload = Buffer.from(Array.from({ length: Math.floor(r() * (MAX_PAYLOAD + 1)) }, () => Math.floor(r() * 256)));
          const f = encodeFrame(Math.floor(r() * 256), Math.floor(r() * 256), payload);
          sent.push(f.toString('hex'));
          parts.push(f);
        } else if (kind < 0.6) {
          // a truncated frame followed by a pause long enough for the receiver to give up on it
          const f = encodeFrame(1, 2, Buffer.alloc(Math.floor(r() * 60), 0x55));
          parts.push(f.subarray(0, Math.floor(r() * f.length)), Buffer.from('FLUSH'));
        } else if (kind < 0.8) {
          parts.push(Buffer.from([SYNC, MAX_PAYLOAD + 1 + Math.floor(r() * (255 - MAX_PAYLOAD)), 0, 0]));
        } else {
          parts.push(Buffer.from(Array.from({ length: Math.floor(r() * 40) }, () => Math.floor(r() * 256))));
        }
      }
      const got: string[] = [];
      for (const part of parts) {
        if (part.toString() === 'FLUSH') {
          p.flushPartial().forEach((f) => got.push(encodeFrame(f.seq, f.type, f.payload).toString('hex')));
          continue;
        }
        for (const f of p.push(part)) {
          checkFrame(f);
          got.push(encodeFrame(f.seq, f.type, f.payload).toString('hex'));
        }
      }
      p.flushPartial().forEach((f) => got.push(encodeFrame(f.seq, f.type, f.payload).toString('hex')));
      // Every frame sent whole is received; anything extra must be a CRC-valid frame that the
      // noise happened to contain (possible, but it was checked above).
      for (const s of sent) expect(got).toContain(s);
    }
  });
});
