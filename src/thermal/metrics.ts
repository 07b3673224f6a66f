/**
 * Thermal series in the daemon's registry, named after the Prometheus conventions the stock
 * exporters use (REFERENCE.md section 5): base units, ratios 0..1, `_total` counters, labels for
 * gpu/zone/fan. Gauges are filled at scrape time from the service's state (no cost per tick);
 * the loop's period and lateness are histograms observed every tick.
 */
import { performance } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { METRIC_PREFIX } from '../metrics.ts';
import { THROTTLE_BITS } from './sensors/parse.ts';
import { FAILSAFE_REASONS, type ThermalService } from './service/service.ts';

const p = (name: string) => `${METRIC_PREFIX}${name}`;

/** Buckets as multiples of the loop period: on time sits at 1. */
const PERIOD_MULTIPLES = [0.5, 0.9, 0.95, 0.98, 1, 1.02, 1.05, 1.1, 1.25, 1.5, 2, 3, 5];
const LATENESS_SECONDS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1];

export interface ThermalMetrics {
  period: Histogram;
  lateness: Histogram;
}

export function registerThermalMetrics(registry: Registry, service: ThermalService): ThermalMetrics {
  const registers = [registry];
  const periodS = service.periodMs / 1000;

  const gauge = (name: string, help: string, labelNames: string[], collect: (g: Gauge) => void) =>
    new Gauge({
      name: p(name),
      help,
      labelNames,
      registers,
      collect() {
        this.reset();
        collect(this);
      },
    });

  const samples = () => service.source.latest();
  // A reading older than the stale limit is not shown as current: with nvidia-smi hung its last
  // values stayed on every scrape (a GPU heating unseen read as steady); its age stays below.
  const fresh = () => {
    const now = performance.now();
    return [...samples()].filter(([, s]) => now - s.receivedAt <= service.config.sensors.staleAfterMs);
  };
  const gpuLabel = (i: number) => ({ gpu: String(i) });

  gauge('gpu_temperature_celsius', 'GPU temperature as the sensor reports it (absent while its sample is stale)', ['gpu'], (g) => {
    for (const [i, s] of fresh()) if (s.temperatureC !== null) g.set(gpuLabel(i), s.temperatureC);
  });
  gauge('gpu_power_watts', 'GPU power draw (absent while its sample is stale)', ['gpu'], (g) => {
    for (const [i, s] of fresh()) if (s.powerW !== null) g.set(gpuLabel(i), s.powerW);
  });
  gauge('gpu_utilization_ratio', 'GPU utilization, 0..1 (absent while its sample is stale)', ['gpu'], (g) => {
    for (const [i, s] of fresh()) if (s.utilization !== null) g.set(gpuLabel(i), s.utilization);
  });
  gauge('gpu_clocks_event_reason', 'Active clock event (throttle) reasons, 1 when set (absent while the sample is stale)', ['gpu', 'reason'], (g) => {
    for (const [i, s] of fresh()) {
      if (s.throttleMask === null) continue;
      for (const [bit, reason] of THROTTLE_BITS) g.set({ gpu: String(i), reason }, (s.throttleMask & bit) !== 0 ? 1 : 0);
    }
  });
  gauge('gpu_info', 'GPU identity (value 1)', ['gpu', 'uuid', 'name'], (g) => {
    const info = service.gpuInfo();
    for (const [i, s] of samples()) g.set({ gpu: String(i), uuid: s.uuid, name: info.get(i)?.name ?? '' }, 1);
  });
  gauge('sensor_sample_age_seconds', 'Age of the latest sample per GPU (a fault past sensors.staleAfterMs)', ['gpu'], (g) => {
    const now = performance.now();
    for (const [i, s] of samples()) g.set(gpuLabel(i), Math.max(0, (now - s.receivedAt) / 1000));
  });
  gauge('nvidia_smi_up', '1 while the nvidia-smi reader streams samples', [], (g) => g.set(service.source.stats().running ? 1 : 0));

  const restarts = new Counter({ name: p('nvidia_smi_restarts_total'), help: 'Restarts of the nvidia-smi reader (died or went silent)', registers });
  const failed = new Counter({ name: p('nvidia_smi_failed_samples_total'), help: 'nvidia-smi output lines that were not valid samples', registers });
  service.source.on('restart', () => restarts.inc());
  service.source.on('failed-sample', () => failed.inc());

  gauge('thermistor_temperature_celsius', 'Thermistors reported by the cooler', ['sensor'], (g) => {
    for (const t of service.coolerState()?.thermistors ?? []) if (t.celsius !== null) g.set({ sensor: t.id }, t.celsius);
  });

  const zones = () => service.zoneIds().map((id) => ({ id, ...service.zoneSlot(id)! }));
  gauge('zone_temperature_celsius', 'Zone temperature (max or mean of its GPUs) the controller works on', ['zone'], (g) => {
    for (const z of zones()) {
      const t = z.runtime.out?.temperature;
      if (t !== undefined && Number.isFinite(t)) g.set({ zone: z.id }, t);
    }
  });
  gauge('zone_setpoint_celsius', 'Zone PID setpoint', ['zone'], (g) => {
    for (const z of zones()) g.set({ zone: z.id }, z.config.pid.setpoint);
  });
  gauge('zone_critical_celsius', 'Zone critical temperature (fans to full at or above)', ['zone'], (g) => {
    for (const z of zones()) g.set({ zone: z.id }, z.config.criticalCelsius);
  });
  gauge('zone_duty_ratio', 'Zone output duty (share of its fans\' full airflow), 0..1; 1 while the cooler runs all its fans at full on its own (its failsafe)', ['zone'], (g) => {
    const applied = service.appliedDuties();
    for (const z of zones()) g.set({ zone: z.id }, service.zoneDuty(z.id, applied));
  });
  // The PID's demand is the signed sum p+i+d+ff: a zone under its setpoint has it near -1 while the
  // fans sit at their floor, and nothing bounds it above. As a duty that means none (or full): the
  // series says so, 0..1 like the other *_ratio gauges; the signed sum stays in gance_zone_pid_term
  // (sum by zone) and in GET /v1/thermal zones[].demand.
  gauge('zone_demand_ratio', 'Duty the controller asks for before the zone limits (minDuty, maxDuty), fan stop and slew, 0..1 (its PID sum p+i+d+ff clamped; the terms are gance_zone_pid_term)', ['zone'], (g) => {
    for (const z of zones()) if (z.runtime.out) g.set({ zone: z.id }, Math.min(1, Math.max(0, z.runtime.out.demand)));
  });
  gauge('zone_pid_term', 'PID terms in duty units (p, i, d, feed-forward ff)', ['zone', 'term'], (g) => {
    for (const z of zones()) {
      const t = z.runtime.out?.terms;
      if (!t) continue;
      for (const term of ['p', 'i', 'd', 'ff'] as const) g.set({ zone: z.id, term }, t[term]);
    }
  });
  gauge('zone_mode', 'Zone control mode (1 for the active one)', ['zone', 'mode'], (g) => {
    for (const z of zones()) for (const mode of ['pid', 'curve', 'fixed']) g.set({ zone: z.id, mode }, z.config.mode === mode ? 1 : 0);
  });

  gauge('fan_duty_ratio', 'Duty each fan runs at, 0..1: as the cooler reports it (its own failsafe, a kick-start included) where it does, else as commanded', ['fan', 'zone'], (g) => {
    const applied = service.appliedDuties();
    for (const z of zones()) for (const [fan, d] of Object.entries(z.runtime.duties)) g.set({ fan, zone: z.id }, applied.get(fan) ?? d);
  });
  gauge('fan_commanded_duty_ratio', 'Duty the control loop commanded per fan, 0..1', ['fan', 'zone'], (g) => {
    for (const z of zones()) for (const [fan, d] of Object.entries(z.runtime.duties)) g.set({ fan, zone: z.id }, d);
  });
  gauge('fan_rpm', 'Fan speed from its tach', ['fan'], (g) => {
    for (const f of service.coolerState()?.fans ?? []) if (f.rpm !== null) g.set({ fan: f.id }, f.rpm);
  });
  gauge('fan_min_duty_ratio', 'Effective minimum duty per fan (raised after stalls)', ['fan'], (g) => {
    for (const z of zones()) for (const [fan, d] of Object.entries(z.fanMinDuty)) g.set({ fan }, d);
  });

  gauge('thermal_failsafe', 'Zone held at full fans for this reason (1) or not (0)', ['zone', 'reason'], (g) => {
    for (const z of zones()) {
      const active = new Set(z.runtime.alarms.filter((a) => a.failsafe).map((a) => a.kind));
      for (const reason of FAILSAFE_REASONS) g.set({ zone: z.id, reason }, active.has(reason) ? 1 : 0);
    }
  });
  gauge('thermal_alarm', 'Active thermal alarms (1), e.g. kind="fan-stalled" subject="gpu0-a"', ['zone', 'kind', 'subject'], (g) => {
    for (const z of zones()) for (const a of z.runtime.alarms) g.set({ zone: z.id, kind: a.kind, subject: a.subject }, 1);
  });
  gauge('thermal_cooler_link_up', '1 while the cooler link works and answers', [], (g) => g.set(service.io.linkOk() ? 1 : 0));
  new Counter({
    name: p('thermal_cooler_write_failures_total'),
    help: 'Cooler commands from the control loop that failed or went unanswered',
    registers,
    collect() {
      // the count lives in the loop's cooler I/O; mirrored at scrape time
      this.reset();
      this.inc(service.io.writeFailures);
    },
  });

  const period = new Histogram({
    name: p('thermal_loop_period_seconds'),
    help: `Time between control loop ticks (configured ${service.periodMs} ms)`,
    buckets: PERIOD_MULTIPLES.map((m) => Number((m * periodS).toFixed(6))),
    registers,
  });
  const lateness = new Histogram({
    name: p('thermal_loop_lateness_seconds'),
    help: 'How late each control loop tick ran against its schedule',
    buckets: LATENESS_SECONDS,
    registers,
  });
  const duration = new Histogram({
    name: p('thermal_loop_duration_seconds'),
    help: 'CPU time of one control loop tick',
    buckets: [0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05],
    registers,
  });
  service.on('tick', (t: { periodS: number | null; latenessS: number; durationS: number }) => {
    if (t.periodS !== null) period.observe(t.periodS);
    lateness.observe(t.latenessS);
    duration.observe(t.durationS);
  });
  return { period, lateness };
}
