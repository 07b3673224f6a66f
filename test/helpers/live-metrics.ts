import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { REPO, spawnCli, writeTempConfig, type DaemonProcess } from './daemon-process.ts';
import { exposedFamilies, isExposed } from './promql.ts';
import { CoolerLinkMetrics } from '../../src/cooler/serial/metrics.ts';

/** made by Prometheus for every scrape target, never exposed by the daemon */
export const PROMETHEUS_MADE = new Set(['up']);

export interface LiveMetrics {
  families: Map<string, string>;
  /** whether a name from a query is exposed (see the notes on `up` and gance_cooler_*) */
  exposed(name: string): boolean;
  stop(): Promise<void>;
}

/**
 * The daemon on the embedded default config (port 0, a temporary stateDir), over real HTTP.
 * gance_cooler_* series are registered only by the serial driver (the gance firmware), which the
 * default does not run (simulated cooler): those names are checked against that driver's metrics
 * class on a fresh registry instead.
 */
export async function liveMetrics(): Promise<LiveMetrics> {
  const state = mkdtempSync(join(tmpdir(), 'gance-live-'));
  const yaml = readFileSync(join(REPO, 'config/default.yaml'), 'utf8').replace('port: 9840', 'port: 0').replace('stateDir: ./state', `stateDir: ${state}`);
  const daemon: DaemonProcess = spawnCli(['daemon', '--config', writeTempConfig(yaml)]);
  try {
    const address = await daemon.address();
    // a couple of control-loop ticks, so that every collector has run once
    await new Promise((r) => setTimeout(r, 1500));
    const res = await fetch(`${address}/metrics`);
    if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
    const families = exposedFamilies(await res.text());
    const reg = new Registry();
    new CoolerLinkMetrics(reg);
    const serial = new Map((await reg.getMetricsAsJSON()).map((m) => [m.name, String(m.type)]));
    return {
      families,
      exposed: (name) => PROMETHEUS_MADE.has(name) || (name.startsWith('gance_cooler_') ? isExposed(name, serial) : isExposed(name, families)),
      async stop() {
        daemon.child.kill('SIGTERM');
        await daemon.exited;
      },
    };
  } catch (err) {
    daemon.child.kill('SIGKILL');
    throw err;
  }
}
