import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { MessageReader, writeMessage } from '../../../src/synthesis/pool/wire.ts';
import type { FromWorker, ToWorker } from '../../../src/synthesis/pool/protocol.ts';

type Message = ToWorker | FromWorker;

/** Writes messages to a pipe and feeds the reader in chunks of the given sizes. */
async function roundTrip(messages: Message[], chunk: (i: number) => number): Promise<Message[]> {
  const pipe = new PassThrough();
  const bytes: Buffer[] = [];
  pipe.on('data', (b: Buffer) => bytes.push(b));
  for (const m of messages) await writeMessage(pipe, m);
  pipe.end();
  await new Promise((r) => pipe.on('end', r));
  const all = Buffer.concat(bytes);
  const out: Message[] = [];
  const reader = new MessageReader((m) => out.push(m));
  for (let at = 0, i = 0; at < all.length; i++) {
    const n = Math.max(1, chunk(i));
    reader.push(all.subarray(at, at + n));
    at += n;
  }
  return out;
}

describe('process worker framing', () => {
  const run: Message = {
    t: 'run',
    id: 7,
    key: 'demo',
    fetch: ['frames'],
    feeds: [
      { name: 'z', type: 'float32', dims: [2, 3], data: new Float32Array([1, -2, 3.25, 4, 5, 6e-8]) },
      { name: 'psi', type: 'float32', dims: [2], data: new Float32Array([0.7, 1]) },
      { name: 'idx', type: 'int64', dims: [1], data: new BigInt64Array([-5n]) },
    ],
  };
  const result: Message = {
    t: 'result',
    id: 7,
    runMs: 1.5,
    outputs: [
      { name: 'frames', type: 'uint8', dims: [1, 5], data: new Uint8Array([1, 2, 3, 4, 255]) },
      { name: 'half', type: 'float16', dims: [3], data: new Uint16Array([0x3c00, 0xc000, 0x7bff]) },
    ],
  };
  const hello: Message = { t: 'hello', pid: 42, threadId: 0 };

  for (const [label, chunk] of [
    ['whole', () => 1 << 20],
    ['byte by byte', () => 1],
    ['odd chunks', (i: number) => 1 + ((i * 7) % 13)],
  ] as const) {
    it(`carries tensors and plain messages intact (${label})`, async () => {
      const out = await roundTrip([hello, run, result, hello], chunk);
      expect(out).toEqual([hello, run, result, hello]);
      const feeds = (out[1] as Extract<Message, { t: 'run' }>).feeds;
      // every tensor is an aligned view on one buffer per message: nothing copied after arrival
      expect(new Set(feeds.map((f) => f.data.buffer)).size).toBe(1);
      for (const f of feeds) expect(f.data.byteOffset % 8).toBe(0);
    });
  }

  it('handles a large frame (a 1024 px RGB batch) split across many pipe reads', async () => {
    const big = new Uint8Array(2 * 1024 * 1024 * 3).map((_, i) => (i * 31) & 0xff);
    const msg: Message = { t: 'result', id: 1, runMs: 0, outputs: [{ name: 'frames', type: 'uint8', dims: [2, 1024, 1024, 3], data: big }] };
    const [back] = await roundTrip([msg], () => 65536);
    const data = (back as Extract<Message, { t: 'result' }>).outputs[0]!.data as Uint8Array;
    expect(Buffer.from(data).equals(Buffer.from(big))).toBe(true);
  });
});
