/** The session WebSocket's state ticker on its own: what it sends to a client that stopped reading. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { stateTicker } from '../../src/live/ws.ts';

/** A socket whose peer reads (drains at once) or not (every send stays buffered). */
function fakeSocket(reading: boolean) {
  const sock = { bufferedAmount: 0, sent: 0, terminated: 0, send: (_t: string) => {}, terminate: () => {} };
  sock.send = (t: string) => {
    sock.sent++;
    if (!reading) sock.bufferedAmount += t.length;
  };
  sock.terminate = () => void sock.terminated++;
  return sock;
}

describe('stateTicker', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('sends a state a second to a reading client, for as long as it reads', () => {
    const sock = fakeSocket(true);
    const stop = stateTicker(sock, () => ({ id: 'x' }), { periodMs: 1000, stalledMs: 30_000, subscribed: () => false });
    vi.advanceTimersByTime(120_000);
    stop();
    expect([sock.sent, sock.terminated]).toEqual([120, 0]);
  });

  it('queues no more than one state for a client that stopped reading, and lets it go after the stall limit', () => {
    const sock = fakeSocket(false);
    const stop = stateTicker(sock, () => ({ id: 'x', big: 'y'.repeat(1000) }), { periodMs: 1000, stalledMs: 30_000, subscribed: () => false });
    vi.advanceTimersByTime(29_000);
    expect(sock.sent).toBe(1); // the rest waited for it to leave, which it never did
    expect(sock.terminated).toBe(0);
    // noticed full at the second tick: let go 30 s after that
    vi.advanceTimersByTime(3_000);
    expect(sock.terminated).toBe(1);
    stop();
  });

  it('leaves a subscribed client to its frame writer (hub.ts), which lets it go', () => {
    const sock = fakeSocket(false);
    const stop = stateTicker(sock, () => ({}), { periodMs: 1000, stalledMs: 30_000, subscribed: () => true });
    vi.advanceTimersByTime(120_000);
    stop();
    expect([sock.sent, sock.terminated]).toEqual([1, 0]);
  });
});
