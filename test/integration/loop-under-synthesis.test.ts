/**
 * The control loop never waits on synthesis: with the embedded default daemon rendering frames as
 * fast as its CPU worker can, the thermal loop's lateness histogram stays near zero. A deliberate
 * block of the main thread afterwards shows the same histogram does catch a stalled loop.
 */
import { afterAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Histogram } from 'prom-client';
import { loadConfigFile } from '../../src/config/load.ts';
import { createDaemon, type Daemon } from '../../src/daemon.ts';

let daemon: Daemon | undefined;
afterAll(async () => daemon?.stop());

async function lateness(d: Daemon): Promise<{ count: number; atMost: (s: number) => number }> {
  const h = d.registry.getSingleMetric('gance_thermal_loop_lateness_seconds') as Histogram;
  const { values } = await h.get();
  const buckets = values.filter((v) => v.metricName === 'gance_thermal_loop_lateness_seconds_bucket');
  const count = values.find((v) => v.metricName === 'gance_thermal_loop_lateness_seconds_count')?.value ?? 0;
  // cumulative bucket counts: observations at or below the largest bound <= s
  const atMost = (s: number) => Math.max(0, ...buckets.filter((b) => Number(b.labels.le) <= s).map((b) => b.value));
  return { count, atMost };
}

describe('thermal loop while synthesis runs', () => {
  it('keeps its period while frames are synthesized flat out, and its histogram does catch a blocked loop', async () => {
    const config = loadConfigFile();
    config.server.port = 0;
    config.stateDir = mkdtempSync(join(tmpdir(), 'gance-lat-'));
    daemon = await createDaemon({ config, log: pino({ level: 'silent' }) });
    await daemon.start();
    const t0 = Date.now();
    while (daemon.supervisor.notReady().length > 0) {
      if (Date.now() - t0 > 60_000) throw new Error(`not ready: ${daemon.supervisor.notReady()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const synthesis = { manager: daemon.services.get('networks') };
    const pool = synthesis.manager.pool!;
    const before = await lateness(daemon);

    // 5 s of synthesis with 8 frames always in flight
    let frames = 0;
    const until = Date.now() + 5000;
    const lane = async () => {
      while (Date.now() < until) {
        const z = new Float32Array(512).map(() => Math.random() * 2 - 1);
        await pool.submit({ feeds: { z, psi: Float32Array.of(1) } });
        frames++;
      }
    };
    await Promise.all(Array.from({ length: 8 }, lane));
    const during = await lateness(daemon);
    const ticks = during.count - before.count;
    const onTime = during.atMost(0.05) - before.atMost(0.05);
    console.log(`synthesis: ${frames} frames in 5 s; loop: ${ticks} ticks, ${onTime} within 50 ms of schedule`);
    expect(frames).toBeGreaterThan(20);
    expect(ticks).toBeGreaterThanOrEqual(20); // 200 ms period over 5 s
    expect(onTime / ticks).toBeGreaterThanOrEqual(0.9);

    // Negative control: a main thread blocked for 600 ms must show up as a late tick.
    const lateBefore = during.count - during.atMost(0.25);
    const end = Date.now() + 600;
    while (Date.now() < end) {
      /* block the event loop, as an in-thread session.run would */
    }
    await new Promise((r) => setTimeout(r, 500));
    const after = await lateness(daemon);
    expect(after.count - after.atMost(0.25) - lateBefore).toBeGreaterThanOrEqual(1);
  }, 120_000);
});
