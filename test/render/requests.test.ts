/**
 * Frame requests under a cancel: the render's throttle hook (the real GpuThrottle's) rejects once
 * the render's signal is aborted; a request loop that stops on the abort must not leave that
 * rejection unhandled (in the daemon an unhandled rejection is a crash: fans to full, stop).
 */
import { describe, expect, it } from 'vitest';
import type { LatentFrame } from '../../src/latents/frame.ts';
import { frameRequests } from '../../src/render/requests.ts';
import type { RenderNetwork } from '../../src/render/resolve.ts';
import { GpuThrottle } from '../../src/render/throttle.ts';

const net = { id: 'n', kind: 'z', latentInput: 'z', psiInput: null } as unknown as RenderNetwork;

async function* latents(n: number): AsyncGenerator<LatentFrame> {
  for (let i = 0; i < n; i++) yield { index: i, network: 0, z: new Float32Array(4) } as unknown as LatentFrame;
}

describe('frameRequests', () => {
  it('stops on a cancel that comes between two frames without an unhandled rejection from the throttle', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (err: unknown) => unhandled.push(err);
    process.on('unhandledRejection', onUnhandled);
    try {
      const abort = new AbortController();
      const throttle = new GpuThrottle().hook([0], () => 0, abort.signal);
      const got: number[] = [];
      let k = 0;
      for await (const _ of frameRequests(latents(5), { networks: [net], psi: [1], from: 0, throttle, signal: abort.signal })) {
        got.push(k++);
        // the cancel arrives while the consumer handles frame 1: the loop asks the throttle once more
        if (k === 2) abort.abort(new Error('cancelled by request'));
      }
      expect(got).toEqual([0, 1]);
      // Node reports an unhandled rejection once the microtasks after it have run: a turn of the loop
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
