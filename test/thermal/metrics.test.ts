/** Thermal metrics: names and types after the Prometheus conventions, values from the live loop, promtool-clean. */
import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { harness, untilAsync, type Harness } from './service/harness.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const EXPECTED: Record<string, string> = {
  gance_gpu_temperature_celsius: 'gauge',
  gance_gpu_power_watts: 'gauge',
  gance_gpu_utilization_ratio: 'gauge',
  gance_gpu_clocks_event_reason: 'gauge',
  gance_gpu_info: 'gauge',
  gance_sensor_sample_age_seconds: 'gauge',
  gance_nvidia_smi_up: 'gauge',
  gance_nvidia_smi_restarts_total: 'counter',
  gance_nvidia_smi_failed_samples_total: 'counter',
  gance_thermistor_temperature_celsius: 'gauge',
  gance_zone_temperature_celsius: 'gauge',
  gance_zone_setpoint_celsius: 'gauge',
  gance_zone_critical_celsius: 'gauge',
  gance_zone_duty_ratio: 'gauge',
  gance_zone_demand_ratio: 'gauge',
  gance_zone_pid_term: 'gauge',
  gance_zone_mode: 'gauge',
  gance_fan_duty_ratio: 'gauge',
  gance_fan_commanded_duty_ratio: 'gauge',
  gance_fan_rpm: 'gauge',
  gance_fan_min_duty_ratio: 'gauge',
  gance_thermal_failsafe: 'gauge',
  gance_thermal_alarm: 'gauge',
  gance_thermal_cooler_link_up: 'gauge',
  gance_thermal_cooler_write_failures_total: 'counter',
  gance_thermal_loop_period_seconds: 'histogram',
  gance_thermal_loop_lateness_seconds: 'histogram',
  gance_thermal_loop_duration_seconds: 'histogram',
};

function promtool(text: string): string {
  // exits non-zero on a lint problem; prints the problems
  return execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
}

describe('thermal metrics', () => {
  it('exposes every series with its type, fed by the running loop', async () => {
    h = await harness({ gpus: 2, zone: { mode: 'pid', pid: { setpoint: 70 } } });
    await untilAsync('rpm and temperatures', async () => (await h!.metric('gance_fan_rpm', { fan: 'gpu1-c' })) !== undefined && (await h!.metric('gance_zone_temperature_celsius', { zone: 'gpu1' })) !== undefined);
    const text = await h.metrics();
    for (const [name, type] of Object.entries(EXPECTED)) expect(text, name).toContain(`# TYPE ${name} ${type}`);
    const s = await h.state();
    const gpu0 = s.gpus[0]!;
    expect(await h.metric('gance_gpu_temperature_celsius', { gpu: '0' })).toBeCloseTo(gpu0.temperature!, 0);
    expect(await h.metric('gance_gpu_utilization_ratio', { gpu: '0' })).toBeGreaterThanOrEqual(0);
    expect(await h.metric('gance_gpu_utilization_ratio', { gpu: '0' })).toBeLessThanOrEqual(1);
    expect(await h.metric('gance_gpu_info', { gpu: '1', uuid: s.gpus[1]!.uuid })).toBe(1);
    expect(await h.metric('gance_zone_setpoint_celsius', { zone: 'gpu1' })).toBe(70);
    for (const term of ['p', 'i', 'd', 'ff']) expect(await h.metric('gance_zone_pid_term', { zone: 'gpu0', term })).toEqual(expect.any(Number));
    const duty = (await h.metric('gance_fan_duty_ratio', { fan: 'gpu0-a', zone: 'gpu0' }))!;
    // what the loop commands (a cool idle GPU may have its fans stopped: 0)
    expect(duty).toBeCloseTo(s.zones[0]!.fans.find((f) => f.id === 'gpu0-a')!.duty, 1);
    expect(duty).toBeGreaterThanOrEqual(0);
    expect(duty).toBeLessThanOrEqual(1);
    expect(await h.metric('gance_fan_rpm', { fan: 'gpu0-a' })).toBeGreaterThan(0);
    expect(await h.metric('gance_thermistor_temperature_celsius', { sensor: 'sink0' })).toEqual(expect.any(Number));
    expect(await h.metric('gance_thermal_failsafe', { zone: 'gpu1', reason: 'critical' })).toBe(0);
    expect(await h.metric('gance_thermal_loop_period_seconds_count')).toBeGreaterThan(0);
    promtool(text);
  });

  it('stays promtool-clean with alarms raised and counters counting', async () => {
    h = await harness();
    await h.underControl();
    h.rig.override(0, { temperature: 97 });
    h.source.command({ cmd: 'line', text: 'garbage' });
    await untilAsync('critical + failed sample', async () => (await h!.metric('gance_thermal_failsafe', { zone: 'gpu0', reason: 'critical' })) === 1 && (await h!.metric('gance_nvidia_smi_failed_samples_total')) === 1);
    const text = await h.metrics();
    expect(text).toMatch(/^gance_thermal_alarm\{zone="gpu0",kind="critical",subject="gpu0"\} 1$/m);
    expect(text).toMatch(/^gance_gpu_temperature_celsius\{gpu="0"\} 97$/m);
    promtool(text);
  });

  it('a GPU whose sample is stale has no temperature, power or utilization series (a frozen value read as current), only its sample age', async () => {
    h = await harness({ zone: { mode: 'pid', pid: { setpoint: 70 } } });
    await h.underControl();
    expect(await h.metric('gance_gpu_temperature_celsius', { gpu: '0' })).toEqual(expect.any(Number));
    h.source.command({ cmd: 'hang' });
    await untilAsync('sensor-stale failsafe', async () => (await h!.metric('gance_thermal_failsafe', { zone: 'gpu0', reason: 'sensor-stale' })) === 1);
    const text = await h.metrics();
    for (const name of ['gance_gpu_temperature_celsius', 'gance_gpu_power_watts', 'gance_gpu_utilization_ratio']) expect(text, name).not.toMatch(new RegExp(`^${name}\\{gpu="0"\\}`, 'm'));
    expect(await h.metric('gance_sensor_sample_age_seconds', { gpu: '0' })).toBeGreaterThan(h.config.thermal.sensors.staleAfterMs / 1000);
    promtool(text);
  });

  it('zone demand is the duty the controller asks for, 0..1, where its signed PID sum goes below 0', async () => {
    // a cool idle GPU far under its setpoint: p (and the integral) pull the sum well below 0
    h = await harness({ zone: { mode: 'pid', pid: { setpoint: 85 } } });
    const cold = await untilAsync('a negative PID sum', async () => {
      const z = await h!.zone();
      return z.demand !== null && z.demand < -0.05 && !z.failsafe ? z : undefined;
    });
    expect(cold.terms.p).toBeLessThan(0);
    expect(await h.metric('gance_zone_demand_ratio', { zone: 'gpu0' })).toBe(0);
    // a demand inside 0..1 is the series as it is
    expect((await h.app.inject({ method: 'PATCH', url: '/v1/thermal/zones/gpu0', payload: { mode: 'fixed', fixedDuty: 0.35 } })).statusCode).toBe(200);
    await untilAsync('the fixed duty as demand', async () => (await h!.zone()).demand === 0.35);
    expect(await h.metric('gance_zone_demand_ratio', { zone: 'gpu0' })).toBe(0.35);
    promtool(await h.metrics());
  });

  it('promtool would catch a bad exposition (the lint is real)', () => {
    expect(() => promtool('# TYPE gance_bad_total gauge\ngance_bad_total 1\n')).toThrow();
  });
});
