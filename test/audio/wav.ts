/** Small WAV writer for generated fixtures (16-bit PCM or 32-bit float), plus signal generators. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sinpi } from '../../src/audio/features/detmath.ts';

export function tempDir(prefix = 'gance-audio-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Interleaved samples; Int16Array writes PCM 16, Float32Array writes IEEE float 32. */
export function writeWav(path: string, sampleRate: number, channels: number, data: Int16Array | Float32Array): void {
  const isFloat = data instanceof Float32Array;
  const bytesPer = isFloat ? 4 : 2;
  const dataBytes = data.length * bytesPer;
  const buf = Buffer.alloc(44 + dataBytes);
  buf.write('RIFF', 0, 'ascii');
  buf.writeUInt32LE(36 + dataBytes, 4);
  buf.write('WAVE', 8, 'ascii');
  buf.write('fmt ', 12, 'ascii');
  buf.writeUInt32LE(16, 16);
  buf.writeUInt16LE(isFloat ? 3 : 1, 20);
  buf.writeUInt16LE(channels, 22);
  buf.writeUInt32LE(sampleRate, 24);
  buf.writeUInt32LE(sampleRate * channels * bytesPer, 28);
  buf.writeUInt16LE(channels * bytesPer, 32);
  buf.writeUInt16LE(bytesPer * 8, 34);
  buf.write('data', 36, 'ascii');
  buf.writeUInt32LE(dataBytes, 40);
  for (let i = 0; i < data.length; i++) {
    if (isFloat) buf.writeFloatLE(data[i]!, 44 + 4 * i);
    else buf.writeInt16LE(data[i]!, 44 + 2 * i);
  }
  writeFileSync(path, buf);
}

/** Mono 16-bit tone(s): sum of sines, amplitude per partial. */
export function tone(sampleRate: number, seconds: number, freqs: number[], amplitude = 0.3): Int16Array {
  const n = Math.round(sampleRate * seconds);
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) {
    let v = 0;
    // detmath's sinpi, not Math.sin: fixtures feed committed hashes and must be the same everywhere
    for (const f of freqs) v += amplitude * sinpi((2 * f * i) / sampleRate);
    out[i] = Math.max(-32768, Math.min(32767, Math.round(v * 32767)));
  }
  return out;
}

/** Clicks: `width` samples at full positive scale every `periodSeconds`, silence between. */
export function clicks(sampleRate: number, seconds: number, periodSeconds: number, width = 32): Int16Array {
  const n = Math.round(sampleRate * seconds);
  const out = new Int16Array(n);
  const period = Math.round(sampleRate * periodSeconds);
  for (let start = 0; start < n; start += period) for (let j = 0; j < width && start + j < n; j++) out[start + j] = 30000;
  return out;
}

/** Seeded low-level noise (xorshift) so "silence" with dither and noisy fixtures are reproducible. */
export function noise(n: number, amplitude: number, seed = 1): Int16Array {
  const out = new Int16Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = Math.round(((s / 0xffffffff) * 2 - 1) * amplitude * 32767);
  }
  return out;
}

export function addInto(a: Int16Array, b: Int16Array): Int16Array {
  const out = new Int16Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = Math.max(-32768, Math.min(32767, a[i]! + (b[i] ?? 0)));
  return out;
}

export function interleave(...chans: Int16Array[]): Int16Array {
  const n = chans[0]!.length;
  const out = new Int16Array(n * chans.length);
  for (let i = 0; i < n; i++) for (let c = 0; c < chans.length; c++) out[i * chans.length + c] = chans[c]![i]!;
  return out;
}

/** Strongest frequency in Hz by a direct DFT scan over candidate frequencies. */
export function dominantFrequency(x: ArrayLike<number>, sampleRate: number, candidates: number[]): number {
  let best = candidates[0]!;
  let bestPow = -1;
  for (const f of candidates) {
    let re = 0;
    let im = 0;
    for (let i = 0; i < x.length; i++) {
      re += x[i]! * Math.cos((2 * Math.PI * f * i) / sampleRate);
      im += x[i]! * Math.sin((2 * Math.PI * f * i) / sampleRate);
    }
    const p = re * re + im * im;
    if (p > bestPow) {
      bestPow = p;
      best = f;
    }
  }
  return best;
}
