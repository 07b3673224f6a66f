/** The control loop: its period, lateness, readiness, liveness, and load hints reaching the controllers. */
import { afterEach, describe, expect, it } from 'vitest';
import type { Histogram } from 'prom-client';
import { createZoneController } from '../../../src/thermal/control/index.ts';
import { harness, untilAsync, type Harness } from './harness.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function histogram(h: Harness, name: string) {
  const m = (await (h.registry.getSingleMetric(name) as Histogram).get()).values;
  const count = m.find((v) => v.metricName === `${name}_count`)!.value;
  const sum = m.find((v) => v.metricName === `${name}_sum`)!.value;
  const le = (bound: number) => m.find((v) => v.metricName === `${name}_bucket` && v.labels.le === bound)!.value;
  return { count, sum, le };
}

describe('thermal control loop', () => {
  it('keeps its period while the main thread is otherwise idle (lateness histogram)', async () => {
    h = await harness({ gpus: 2 });
    await h.underControl();
    const before = await histogram(h, 'gance_thermal_loop_period_seconds');
    const lateBefore = await histogram(h, 'gance_thermal_loop_lateness_seconds');
    await new Promise((r) => setTimeout(r, 3000));
    const period = await histogram(h, 'gance_thermal_loop_period_seconds');
    const late = await histogram(h, 'gance_thermal_loop_lateness_seconds');
    const ticks = period.count - before.count;
    // 50 ms period for 3 s: ~60 ticks; the mean period is the configured one
    expect(ticks).toBeGreaterThanOrEqual(55);
    expect(ticks).toBeLessThanOrEqual(62);
    const mean = (period.sum - before.sum) / ticks;
    expect(mean).toBeGreaterThan(0.0485);
    expect(mean).toBeLessThan(0.0515);
    // almost every tick starts within 10 ms of its slot (2 cores shared with other work: some slack)
    const n = late.count - lateBefore.count;
    const within10ms = (late.le(0.01) - lateBefore.le(0.01)) / n;
    expect(within10ms, `ticks ${n}, mean period ${mean}`).toBeGreaterThan(0.9);
    const text = await h.metrics();
    expect(text).toMatch(/^gance_thermal_loop_lateness_seconds_bucket\{le="0\.005"\} \d+/m);
    expect(text).toMatch(/^gance_thermal_loop_period_seconds_bucket\{le="0\.05"\} \d+/m);
  });

  it('records a blocked event loop as lateness and reports not alive meanwhile', async () => {
    h = await harness();
    await h.underControl();
    const before = await histogram(h, 'gance_thermal_loop_lateness_seconds');
    expect(h.service.alive()).toBe(true);
    const until = performance.now() + 250;
    while (performance.now() < until) {
      /* a synchronous job hogging the main thread: what the loop must never do itself */
    }
    expect(h.service.alive()).toBe(false);
    await new Promise((r) => setTimeout(r, 120));
    expect(h.service.alive()).toBe(true);
    const after = await histogram(h, 'gance_thermal_loop_lateness_seconds');
    expect(after.count - after.le(0.1)).toBeGreaterThan(before.count - before.le(0.1));
  });

  it('is not ready until the first valid sample', async () => {
    h = await harness({ start: false });
    const start = h.service.start();
    await start;
    expect(h.service.ready()).toBe(false);
    expect((await h.app.inject('/readyz')).statusCode).toBe(503);
    await untilAsync('ready', async () => h!.service.ready());
    expect((await h.app.inject('/readyz')).statusCode).toBe(200);
  });

  it('passes load hints from the event bus to the controllers (feed-forward leads the load)', async () => {
    h = await harness({ zone: { mode: 'pid', pid: { setpoint: 70 }, feedForward: { enabled: true, headroomCelsius: 0 } } });
    await untilAsync('samples', async () => (await h!.zone()).temperature !== null);
    const idle = await h.zone();
    expect(idle.terms.ff).toBeLessThan(0.01);
    h.events.emit('load-hint', { gpus: [0], watts: 150, seconds: 5, source: 'render job 1' });
    const z = await untilAsync('ff term', async () => {
      const v = await h!.zone();
      return v.terms.ff > 0.1 ? v : undefined;
    });
    // the hint (150 W) leads: the term is there before the GPU has warmed at all
    expect(z.temperature).toBeLessThan(40);
    // the simulated GPU draws the announced power too
    expect(h.rig.plant.gpu(0).powerW).toBeGreaterThan(130);
    // a hint for another GPU does not touch this zone
    const ff = (await h.zone()).terms.ff;
    h.events.emit('load-hint', { gpus: [3], watts: 300, seconds: 5, source: 'x' });
    await new Promise((r) => setTimeout(r, 100));
    expect(Math.abs((await h.zone()).terms.ff - ff)).toBeLessThan(0.05);
    // a malformed hint is logged, not thrown back at the sender
    expect(() => h!.events.emit('load-hint', { gpus: [0], watts: Number.NaN, seconds: 5, source: 'bad' })).not.toThrow();
    expect(h.logged(/ignored a malformed load hint/)).toBeDefined();
  });

  it('passes the zone\'s ambient thermistor reading to its controller, and shows it (issue 14)', async () => {
    const seen: Array<number | null | undefined> = [];
    h = await harness({
      zone: { mode: 'pid', feedForward: { ambientThermistor: 'sink0' } },
      controllerFactory: (z, fans) => {
        const c = createZoneController(z, fans);
        return { ...c, step: (input) => (seen.push(input.ambientC), c.step(input)) };
      },
    });
    const z = await untilAsync('ambient from the thermistor', async () => {
      const v = await h!.zone();
      return v.ambient?.source === 'thermistor' ? v : undefined;
    });
    expect(seen.some((a) => typeof a === 'number')).toBe(true);
    expect(z.ambient!.celsius).toBeGreaterThan(0);
  });
});
