/** The stall-tolerant timeout's bound: a loop that keeps stalling must not keep a dead device alive. */
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { MAX_GRACES, STALL_SLACK_MS, stallTolerantTimeout } from '../../src/cooler/timeout.ts';

function blockLoop(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // the stall under test
  }
}

/** Lets one round of due timers run. */
const timersRun = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

describe('stallTolerantTimeout', () => {
  it(`gives a grace after each stall, at most ${MAX_GRACES} times, then expires`, async () => {
    let fired = 0;
    const t = stallTolerantTimeout(20, () => fired++);
    for (let round = 1; round <= MAX_GRACES + 1; round++) {
      blockLoop(20 + 3 * STALL_SLACK_MS); // past whatever wait is armed (20 ms), and late beyond the slack
      await timersRun();
      expect(fired, `after stall ${round}`).toBe(round <= MAX_GRACES ? 0 : 1);
    }
    t.cancel();
  });
});
