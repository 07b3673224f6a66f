/**
 * Timeouts for waiting on a device that do not blame the device for our own stalls.
 *
 * Node runs expired timers before it polls for input. After the event loop was blocked (a long
 * synchronous step, a GC pause), a timer that expired meanwhile fires first, while the answer it
 * waits for may already sit unread in the OS buffer: a plain setTimeout then drops a frame that
 * arrived in time. So a timer that fires late gives the input a short grace period of running
 * loop before it expires; the grace is bounded, so a loop that keeps stalling still sees a silent
 * device time out.
 */
import { performance } from 'node:perf_hooks';

/** Firing this much past due means the loop was stalled, not just busy. */
export const STALL_SLACK_MS = 20;
/** Reading what is buffered takes a few loop turns (serialport reads through the thread pool). */
export const STALL_GRACE_MS = 50;
/** Graces per wait: each needs another stall, and a dead device must still time out. */
export const MAX_GRACES = 3;

export interface Timeout {
  cancel(): void;
}

/** Calls `onExpire` after `ms` of waiting, plus a grace after each stall of the loop (see above). */
export function stallTolerantTimeout(ms: number, onExpire: () => void, opts: { unref?: boolean } = {}): Timeout {
  let timer: NodeJS.Timeout | undefined;
  let graces = 0;
  let done = false;
  const arm = (wait: number): void => {
    const due = performance.now() + wait;
    timer = setTimeout(() => {
      if (done) return;
      if (performance.now() - due > STALL_SLACK_MS && graces < MAX_GRACES) {
        graces++;
        arm(Math.min(ms, STALL_GRACE_MS));
        return;
      }
      done = true;
      onExpire();
    }, wait);
    if (opts.unref) timer.unref();
  };
  arm(ms);
  return {
    cancel() {
      done = true;
      clearTimeout(timer);
    },
  };
}
