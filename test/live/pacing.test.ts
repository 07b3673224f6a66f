/** The pacing rules, the newest-frame writer and the JPEG splitter, on their own. */
import { describe, expect, it, vi } from 'vitest';
import { FrameHub, NewestWriter, STALLED_CLIENT_MS, type LiveFrame } from '../../src/live/hub.ts';
import { JpegEncoder, JpegSplitter } from '../../src/live/jpeg.ts';
import { Pacer, RecentWindow, type DropCause } from '../../src/live/pacing.ts';

const frame = (seq: number): LiveFrame => ({ seq, network: 'n', width: 1, height: 1, jpeg: Buffer.from([seq]), audioAt: 0n, at: seq / 30, placement: null, publishedAt: 0 });

describe('Pacer', () => {
  it('keeps maxInFlight in synthesis, lets the newest latent wait and drops the ones it replaces (behind)', () => {
    const started: number[] = [];
    const drops: DropCause[] = [];
    const p = new Pacer<number>(2, (i) => started.push(i), (c) => drops.push(c));
    for (let i = 0; i < 6; i++) p.offer(i);
    expect(started).toEqual([0, 1]);
    expect(drops).toEqual(['behind', 'behind', 'behind']); // 2, 3, 4 replaced in turn; 5 waits
    p.finished();
    expect(started).toEqual([0, 1, 5]);
    p.finished();
    p.finished();
    expect(p.busy).toBe(0);
    p.offer(6);
    expect(started.at(-1)).toBe(6);
  });

  it('shows a frame only if it is newer than the last shown (order)', () => {
    const drops: DropCause[] = [];
    const p = new Pacer<number>(4, () => {}, (c) => drops.push(c));
    expect(p.admit(1)).toBe(true);
    expect(p.admit(3)).toBe(true);
    expect(p.admit(2)).toBe(false);
    expect(drops).toEqual(['order']);
  });

  it('recent window quantiles follow the newest values', () => {
    const w = new RecentWindow(4);
    for (const v of [100, 100, 100, 100, 1, 2, 3, 4]) w.add(v);
    expect(w.quantile(0.5)).toBe(2);
    expect(w.quantile(0.99)).toBe(4);
  });
});

describe('NewestWriter', () => {
  it('writes one frame at a time and skips to the newest, counting what a slow client missed', () => {
    const written: number[] = [];
    let done: (() => void) | null = null;
    let drops = 0;
    const w = new NewestWriter(
      (f, d) => {
        written.push(f.seq);
        done = d;
      },
      () => drops++,
    );
    w.offer(frame(1));
    for (let s = 2; s <= 5; s++) w.offer(frame(s));
    expect(written).toEqual([1]);
    done!();
    expect(written).toEqual([1, 5]);
    expect(w.dropped).toBe(3);
    expect(drops).toBe(3);
  });

  it('a stalled client does not hold up another one on the same hub', () => {
    const hub = new FrameHub();
    const fast: number[] = [];
    const stalled = new NewestWriter(() => {}, () => {}); // never drains
    const quick = new NewestWriter((f, d) => (fast.push(f.seq), d()), () => {});
    hub.add({ output: 'mjpeg', dropped: 0, offer: (f) => stalled.offer(f), close: () => {} });
    hub.add({ output: 'ws', dropped: 0, offer: (f) => quick.offer(f), close: () => {} });
    for (let s = 0; s < 10; s++) hub.publish(frame(s));
    expect(fast).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(stalled.dropped).toBe(8); // 0 in its socket, 9 waiting, the rest skipped
  });
});

describe('NewestWriter with a client that stops reading', () => {
  it('lets go of a client whose frame stays unwritten past the stall limit, and never of one that keeps up', () => {
    vi.useFakeTimers();
    try {
      let stalledCalls = 0;
      let keptUpCalls = 0;
      const stalled = new NewestWriter(() => {}, () => {}, { ms: STALLED_CLIENT_MS, onStalled: () => stalledCalls++ });
      const keptUp = new NewestWriter((_f, d) => setTimeout(d, STALLED_CLIENT_MS / 2), () => {}, { ms: STALLED_CLIENT_MS, onStalled: () => keptUpCalls++ });
      for (let s = 0; s < 8; s++) {
        stalled.offer(frame(s));
        keptUp.offer(frame(s));
        vi.advanceTimersByTime(STALLED_CLIENT_MS / 4);
      }
      // the stalled one: once, after the limit; the slow one drains each frame in half of it
      expect([stalledCalls, keptUpCalls]).toEqual([1, 0]);
      // closed (the transport went away) before the limit: nothing fires later
      let closedCalls = 0;
      const closed = new NewestWriter(() => {}, () => {}, { ms: STALLED_CLIENT_MS, onStalled: () => closedCalls++ });
      closed.offer(frame(0));
      closed.close();
      vi.advanceTimersByTime(STALLED_CLIENT_MS * 2);
      expect(closedCalls).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('JPEG', () => {
  it('splits concatenated JPEGs at their end markers, across chunk boundaries', () => {
    const a = Buffer.from([0xff, 0xd8, 1, 0xff, 0x00, 2, 0xff, 0xd9]);
    const b = Buffer.from([0xff, 0xd8, 3, 0xff, 0xd9]);
    const all = Buffer.concat([a, b]);
    const s = new JpegSplitter();
    const out = [...s.push(all.subarray(0, 7)), ...s.push(all.subarray(7, 9)), ...s.push(all.subarray(9))];
    expect(out.map((x) => x.toString('hex'))).toEqual([a.toString('hex'), b.toString('hex')]);
  });

  it('the persistent encoder answers each picture without waiting for the next one', async () => {
    const e = new JpegEncoder(16, 8, 5);
    try {
      for (const v of [0, 255]) {
        const jpeg = await e.encode(new Uint8Array(16 * 8 * 3).fill(v));
        expect(jpeg.subarray(0, 2).toString('hex')).toBe('ffd8');
        expect(jpeg.subarray(-2).toString('hex')).toBe('ffd9');
      }
      await expect(e.encode(new Uint8Array(5))).rejects.toThrow(/5 bytes is not a 16x8 rgb24 picture/);
    } finally {
      e.close();
    }
  });
});
