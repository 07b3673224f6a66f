/**
 * Sensor failsafes, end to end through the fake nvidia-smi: each fault ends with the zone's fans
 * at 100% at the plant, an alarm in the API and in the metrics, and an automatic, logged recovery.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { harness, untilAsync, type Harness } from './harness.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** the fault's visible effects: fans full at the plant, the alarm in API and metrics */
async function expectFailsafe(h: Harness, reason: string, subject: string, zone = 'gpu0') {
  const z = await untilAsync(`${reason} failsafe`, async () => {
    const v = await h.zone(zone);
    return v.failsafe && v.alarms.some((a) => a.kind === reason && a.subject === subject) && h.plantDuties(zone).every((d) => d === 1) ? v : undefined;
  });
  expect(z.duty).toBe(1);
  expect(z.fans.every((f) => f.duty === 1)).toBe(true);
  expect(z.alarms.find((a) => a.kind === reason)).toMatchObject({ failsafe: true, subject });
  expect(await h.metric('gance_thermal_failsafe', { zone, reason })).toBe(1);
  expect(await h.metric('gance_thermal_alarm', { zone, kind: reason, subject })).toBe(1);
  expect(await h.metric('gance_zone_duty_ratio', { zone })).toBe(1);
  expect((await h.state()).failsafe).toBe(true);
}

async function expectRecovered(h: Harness, reason: string, subject: string, zone = 'gpu0') {
  const z = await h.underControl(zone);
  expect(z.alarms).toEqual([]);
  expect(await h.metric('gance_thermal_failsafe', { zone, reason })).toBe(0);
  expect(await h.metric('gance_thermal_alarm', { zone, kind: reason, subject })).toBeUndefined();
  const line = h.logged(new RegExp(`recovered from ${reason} \\(${subject}\\)`));
  expect(line).toBeDefined();
  expect(line!.level).toBe(30);
  expect(h.logs.some((l) => l.level === 40 && l.msg.includes('FAILSAFE') && l.alarm === reason)).toBe(true);
}

describe('thermal failsafe: sensors', () => {
  it('a stale sample (nvidia-smi printing too slowly) -> fans full, then recovers', async () => {
    h = await harness({ sensors: { staleAfterMs: 400, silentAfterMs: 5000 } });
    await h.underControl();
    h.source.command({ cmd: 'interval', ms: 1500 });
    await expectFailsafe(h, 'sensor-stale', 'gpu0');
    expect((await h.zone()).alarms[0]!.message).toMatch(/last sample is \d\.\d s old \(limit 0\.4 s\)/);
    expect(await h.metric('gance_sensor_sample_age_seconds', { gpu: '0' })).toBeGreaterThan(0.4);
    h.source.command({ cmd: 'interval', ms: 100 });
    await expectRecovered(h, 'sensor-stale', 'gpu0');
    expect(h.source.stats().restarts).toBe(0);
  });

  it('a GPU missing from the samples -> its zone full, the other zone unaffected, then recovers', async () => {
    h = await harness({ gpus: 2 });
    await h.underControl('gpu0');
    await h.underControl('gpu1');
    h.rig.override(1, { hidden: true });
    await expectFailsafe(h, 'sensor-missing', 'gpu1', 'gpu1');
    const other = await h.zone('gpu0');
    expect(other.failsafe).toBe(false);
    expect(h.plantDuties('gpu0').every((d) => d < 0.9)).toBe(true);
    h.rig.override(1, null);
    await expectRecovered(h, 'sensor-missing', 'gpu1', 'gpu1');
  });

  it('a GPU reading [N/A] counts as missing', async () => {
    h = await harness();
    await h.underControl();
    h.rig.override(0, { temperature: null });
    await expectFailsafe(h, 'sensor-missing', 'gpu0');
    expect((await h.zone()).alarms[0]!.message).toContain('reports no temperature');
    h.rig.override(0, null);
    await expectRecovered(h, 'sensor-missing', 'gpu0');
  });

  it('a reading at the critical limit -> fans full until 3 C below it, then recovers', async () => {
    h = await harness({ zone: { criticalCelsius: 85 } });
    await h.underControl();
    h.rig.override(0, { temperature: 85 });
    await expectFailsafe(h, 'critical', 'gpu0');
    expect((await h.zone()).alarms[0]!.message).toContain('at or above the critical 85 C');
    // still held within the clearing band
    h.rig.override(0, { temperature: 83 });
    await new Promise((r) => setTimeout(r, 400));
    expect((await h.zone()).failsafe).toBe(true);
    h.rig.override(0, null);
    await expectRecovered(h, 'critical', 'gpu0');
  });

  it('nvidia-smi dies -> fans full, restarted with backoff, restarts counted, recovers', async () => {
    h = await harness({ sensors: { restartMinMs: 300 } });
    await h.underControl();
    expect(await h.metric('gance_nvidia_smi_restarts_total')).toBe(0);
    h.source.command({ cmd: 'exit', code: 1 });
    await expectFailsafe(h, 'nvidia-smi-down', 'simulated');
    expect(await h.metric('gance_nvidia_smi_up')).toBe(0);
    expect((await h.state()).sensors).toMatchObject({ running: false, restarts: 1, lastError: expect.stringContaining('exited with code 1') });
    expect(h.logged(/nvidia-smi stopped \(exited with code 1\); restarting in 300 ms/)).toBeDefined();
    await expectRecovered(h, 'nvidia-smi-down', 'simulated');
    expect(await h.metric('gance_nvidia_smi_restarts_total')).toBe(1);
    expect(await h.metric('gance_nvidia_smi_up')).toBe(1);
  });

  it('nvidia-smi hangs without output -> stale, killed, restarted, recovers', async () => {
    h = await harness({ sensors: { staleAfterMs: 400, silentAfterMs: 700 } });
    await h.underControl();
    const pid = h.source.pid;
    h.source.command({ cmd: 'hang' });
    await expectFailsafe(h, 'sensor-stale', 'gpu0');
    await untilAsync('restart', async () => h!.source.stats().restarts === 1 && h!.source.pid !== pid);
    expect(h.logged(/nvidia-smi stopped \(no output for \d+ ms\)/)).toBeDefined();
    await expectRecovered(h, 'sensor-stale', 'gpu0');
    expect(await h.metric('gance_nvidia_smi_restarts_total')).toBe(1);
  });

  it('garbage lines are counted as failed samples without a failsafe', async () => {
    h = await harness();
    await h.underControl();
    h.source.command({ cmd: 'line', text: 'Unable to determine the device handle for GPU 0000:1E:00.0: Unknown Error' });
    await untilAsync('failed sample', async () => (await h!.metric('gance_nvidia_smi_failed_samples_total')) === 1);
    expect((await h.zone()).failsafe).toBe(false);
  });
});
