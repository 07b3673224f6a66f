/** Prometheus series of the serial cooler link (prefix gance_cooler_), on the registry passed in. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { DeviceFailsafe } from '../cooler.ts';
import { COUNTER_NAMES, type DeviceCounters } from '../protocol/messages.ts';

function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
  // A second driver on the same registry (tests, a reopened daemon) shares the series.
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<L>;
  return new Counter({ name, help, labelNames, registers: [registry] });
}

/** the scrape-time reader of each shared gauge, from the driver that registered it last */
const collectors = new WeakMap<Gauge, (g: Gauge) => void>();

export class CoolerLinkMetrics {
  readonly linkUp: Gauge;
  readonly deviceFailsafe: Gauge;
  readonly deviceFailsafeAssumed: Gauge;
  readonly requests: Counter<'command'>;
  readonly timeouts: Counter<'command'>;
  readonly retries: Counter<'command'>;
  readonly duration: Histogram<'command'>;
  readonly crcErrors: Counter<'side'>;
  readonly badFrames: Counter<'side' | 'reason'>;
  readonly junkBytes: Counter<'side'>;
  readonly deviceErrors: Counter<'code'>;
  readonly reconnects: Counter;
  readonly connectFailures: Counter;
  readonly deviceResets: Counter<'cause'>;
  readonly deviceEvents: Counter<'event'>;

  private last: DeviceCounters | null = null;

  /** `deviceFailsafe`: what the driver can tell of the device's failsafe, read at each scrape */
  constructor(registry: Registry, deviceFailsafe: () => DeviceFailsafe = () => ({ failsafe: null, assumed: false })) {
    const gauge = (name: string, help: string, collect?: (g: Gauge) => void): Gauge => {
      const g: Gauge =
        (registry.getSingleMetric(name) as Gauge | undefined) ??
        new Gauge({
          name,
          help,
          registers: [registry],
          collect(this: Gauge) {
            collectors.get(this)?.(this);
          },
        });
      if (collect) collectors.set(g, collect); // a later driver on the same registry takes the series over
      return g;
    };
    this.linkUp = gauge('gance_cooler_link_up', '1 while the cooler firmware answers over serial');
    this.deviceFailsafe = gauge(
      'gance_cooler_device_failsafe',
      '1 while the firmware drives its own failsafe/power-on duty instead of the host targets; with the link down NaN (unknown) until its watchdog must have tripped, then 1 (assumed: gance_cooler_device_failsafe_assumed)',
      (g) => {
        const d = deviceFailsafe();
        g.set(d.failsafe === null ? Number.NaN : d.failsafe ? 1 : 0);
      },
    );
    this.deviceFailsafeAssumed = gauge('gance_cooler_device_failsafe_assumed', '1 while gance_cooler_device_failsafe is inferred from host silence (the firmware watchdog) rather than read from the device', (g) =>
      g.set(deviceFailsafe().assumed ? 1 : 0),
    );
    this.requests = counter(registry, 'gance_cooler_requests_total', 'requests sent to the cooler, retries included', ['command']);
    this.timeouts = counter(registry, 'gance_cooler_request_timeouts_total', 'requests that got no answer in time', ['command']);
    this.retries = counter(registry, 'gance_cooler_request_retries_total', 'requests sent again after a timeout, a CRC/truncated error reply or an unreadable error reply', ['command']);
    this.duration =
      (registry.getSingleMetric('gance_cooler_request_duration_seconds') as Histogram<'command'> | undefined) ??
      new Histogram({
        name: 'gance_cooler_request_duration_seconds',
        help: 'time from request to answer',
        labelNames: ['command'],
        buckets: [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5],
        registers: [registry],
      });
    this.crcErrors = counter(registry, 'gance_cooler_crc_errors_total', 'frames with a bad CRC; side=host: seen by the daemon, side=device: seen by the firmware', ['side']);
    this.badFrames = counter(registry, 'gance_cooler_bad_frames_total', 'frames dropped for other reasons (length, truncated, unknown_command, bad_argument; side=host also stale, unknown_type, malformed)', ['side', 'reason']);
    this.junkBytes = counter(registry, 'gance_cooler_junk_bytes_total', 'bytes skipped while looking for a frame start', ['side']);
    this.deviceErrors = counter(registry, 'gance_cooler_device_error_replies_total', 'error replies received from the firmware, by error', ['code']);
    this.reconnects = counter(registry, 'gance_cooler_reconnects_total', 'times the link came back after being lost');
    this.connectFailures = counter(registry, 'gance_cooler_connect_failures_total', 'failed attempts to open the port or handshake');
    this.deviceResets = counter(registry, 'gance_cooler_device_resets_total', 'firmware restarts noticed by the daemon, by reset cause', ['cause']);
    this.deviceEvents = counter(registry, 'gance_cooler_device_events_total', 'events counted by the firmware (watchdog_trips, kicks, stalls, rx_errors, tx_dropped)', ['event']);
  }

  /**
   * Folds a snapshot of the firmware's own counters into monotonic series: deltas since the last
   * snapshot, or the whole value when the device restarted (its counters went back to zero).
   */
  absorbDeviceCounters(c: DeviceCounters, restarted: boolean): void {
    const prev = this.last;
    const delta = (k: keyof DeviceCounters): number => {
      const before = prev && !restarted ? prev[k] : 0;
      return c[k] >= before ? c[k] - before : c[k];
    };
    this.last = { ...c };
    const add = (metric: Counter<string>, labels: Record<string, string>, v: number): void => {
      if (v > 0) metric.inc(labels, v);
    };
    add(this.crcErrors, { side: 'device' }, delta('crcErrors'));
    add(this.badFrames, { side: 'device', reason: 'length' }, delta('lengthErrors'));
    add(this.badFrames, { side: 'device', reason: 'truncated' }, delta('truncated'));
    add(this.badFrames, { side: 'device', reason: 'unknown_command' }, delta('unknownCommands'));
    add(this.badFrames, { side: 'device', reason: 'bad_argument' }, delta('badArguments'));
    add(this.junkBytes, { side: 'device' }, delta('junkBytes'));
    add(this.deviceEvents, { event: 'watchdog_trips' }, delta('watchdogTrips'));
    add(this.deviceEvents, { event: 'kicks' }, delta('kicks'));
    add(this.deviceEvents, { event: 'stalls' }, delta('stalls'));
    add(this.deviceEvents, { event: 'rx_errors' }, delta('rxErrors'));
    add(this.deviceEvents, { event: 'tx_dropped' }, delta('txDropped'));
  }

  /** Forget the baseline (a new device, or counters cleared). */
  resetBaseline(): void {
    this.last = null;
  }
}

export { COUNTER_NAMES };
