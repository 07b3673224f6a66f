import type { Logger } from 'pino';
import type { Unit } from '../lifecycle/unit.ts';
import type { Cooler } from './cooler.ts';

const FAILSAFE_BOUND_MS = 1000;

/** Sends the failsafe (fans full) and logs that it did; never throws, never waits past its bound. */
export async function commandFailsafe(cooler: Cooler, log: Logger, reason: string, boundMs = FAILSAFE_BOUND_MS): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      cooler.failsafe(reason),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${boundMs} ms`)), boundMs);
      }),
    ]);
    log.warn({ event: 'failsafe', reason, cooler: cooler.info.kind }, 'cooler failsafe commanded: fans to full');
    return true;
  } catch (err) {
    // The firmware's own watchdog still takes the fans to full after host silence.
    log.error({ event: 'failsafe', reason, err }, 'cooler failsafe command failed; relying on the device watchdog');
    return false;
  } finally {
    clearTimeout(timer);
  }
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
