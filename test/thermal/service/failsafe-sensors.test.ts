/**
 * Sensor failsafes, end to end through the fake nvidia-smi: each fault ends with the zone's fans
 * at 100% at the plant, an alarm in the API and in the metrics, and an automatic, logged recovery.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { expectFailsafe, expectRecovered, harness, type Harness } from './harness.ts';

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
    // The 'tick' event follows a periodic tick synchronously: an alarm raised in one sees it before
    // the next turn of the event loop; an alarm raised by the stale watch does not.
    let ticked = false;
    h.service.on('tick', () => (ticked = true));
    const raised = new Promise<{ byPeriodicTick: boolean }>((resolve) =>
      h!.service.on('alarm', (e: { alarm: { kind: string; message: string }; raised: boolean }) => {
        if (e.alarm.kind !== 'sensor-stale' || !e.raised) return;
        ticked = false;
        setImmediate(() => resolve({ byPeriodicTick: ticked }));
      }),
    );
    h.source.command({ cmd: 'interval', ms: 60_000 });
    const r = await raised;
    expect(r.byPeriodicTick).toBe(false);
    // the fans went to full then, with no periodic tick between: the plant says so before the next one
    ticked = false;
    expect(h.plantDuties().every((d) => d === 1) || (await new Promise<boolean>((resolve) => {
      const check = setInterval(() => {
        if (h!.plantDuties().every((d) => d === 1)) resolve(true);
        else if (ticked) resolve(false);
        else return;
        clearInterval(check);
      }, 5);
    }))).toBe(true);
    const z = await h.zone();
    expect(z.failsafe).toBe(true);
    expect(z.alarms.find((a) => a.kind === 'sensor-stale')).toMatchObject({ subject: 'gpu0', failsafe: true });
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
});
