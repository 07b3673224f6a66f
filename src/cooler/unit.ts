import type { Logger } from 'pino';
import type { Unit } from '../lifecycle/unit.ts';
import type { Cooler, FailsafeResult } from './cooler.ts';

const FAILSAFE_BOUND_MS = 1000;

/**
 * Sends the failsafe (fans full) and logs what really happened: commanded, or not sent and what
 * takes over instead. Never throws, never waits past its bound; true when the command got out.
 */
export async function commandFailsafe(cooler: Cooler, log: Logger, reason: string, boundMs = FAILSAFE_BOUND_MS): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  let result: FailsafeResult;
  try {
    result = await Promise.race([
      cooler.failsafe(reason),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${boundMs} ms`)), boundMs);
      }),
    ]);
  } catch (err) {
    result = { sent: false, why: `failed: ${(err as Error).message}` };
  } finally {
    clearTimeout(timer);
  }
  if (result.sent) {
    log.warn({ event: 'failsafe', reason, cooler: cooler.info.kind }, 'cooler failsafe commanded: fans to full');
    return true;
  }
  const watchdogMs = cooler.deviceWatchdogMs;
  const fallback =
    watchdogMs === null
      ? 'the device has no watchdog of its own: its fans keep their last duty until the link is back'
      : `the firmware watchdog takes the fans to its failsafe duty after ${watchdogMs / 1000} s without host traffic`;
  log.error({ event: 'failsafe', reason, cooler: cooler.info.kind, sent: false, why: result.why, deviceWatchdogMs: watchdogMs }, `cooler failsafe command ${result.why}; ${fallback}`);
  return false;
}

export function coolerUnit(cooler: Cooler, log: Logger): Unit {
  return {
    name: 'cooler',
    async start() {
      await cooler.open();
    },
    async stop() {
      await commandFailsafe(cooler, log, 'daemon stop');
      await cooler.close();
    },
    ready: () => cooler.linkUp,
  };
}
