import { Counter, Gauge, type Registry } from 'prom-client';

/** Counters of the Firmata link, on the app's registry (absent registry: kept private, still counted). */
export interface FirmataMetrics {
  linkUp: Gauge;
  linkLosses: Counter;
  reconnects: Counter;
  connectFailures: Counter;
  pingTimeouts: Counter;
  failsafes: Counter;
}

function getOrCreate<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

export function firmataMetrics(registry?: Registry): FirmataMetrics {
  const registers = registry ? [registry] : [];
  const reg = registry ?? ({ getSingleMetric: () => undefined } as unknown as Registry);
  return {
    linkUp: getOrCreate(reg, 'gance_cooler_firmata_link_up', () => new Gauge({ name: 'gance_cooler_firmata_link_up', help: '1 while the StandardFirmata board answers pings', registers })),
    linkLosses: getOrCreate(reg, 'gance_cooler_firmata_link_losses_total', () => new Counter({ name: 'gance_cooler_firmata_link_losses_total', help: 'times the link to the Firmata board was lost (port closed, error, or pings unanswered)', labelNames: ['reason'], registers })),
    reconnects: getOrCreate(reg, 'gance_cooler_firmata_reconnects_total', () => new Counter({ name: 'gance_cooler_firmata_reconnects_total', help: 'successful reconnections to the Firmata board after a loss', registers })),
    connectFailures: getOrCreate(reg, 'gance_cooler_firmata_connect_failures_total', () => new Counter({ name: 'gance_cooler_firmata_connect_failures_total', help: 'failed attempts to open the Firmata board', registers })),
    pingTimeouts: getOrCreate(reg, 'gance_cooler_firmata_ping_timeouts_total', () => new Counter({ name: 'gance_cooler_firmata_ping_timeouts_total', help: 'REPORT_VERSION pings the board did not answer in time', registers })),
    failsafes: getOrCreate(reg, 'gance_cooler_firmata_failsafe_writes_total', () => new Counter({ name: 'gance_cooler_firmata_failsafe_writes_total', help: 'times every fan pin was written to full duty (failsafe, lost confidence, (re)connect)', labelNames: ['reason'], registers })),
  };
}
