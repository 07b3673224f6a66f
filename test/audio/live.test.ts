import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { AudioError } from '../../src/audio/errors.ts';
import { liveFrames, pcmFrames, type AudioBlock } from '../../src/audio/live.ts';
import { pidsWith } from '../live/helpers.ts';
import { dominantFrequency, interleave, tempDir, tone } from './wav.ts';

async function collect(gen: AsyncIterable<AudioBlock>, max = Infinity): Promise<AudioBlock[]> {
  const out: AudioBlock[] = [];
  for await (const b of gen) {
    out.push(b);
    if (out.length >= max) break;
  }
  return out;
}

function s16(data: Int16Array): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

describe('live audio blocks', () => {
  let server: Server | null = null;
  afterEach(() => {
    server?.close();
    server = null;
  });

  it('cuts raw s16 PCM at the target rate into mono blocks across odd chunk boundaries', async () => {
    const pt = new PassThrough();
    const l = tone(30720, 0.1, [440]);
    const r = tone(30720, 0.1, [880]);
    const bytes = s16(interleave(l, r));
    const gen = collect(liveFrames({ kind: 'stream', stream: pt, format: 's16le', sampleRate: 30720, channels: 2 }, { fps: 60, samplesPerFrame: 512 }));
    for (let off = 0; off < bytes.length; off += 777) pt.write(bytes.subarray(off, Math.min(bytes.length, off + 777)));
    pt.end();
    const blocks = await gen;
    expect(blocks.length).toBe(Math.floor(l.length / 512));
    expect(blocks.map((b) => b.index)).toEqual(blocks.map((_, i) => i));
    const map = (x: number) => Math.fround((2 / 65535) * (x + 32768) - 1);
    expect(blocks[2]!.samples[5]).toBe(Math.fround(Math.fround(map(l[1029]!) + map(r[1029]!)) / 2));
    expect(typeof blocks[0]!.receivedAt).toBe('bigint');
  });

  it('resamples PCM at another rate through ffmpeg (stdin path)', async () => {
    const pt = new PassThrough();
    const gen = collect(liveFrames({ kind: 'stream', stream: pt, format: 's16le', sampleRate: 48000, channels: 1, name: 'stdin' }, { fps: 60, samplesPerFrame: 512 }));
    pt.end(s16(tone(48000, 1, [1000])));
    const blocks = await gen;
    expect(Math.abs(blocks.length - 60)).toBeLessThanOrEqual(1);
    const joined = new Float32Array(512 * 8);
    for (let i = 0; i < 8; i++) joined.set(blocks[20 + i]!.samples, i * 512);
    expect(dominantFrequency(joined, 30720, [500, 1000, 1500])).toBe(1000);
  });

  it('captures through ffmpeg from an input device (lavfi here, ALSA on the rig: same path)', async () => {
    const blocks = await collect(
      liveFrames({ kind: 'ffmpeg', inputArgs: ['-f', 'lavfi', '-i', 'sine=frequency=500:sample_rate=44100:duration=0.5'], channels: 1 }, { fps: 30, samplesPerFrame: 512 }),
    );
    expect(Math.abs(blocks.length - 15)).toBeLessThanOrEqual(1);
    expect(dominantFrequency(blocks[5]!.samples, 15360, [250, 500, 1000])).toBe(500);
  });

  it('stops ffmpeg when the consumer stops early', async () => {
    const blocks = await collect(liveFrames({ kind: 'ffmpeg', inputArgs: ['-f', 'lavfi', '-i', 'sine=frequency=300:sample_rate=30720'] }, { fps: 60, samplesPerFrame: 512 }), 5);
    expect(blocks).toHaveLength(5);
  });

  it('kills an ffmpeg blocked on a FIFO nobody writes when the signal aborts (SIGTERM, then SIGKILL)', async () => {
    const fifo = join(tempDir(), 'silent.wav');
    execFileSync('mkfifo', [fifo]);
    const stop = new AbortController();
    const gen = liveFrames({ kind: 'file', path: fifo }, { fps: 30, samplesPerFrame: 512, signal: stop.signal, killGraceMs: 300 });
    const next = gen.next();
    let pids: number[] = [];
    for (let i = 0; i < 200 && pids.length === 0; i++) {
      pids = pidsWith(fifo);
      if (pids.length === 0) await new Promise((r) => setTimeout(r, 25));
    }
    expect(pids).toHaveLength(1);
    stop.abort();
    // ends quietly: stopping is no failure of the source
    expect(await next).toEqual({ done: true, value: undefined });
    expect(pidsWith(fifo)).toEqual([]);
  });

  it('reads raw PCM from a Unix socket', async () => {
    const path = join(tempDir(), 'pcm.sock');
    const data = s16(tone(30720, 0.05, [300]));
    server = createServer((c) => c.end(data));
    await new Promise<void>((r) => server!.listen(path, r));
    const blocks = await collect(liveFrames({ kind: 'socket', address: path, format: 's16le', sampleRate: 30720, channels: 1 }, { fps: 60, samplesPerFrame: 512 }));
    expect(blocks.length).toBe(Math.floor(1536 / 512));
  });

  it('refuses NaN in float PCM, a failing ffmpeg input and an unreachable socket, naming the source', async () => {
    const f = new Float32Array(1024).fill(0.1);
    f[600] = NaN;
    const pt = new PassThrough();
    pt.end(Buffer.from(f.buffer));
    await expect(collect(pcmFrames(pt, { format: 'f32le', channels: 1, samplesPerFrame: 512, source: 'stdin' }))).rejects.toMatchObject({ code: 'AUDIO_NON_FINITE', file: 'stdin' });
    const bad = collect(liveFrames({ kind: 'ffmpeg', inputArgs: ['-f', 'alsa', '-i', 'hw:99,0'], name: 'alsa:hw:99,0' }, { fps: 60, samplesPerFrame: 512 }));
    await expect(bad).rejects.toMatchObject({ code: 'AUDIO_LIVE_FAILED', file: 'alsa:hw:99,0' });
    await expect(collect(liveFrames({ kind: 'socket', address: join(tempDir(), 'none.sock'), format: 's16le', sampleRate: 30720, channels: 1 }, { fps: 60, samplesPerFrame: 512 }))).rejects.toBeInstanceOf(AudioError);
    await expect(collect(liveFrames({ kind: 'alsa', device: 'default' }, { fps: 60.5, samplesPerFrame: 513 }))).rejects.toMatchObject({ code: 'AUDIO_BAD_PARAMETER' });
  });
});
