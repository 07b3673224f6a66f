/**
 * Does the thermal control loop keep its period under API load (issue 10)? Starts the real daemon
 * (the embedded default: simulated GPUs and cooler; synthesis off unless LOOP_BENCH_SYNTHESIS=1)
 * in a child process, measures the loop period while idle, then while this process fires rounds of
 * 200 concurrent GET /metrics for ~20 s. Figures: period p50/p99/max (ms) per phase, scrapes done,
 * scrape latency p50/p99. Target: p99 under scrapes within 25% of the nominal period.
 *
 * The period comes from the service's own 'tick' event, recorded inside the daemon process
 * (fixtures/loop-daemon.ts); the daemon has its own process, so the client's work competes for CPU
 * but not for the daemon's event loop. The last line is one JSON object.
 *
 * Run: node --import tsx test/bench/loop-under-scrapes.ts
 *   LOOP_BENCH_SECONDS (20), LOOP_BENCH_CONCURRENCY (200), LOOP_BENCH_SYNTHESIS (0),
 *   LOOP_BENCH_SERVER (JSON merged into the config's server section, e.g. '{"metricsCacheMs":0}')
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { parse, stringify } from 'yaml';
import { DEFAULT_CONFIG_PATH } from '../../src/config/load.ts';

const SECONDS = Number(process.env.LOOP_BENCH_SECONDS ?? 20);
const CONCURRENCY = Number(process.env.LOOP_BENCH_CONCURRENCY ?? 200);
const IDLE_SECONDS = 5;
const SYNTHESIS = process.env.LOOP_BENCH_SYNTHESIS === '1';

const dir = mkdtempSync(join(tmpdir(), 'gance-loop-bench-'));
const config = parse(readFileSync(DEFAULT_CONFIG_PATH, 'utf8')) as Record<string, unknown> & { server: object; synthesis: object; thermal: { periodMs?: number } };
config.server = { ...config.server, port: 0, ...(process.env.LOOP_BENCH_SERVER ? (JSON.parse(process.env.LOOP_BENCH_SERVER) as object) : {}) };
config.log = { level: 'error' };
config.stateDir = join(dir, 'state');
config.synthesis = { ...config.synthesis, enabled: SYNTHESIS };
const configPath = join(dir, 'config.yaml');
writeFileSync(configPath, stringify(config));
const nominalMs = config.thermal.periodMs ?? 200;

const child: ChildProcess = fork(fileURLToPath(new URL('./fixtures/loop-daemon.ts', import.meta.url)), [configPath], {
  execArgv: ['--import', 'tsx'],
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});
const [{ port }] = (await once(child, 'message')) as [{ port: number }];
const base = `http://127.0.0.1:${port}`;

async function report(): Promise<number[]> {
  child.send('report');
  const [{ periods }] = (await once(child, 'message')) as [{ periods: number[] }];
  return periods.map((s) => s * 1000);
}

const pct = (xs: number[], q: number) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
};
const summary = (xs: number[]) => ({
  ticks: xs.length,
  p50Ms: +pct(xs, 0.5).toFixed(1),
  p99Ms: +pct(xs, 0.99).toFixed(1),
  maxMs: +Math.max(...xs).toFixed(1),
  meanMs: +(xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(1),
});

// ready: the loop has ticked with samples (thermal ready), then a clean idle window
for (;;) {
  const r = await fetch(`${base}/readyz`).catch(() => null);
  if (r?.status === 200) break;
  await new Promise((res) => setTimeout(res, 200));
}
await report();
await new Promise((res) => setTimeout(res, IDLE_SECONDS * 1000));
const idle = summary(await report());
console.log(`idle ${IDLE_SECONDS} s: period p50 ${idle.p50Ms} ms, p99 ${idle.p99Ms} ms, max ${idle.maxMs} ms (${idle.ticks} ticks, nominal ${nominalMs} ms)`);

let scrapes = 0;
let failures = 0;
let bytes = 0;
const failureReasons = new Map<string, number>();
const latencies: number[] = [];
const scrape = async () => {
  const t0 = performance.now();
  try {
    const res = await fetch(`${base}/metrics`);
    const body = await res.text();
    if (res.status !== 200) failures += 1;
    else bytes = body.length;
    scrapes += 1;
  } catch (err) {
    failures += 1;
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (err as Error).message;
    failureReasons.set(why, (failureReasons.get(why) ?? 0) + 1);
  }
  latencies.push(performance.now() - t0);
};
const end = performance.now() + SECONDS * 1000;
let rounds = 0;
while (performance.now() < end) {
  await Promise.all(Array.from({ length: CONCURRENCY }, scrape));
  rounds += 1;
}
const loaded = summary(await report());
console.log(
  `${CONCURRENCY} concurrent /metrics for ${SECONDS} s: ${rounds} rounds, ${scrapes} scrapes (${failures} failed, ${bytes} B each), latency p50 ${pct(latencies, 0.5).toFixed(0)} ms p99 ${pct(latencies, 0.99).toFixed(0)} ms`,
);
console.log(`loaded: period p50 ${loaded.p50Ms} ms, p99 ${loaded.p99Ms} ms, max ${loaded.maxMs} ms, mean ${loaded.meanMs} ms (${loaded.ticks} ticks)`);

child.send('stop');
await once(child, 'exit');
const pass = loaded.p99Ms <= nominalMs * 1.25;
console.log(
  JSON.stringify({
    bench: 'loop-under-scrapes',
    nominalMs,
    concurrency: CONCURRENCY,
    seconds: SECONDS,
    synthesis: SYNTHESIS,
    idle,
    loaded,
    scrapes,
    failures,
    failureReasons: Object.fromEntries(failureReasons),
    scrapesPerSecond: +(scrapes / SECONDS).toFixed(0),
    scrapeLatencyMs: { p50: +pct(latencies, 0.5).toFixed(1), p99: +pct(latencies, 0.99).toFixed(1) },
    target: { p99WithinPct: 25, pass },
  }),
);
