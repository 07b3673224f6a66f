import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { SynthesisPool } from '../../../src/synthesis/pool/pool.ts';
import { tinyNetworks, tinyW } from './tiny-net.ts';

describe('smoke', () => {
  it('runs', async () => {
    const [net] = tinyNetworks([1]);
    const pool = new SynthesisPool({
      workers: [
        { id: 't0', providers: [{ name: 'cpu' }], isolation: 'thread', intraOpThreads: 1 },
        { id: 'p0', providers: [{ name: 'webgpu' }, { name: 'cpu' }], isolation: 'process', intraOpThreads: 1 },
      ],
      log: pino({ level: 'info' }),
    });
    const t0 = Date.now();
    await pool.load(net!);
    console.log('load ms', Date.now() - t0);
    pool.activate(net!.id);
    const frames = [];
    for await (const f of pool.stream(Array.from({ length: 50 }, (_, i) => ({ feeds: { w: tinyW(i) } })))) frames.push(f);
    console.log(frames.map((f) => `${f.seq}:${f.worker}:${f.batchSize}`).join(' '));
    expect(frames.map((f) => f.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    await pool.close();
  });
});
