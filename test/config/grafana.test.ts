/**
 * config/grafana/gance-dashboard.json against a live daemon: every metric name in every panel's
 * PromQL (and in the dashboard's variables) must be on the /metrics of the daemon running the
 * embedded default config over real HTTP.
 *
 * Two kinds of names are checked differently, and say so in their failure messages:
 *   - `up`, which Prometheus itself makes for each scrape (never on /metrics).
 *   - gance_cooler_* (frame errors, request timeouts): only the serial driver (the gance firmware)
 *     registers them, and the embedded default runs the simulated cooler; they are checked
 *     against the serial driver's own metrics class on a fresh registry instead.
 *
 * gance_render_* (src/render/metrics.ts) and gance_live_* (src/live/metrics.ts) are registered by
 * the daemon whatever its config, so their panels are checked like the others.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from '../helpers/daemon-process.ts';
import { isExposed, metricNames } from '../helpers/promql.ts';
import { liveMetrics, type LiveMetrics } from '../helpers/live-metrics.ts';

interface Panel {
  type: string;
  title: string;
  id: number;
  targets?: Array<{ expr: string }>;
  datasource?: { uid: string };
}
const dashboard = JSON.parse(readFileSync(join(REPO, 'config/grafana/gance-dashboard.json'), 'utf8')) as {
  uid: string;
  panels: Panel[];
  templating: { list: Array<{ name: string; definition?: string }> };
};

let live: LiveMetrics;
beforeAll(async () => {
  live = await liveMetrics();
}, 60_000);
afterAll(() => live?.stop());
const exposed = (n: string) => live.exposed(n);

describe('Grafana dashboard', () => {
  it('the PromQL name extractor finds metric names and only those', () => {
    expect(metricNames('histogram_quantile(0.99, sum by (le) (rate(gance_x_seconds_bucket{instance=~"$instance"}[5m])))')).toEqual(['gance_x_seconds_bucket']);
    expect(metricNames('gance_a{zone="z"} / on(zone) group_left gance_b * 1e3 > 0 and up == 1')).toEqual(['gance_a', 'gance_b', 'up']);
    expect(isExposed('gance_x_seconds_bucket', new Map([['gance_x_seconds', 'histogram']]))).toBe(true);
    expect(isExposed('gance_x_total_count', new Map([['gance_x_total', 'counter']]))).toBe(false);
  });

  it('has what the rig needs watched, each panel with a query on the datasource variable, ids unique', () => {
    const titles = dashboard.panels.map((p) => p.title).join('\n');
    for (const t of ['GPU temperatures against setpoints', 'Fan duty', 'Fan speed', 'PID terms and feed-forward', 'Failsafes', 'Alarms', 'Cooler link', 'Frame errors', 'Worker latency', 'Process memory', 'Render queue', 'Render fps and frames', 'Render failures by reason', 'Live fps', 'Live dropped frames by cause', 'Live sample-to-frame latency', 'Live clients']) {
      expect(titles).toContain(t);
    }
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of dashboard.panels.filter((p) => p.type !== 'row')) {
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      expect(p.datasource?.uid, p.title).toBe('${datasource}');
    }
  });

  it('every metric name in every panel and variable is on the live /metrics', () => {
    expect(live.families.size).toBeGreaterThan(30);
    const missing: string[] = [];
    const queries = [
      ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `panel "${p.title}"`, expr: t.expr }))),
      ...dashboard.templating.list.filter((v) => v.definition).map((v) => ({ where: `variable $${v.name}`, expr: v.definition!.replace(/^label_values\((.*),\s*\w+\)$/, '$1') })),
    ];
    let checked = 0;
    for (const { where, expr } of queries) {
      const names = metricNames(expr);
      expect(names.length, `${where}: no metric in ${expr}`).toBeGreaterThan(0);
      for (const n of names) {
        checked++;
        if (!exposed(n)) missing.push(`${where} uses ${n}, which the daemon does not expose`);
      }
    }
    expect(missing, `\n${missing.join('\n')}\n`).toEqual([]);
    expect(checked).toBeGreaterThan(40);
  });

  it('shows the render and live series: render queue, fps, failures; live fps, drops, latency, clients', () => {
    const used = new Set(dashboard.panels.flatMap((p) => (p.targets ?? []).flatMap((t) => metricNames(t.expr))));
    for (const n of ['gance_render_jobs', 'gance_render_queue_depth', 'gance_render_fps', 'gance_render_frames_total', 'gance_render_failures_total', 'gance_live_fps', 'gance_live_dropped_frames_total', 'gance_live_sample_to_frame_seconds_bucket', 'gance_live_clients']) {
      expect(used.has(n), `no panel reads ${n}`).toBe(true);
    }
  });
});
