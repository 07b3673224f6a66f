/**
 * Music-aware cooling end to end in the service (simulated rig, real service, API): a track
 * announced on the event bus reaches the zone of its GPUs and changes the fan commands; its
 * source's end takes it off; a load hint announced ahead goes live a time constant before its load.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { harness, untilAsync, type Harness } from './harness.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

// never stopping on its own: the fans run (at least at minDuty) for the whole test unless the budget stops them
const PID = { mode: 'pid', pid: { setpoint: 78 }, feedForward: { enabled: true, headroomCelsius: 0 }, slewDownPerSecond: 0.003, stopBelowDuty: 0 };

describe('thermal service: music-aware cooling', () => {
  it("a render's track (silence ahead, the die cool) stops the zone's fans under load; a sensor fault still puts them to full; the source's end gives them back", async () => {
    h = await harness({ profile: 'full', zone: PID, thermal: { music: { enabled: true } } });
    const running = await untilAsync('fans running under the 150 W load', async () => {
      const z = await h!.zone();
      return z.temperature !== null && z.duty >= 0.2 && !z.stopped && h!.plantDuties().some((d) => d > 0) ? z : undefined;
    });
    expect(running.music).toBeNull();
    // ten minutes of near-silence (20 dBA: the fans may make 10, less than three at their minimum)
    h.events.emit('music', { gpus: [0], source: 'render:r1', levelsDba: Array(600).fill(20) as number[], positionSeconds: 0 });
    const quiet = await untilAsync('fans stopped for the quiet track', async () => {
      const z = await h!.zone();
      return z.stopped && h!.plantDuties().every((d) => d === 0) ? z : undefined;
    });
    expect(quiet.failsafe).toBe(false);
    expect(quiet.music).toMatchObject({ enabled: true, source: 'render:r1', musicDba: 20, allowedDba: 10, lifted: null });
    expect(quiet.music!.cap!).toBeLessThan(0.2);
    expect(h.logged(/music from render:r1: 600 s of loudness for zones gpu0/)).toBeDefined();
    // a track for another GPU does not touch this zone; a bad one is logged, not thrown back
    h.events.emit('music', { gpus: [5], source: 'other', levelsDba: [95], positionSeconds: 0 });
    expect(() => h!.events.emit('music', { gpus: [0], source: 'bad', levelsDba: [Number.NaN], positionSeconds: 0 })).not.toThrow();
    expect(h.logged(/ignored music from bad: music: levelsDba must hold/)).toBeDefined();
    expect((await h.zone()).music?.source).toBe('render:r1');
    // safety wins over the budget: a sensor fault puts the stopped fans to full, the track still on
    h.rig.override(0, { hidden: true });
    const faulted = await untilAsync('failsafe with the fans at full', async () => {
      const z = await h!.zone();
      return z.failsafe && h!.plantDuties().every((d) => d === 1) ? z : undefined;
    });
    expect(faulted.duty).toBe(1);
    h.rig.override(0, null);
    await untilAsync('stopped again once the sensor is back', async () => ((await h!.zone()).stopped && !(await h!.zone()).failsafe ? true : undefined));
    // the render ends: the fans come back for the load
    h.events.emit('load-end', { gpus: [0], source: 'render:r1' });
    const back = await untilAsync('fans back', async () => {
      const z = await h!.zone();
      return !z.stopped && z.duty >= 0.2 && h!.plantDuties().some((d) => d > 0) ? z : undefined;
    });
    expect(back.music).toBeNull();
  });

  it('with thermal.music off a track is kept but not followed: the fans run as before', async () => {
    h = await harness({ profile: 'full', zone: PID });
    await untilAsync('fans running', async () => ((await h!.zone()).duty >= 0.2 ? true : undefined));
    h.events.emit('music', { gpus: [0], source: 'render:r2', levelsDba: Array(600).fill(20) as number[], positionSeconds: 0 });
    await untilAsync('the service has ticked with the track', async () => ((await h!.zone()).music?.source === 'render:r2' ? true : undefined));
    for (let k = 0; k < 10; k++) {
      await new Promise((r) => h!.service.once('tick', r));
      const z = await h.zone();
      expect(z.stopped).toBe(false);
      expect(z.duty).toBeGreaterThanOrEqual(0.2);
      expect(z.music).toMatchObject({ enabled: false, cap: null });
    }
  });

  it('a load hint announced ahead (startsInSeconds) starts stopped fans one time constant before its load, not at once', async () => {
    // a tiny heat capacity: the rig's time constant at full airflow is 0.5 s / 4.3 ... ~ 1.16 s with these figures
    h = await harness({ profile: 'idle', zone: { ...PID, stopBelowDuty: 0.1 }, thermal: { music: { model: { heatCapacityJPerK: 5 } } } });
    const lead = h.service.preCoolLeadSeconds();
    expect(lead).toBeCloseTo(5 / 4.3, 6);
    await untilAsync('idle zone with its fans stopped', async () => {
      const z = await h!.zone();
      return z.temperature !== null && z.stopped ? z : undefined;
    }, 15_000);
    const sent = performance.now();
    const r = await h.app.inject({ method: 'POST', url: '/v1/thermal/load-hint', payload: { gpus: [0], watts: 150, seconds: 30, startsInSeconds: 3, source: 'render:r3' } });
    expect(r.statusCode).toBe(202);
    expect(r.json().preCoolFromSeconds).toBeCloseTo(3 - lead, 6);
    await untilAsync('fans started by the hint', async () => ((await h!.zone()).stopped ? undefined : true), 10_000, 10);
    const startedAfter = (performance.now() - sent) / 1000;
    // not at once (the plain hint would start them within a tick), and before the load
    expect(startedAfter).toBeGreaterThan(3 - lead - 0.3);
    expect(startedAfter).toBeLessThan(3);
    expect(h.rig.plant.gpu(0).powerW).toBeLessThan(100);
    await untilAsync('the load arrives at its start', async () => (h!.rig.plant.gpu(0).powerW > 130 ? true : undefined), 5000, 20);
    // a bad startsInSeconds is a 400 naming the field
    const bad = await h.app.inject({ method: 'POST', url: '/v1/thermal/load-hint', payload: { gpus: [0], watts: 150, startsInSeconds: -1 } });
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toMatch(/startsInSeconds/);
  });
});
