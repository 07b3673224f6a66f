/**
 * config/prometheus: the scrape config and alert rules pass promtool's checks, the rules' unit
 * tests (gance-rules.test.yml) pass, and every metric name in every rule is on a live daemon's
 * /metrics (render and live series included: the daemon registers them whatever its config).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { REPO } from '../helpers/daemon-process.ts';
import { metricNames } from '../helpers/promql.ts';
import { liveMetrics, type LiveMetrics } from '../helpers/live-metrics.ts';

const DIR = join(REPO, 'config/prometheus');
const promtool = (...args: string[]) => spawnSync('promtool', args, { cwd: DIR, encoding: 'utf8' });
const rules = parse(readFileSync(join(DIR, 'gance-rules.yml'), 'utf8')) as { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> };
const all = rules.groups.flatMap((g) => g.rules);

let live: LiveMetrics;
beforeAll(async () => {
  live = await liveMetrics();
}, 60_000);
afterAll(() => live?.stop());

describe('Prometheus config and alert rules', () => {
  it('promtool check rules and check config pass', () => {
    const r = promtool('check', 'rules', 'gance-rules.yml');
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const c = promtool('check', 'config', 'prometheus.yml');
    expect(c.status, c.stdout + c.stderr).toBe(0);
  });

  it('promtool test rules passes the unit tests', () => {
    const t = promtool('test', 'rules', 'gance-rules.test.yml');
    expect(t.status, t.stdout + t.stderr).toBe(0);
    expect(t.stdout).toContain('SUCCESS');
  });

  it('alerts on what needs a person: daemon down, GPU hot, failsafe, cooler link, stale sensors, render failing, live dropping frames; each has a unit test', () => {
    const names = all.map((r) => r.alert);
    expect(names).toEqual(expect.arrayContaining(['GanceDaemonDown', 'GanceGpuHot', 'GanceFailsafeActive', 'GanceCoolerLinkDown', 'GanceSensorStale', 'GanceRenderFailing', 'GanceLiveDroppingFrames']));
    const tests = readFileSync(join(DIR, 'gance-rules.test.yml'), 'utf8');
    for (const n of names) expect(tests, `${n} has no alert_rule_test`).toContain(`alertname: ${n}`);
  });

  it('every metric name in every rule is on the live /metrics', () => {
    const missing = all.flatMap((r) => metricNames(r.expr).filter((n) => !live.exposed(n)).map((n) => `${r.alert} uses ${n}, which the daemon does not expose`));
    expect(missing, `\n${missing.join('\n')}\n`).toEqual([]);
  });
});
