/**
 * /metrics under many scrapers: concurrent scrapes share one registry.metrics() and its answer is
 * reused for server.metricsCacheMs (clock injected), so 200 scrapers cost one exposition.
 */
import { describe, expect, it } from 'vitest';
import { Gauge } from 'prom-client';
import { buildApp } from '../../src/api/app.ts';
import { createRegistry } from '../../src/metrics.ts';

function countingRegistry() {
  const registry = createRegistry();
  const counter = { collects: 0, fail: false };
  new Gauge({
    name: 'gance_test_collects',
    help: 'times the exposition was built',
    registers: [registry],
    collect() {
      counter.collects += 1;
      if (counter.fail) throw new Error('collector broke');
      this.set(counter.collects);
    },
  });
  return { registry, counter };
}

describe('/metrics cache', () => {
  it('coalesces concurrent scrapes into one exposition and reuses it for metricsCacheMs', async () => {
    const { registry, counter } = countingRegistry();
    let now = 1000;
    const app = await buildApp({ registry, notReady: () => [], limits: { metricsCacheMs: 1000 }, now: () => now });
    const answers = await Promise.all(Array.from({ length: 50 }, () => app.inject('/metrics')));
    expect(answers.every((r) => r.statusCode === 200)).toBe(true);
    expect(new Set(answers.map((r) => r.body)).size).toBe(1);
    expect(answers[0]!.headers['content-type']).toContain('text/plain');
    expect(counter.collects).toBe(1);
    now += 999;
    expect((await app.inject('/metrics')).body).toContain('gance_test_collects 1');
    expect(counter.collects).toBe(1);
    now += 1;
    expect((await app.inject('/metrics')).body).toContain('gance_test_collects 2');
    expect(counter.collects).toBe(2);
    await app.close();
  });

  it('with metricsCacheMs 0 only concurrent scrapes share; a failed exposition is not kept', async () => {
    const { registry, counter } = countingRegistry();
    const app = await buildApp({ registry, notReady: () => [], limits: { metricsCacheMs: 0 }, now: () => 0 });
    await Promise.all([app.inject('/metrics'), app.inject('/metrics')]);
    expect(counter.collects).toBe(1);
    await app.inject('/metrics');
    expect(counter.collects).toBe(2);
    counter.fail = true;
    expect((await app.inject('/metrics')).statusCode).toBe(500);
    counter.fail = false;
    const ok = await app.inject('/metrics');
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toContain('gance_test_collects 4');
    await app.close();
  });
});
