/**
 * Sensor failsafes, end to end through the fake nvidia-smi: each fault ends with the zone's fans
 * at 100% at the plant, an alarm in the API and in the metrics, and an automatic, logged recovery.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { expectFailsafe, expectFailsafeBeforeNextTick, expectRecovered, expectReleasedBeforeNextTick, harness, type Harness } from './harness.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

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

  it('a sensor that goes silent puts its zone at full when its sample goes stale, not at the next tick of a long period', async () => {
    // A period far longer than the stale limit: judged at ticks only, the fault waited for the tick.
    h = await harness({ cooler: { watchdogSeconds: 10 }, thermal: { periodMs: 4000 }, sensors: { staleAfterMs: 300, silentAfterMs: 60_000 } });
    await h.underControl('gpu0', 30_000);
    await expectFailsafeBeforeNextTick(h, () => h!.source.command({ cmd: 'interval', ms: 60_000 }), 'sensor-stale', 'gpu0');
  }, 60_000);

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

  // A period far longer than the fault takes to show (and a stale limit longer still, so that the
  // stale watch does not do the work): judged at ticks only, each waited for the next one.
  const slow = { gpus: 2, cooler: { watchdogSeconds: 10 }, thermal: { periodMs: 4000 }, sensors: { staleAfterMs: 9000, silentAfterMs: 60_000 } };

  it('a sample reading [N/A] puts its zone at full when it arrives, not at the next tick of a long period', async () => {
    h = await harness(slow);
    await h.underControl('gpu0', 30_000);
    await expectFailsafeBeforeNextTick(h, () => h!.rig.override(0, { temperature: null }), 'sensor-missing', 'gpu0');
    expect((await h.zone('gpu1')).failsafe).toBe(false);
  }, 60_000);

  it('a GPU gone from the output puts its zone at full when that shows, not at the next tick of a long period', async () => {
    h = await harness(slow);
    await h.underControl('gpu1', 30_000);
    await expectFailsafeBeforeNextTick(h, () => h!.rig.override(1, { hidden: true }), 'sensor-missing', 'gpu1', 'gpu1');
    expect((await h.zone('gpu1')).alarms[0]!.message).toContain('missing from the simulated output');
  }, 60_000);

  it('a sample at the critical limit puts its zone at full when it arrives, not at the next tick of a long period', async () => {
    h = await harness({ ...slow, zone: { criticalCelsius: 85 } });
    await h.underControl('gpu0', 30_000);
    await expectFailsafeBeforeNextTick(h, () => h!.rig.override(0, { temperature: 90 }), 'critical', 'gpu0');
  }, 60_000);

  it('at start, the first sample brings a zone held at full for it under control at once, not at the next tick of a long period', async () => {
    h = await harness({ ...slow, start: false });
    await expectReleasedBeforeNextTick(h, () => h!.service.start(), 'sensor-missing', 'gpu0');
  }, 60_000);

  it('a restarted sensor process brings its zones under control with its first sample, not at the next tick of a long period', async () => {
    h = await harness(slow);
    await h.underControl('gpu0', 30_000);
    // listening before the exit: the reader is back 0.1 s after it
    const released = expectReleasedBeforeNextTick(h, () => undefined, 'nvidia-smi-down', 'simulated');
    await expectFailsafeBeforeNextTick(h, () => h!.source.command({ cmd: 'exit', code: 1 }), 'nvidia-smi-down', 'simulated');
    await released;
  }, 60_000);
});
