/**
 * Soak (opt-in, issue 13): the real daemon on the embedded default (simulated K80s and cooler, the
 * plant model, CPU inference with the demo network) for 30 minutes, with a token on, while this
 * process:
 *   - scrapes /metrics every second as Prometheus would (a scrape failing or over 2 s counts as failed);
 *   - makes live changes every 5 s with the token: zone setpoints and modes, load hints, network
 *     load/unload;
 *   - abuses the API every 250 ms: a foreign Host, no token, a wrong token, a cross-site Origin, a
 *     body-less form POST, malformed and oversized JSON, unknown routes (each must be refused, not crash anything).
 * Everything runs in real time: the plant model advances with the wall clock (timeScale 1), so the
 * simulated GPUs heat and cool at their real pace; the daemon, its control loop, HTTP and the
 * workers are the real ones. Renders are not exercised: render jobs (/v1/renders) are not on this
 * branch yet.
 *
 * Prints, at the end: RSS slope (MB/h, least squares over the samples after the warm-up: the first
 * minute, or a third of a shorter run), worst control-loop lateness after the warm-up (the smallest
 * gance_thermal_loop_lateness_seconds bucket bound holding every tick, and the worst event-loop
 * lag), failed scrapes, failsafe activations (zone, reason; those on at the first scrape are the
 * start-up failsafe, listed apart), abuse answers
 * by status, whether the daemon exited cleanly. The last line is one JSON object.
 *
 * Run: node --import tsx test/bench/soak.ts [--minutes N]
 */
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parse, stringify } from 'yaml';
import { DEFAULT_CONFIG_PATH } from '../../src/config/load.ts';
import { CLI } from '../helpers/daemon-process.ts';

const arg = process.argv.indexOf('--minutes');
const MINUTES = arg > 0 ? Number(process.argv[arg + 1]) : 30;
if (!Number.isFinite(MINUTES) || MINUTES <= 0) throw new Error('--minutes: must be a positive number');

const dir = mkdtempSync(join(tmpdir(), 'gance-soak-'));
const TOKEN = 'soak'.repeat(12);
const tokenFile = join(dir, 'token');
writeFileSync(tokenFile, TOKEN);
chmodSync(tokenFile, 0o600);
const config = parse(readFileSync(DEFAULT_CONFIG_PATH, 'utf8')) as Record<string, unknown> & { server: object };
config.server = { ...config.server, port: 0, auth: { tokenFile } };
config.log = { level: 'info' };
config.stateDir = join(dir, 'state');
const configPath = join(dir, 'config.yaml');
writeFileSync(configPath, stringify(config));

const child = spawn(process.execPath, [CLI, 'daemon', '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
const logLines: Array<Record<string, unknown>> = [];
let buf = '';
child.stdout.setEncoding('utf8').on('data', (c: string) => {
  buf += c;
  let nl: number;
  while ((nl = buf.indexOf('\n')) >= 0) {
    try {
      logLines.push(JSON.parse(buf.slice(0, nl)) as Record<string, unknown>);
    } catch {
      /* not JSON */
    }
    buf = buf.slice(nl + 1);
  }
});
let stderr = '';
child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
const exited = new Promise<{ code: number | null; signal: string | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let base = '';
for (let i = 0; i < 600 && !base; i++) {
  const l = logLines.find((x) => typeof x.address === 'string');
  if (l) base = l.address as string;
  else await sleep(100);
}
if (!base) throw new Error(`the daemon did not start: ${stderr}`);
const url = new URL(base);

function call(path: string, o: { method?: string; headers?: Record<string, string>; body?: string; timeoutMs?: number } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request({ hostname: url.hostname, port: url.port, path, method: o.method ?? 'GET', headers: { host: url.host, ...o.headers }, timeout: o.timeoutMs ?? 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.end(o.body);
  });
}
const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };

const start = performance.now();
const end = start + MINUTES * 60_000;
// start-up (network loads, JIT, the first sensor samples) is not what a soak measures
const WARMUP_S = Math.min(60, (MINUTES * 60) / 3);
let baselineBuckets: Map<string, number> | null = null;
let firstScrape = true;
const failsafesAtStart: string[] = [];
const rss: Array<[number, number]> = [];
let scrapes = 0;
let failedScrapes = 0;
let worstLagS = 0;
let latenessBuckets = new Map<string, number>();
const failsafeOn = new Set<string>();
const failsafes: Record<string, number> = {};
const abuse: Record<string, number> = {};
let changes = 0;
let changeErrors = 0;

async function scrapeLoop() {
  while (performance.now() < end) {
    const t0 = performance.now();
    const r = await call('/metrics', { timeoutMs: 2000 });
    scrapes++;
    if (r.status !== 200 || performance.now() - t0 > 2000) failedScrapes++;
    else {
      const m = /^gance_process_resident_memory_bytes (\S+)$/m.exec(r.body);
      if (m) rss.push([(performance.now() - start) / 1000, Number(m[1]) / 2 ** 20]);
      const lag = /^gance_nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(r.body);
      const warm = (performance.now() - start) / 1000 >= WARMUP_S;
      if (lag && warm) worstLagS = Math.max(worstLagS, Number(lag[1]));
      latenessBuckets = new Map([...r.body.matchAll(/^gance_thermal_loop_lateness_seconds_bucket\{le="([^"]+)"\} (\S+)$/gm)].map((x) => [x[1]!, Number(x[2])]));
      if (warm && baselineBuckets === null) baselineBuckets = latenessBuckets;
      for (const f of r.body.matchAll(/^gance_thermal_failsafe\{zone="([^"]+)",reason="([^"]+)"\} (\S+)$/gm)) {
        const key = `${f[1]}/${f[2]}`;
        if (f[3] === '1' && !failsafeOn.has(key)) {
          failsafeOn.add(key);
          // on at the first scrape: the start-up failsafe (fans full until the first samples), not an event
          if (firstScrape) failsafesAtStart.push(key);
          else failsafes[key] = (failsafes[key] ?? 0) + 1;
        } else if (f[3] === '0') failsafeOn.delete(key);
      }
      firstScrape = false;
    }
    await sleep(Math.max(0, 1000 - (performance.now() - t0)));
  }
}

async function changeLoop() {
  let i = 0;
  while (performance.now() < end) {
    const zone = i % 2 === 0 ? 'gpu0' : 'gpu1';
    const steps: Array<[string, string, unknown]> = [
      ['PATCH', `/v1/thermal/zones/${zone}`, { pid: { setpoint: 70 + (i % 8) } }],
      ['POST', '/v1/thermal/load-hint', { gpus: [i % 2], watts: 150, seconds: 10 }],
      ['PATCH', `/v1/thermal/zones/${zone}`, { mode: i % 4 === 0 ? 'curve' : 'pid' }],
      ['POST', `/v1/networks/demo-64/${i % 6 === 0 ? 'unload' : 'load'}`, {}],
    ];
    const [method, path, body] = steps[i % steps.length]!;
    const r = await call(path, { method, headers: auth, body: JSON.stringify(body) });
    changes++;
    if (r.status >= 500 || r.status === 0 || r.status === 401 || r.status === 403 || r.status === 421) changeErrors++;
    i++;
    await sleep(5000);
  }
}

async function abuseLoop() {
  const kinds: Array<[string, () => Promise<{ status: number }>]> = [
    ['foreign-host', () => call('/v1/thermal', { headers: { host: 'rebind.evil.example' } })],
    ['no-token', () => call('/v1/thermal/zones/gpu0', { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: '{"mode":"fixed","duty":0}' })],
    ['bad-token', () => call('/v1/thermal/zones/gpu0', { method: 'PATCH', headers: { ...auth, authorization: 'Bearer x' }, body: '{"pid":{"criticalCelsius":150}}' })],
    ['cross-site', () => call('/v1/networks/demo-64/load', { method: 'POST', headers: { ...auth, origin: 'http://evil.example' }, body: '{}' })],
    ['form-post', () => call('/v1/networks/demo-64/load', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' } })],
    ['bad-json', () => call('/v1/thermal/zones/gpu0', { method: 'PATCH', headers: auth, body: '{"pid":' })],
    ['huge-body', () => call('/v1/thermal/load-hint', { method: 'POST', headers: auth, body: JSON.stringify({ gpus: new Array(300_000).fill(0) }) })],
    ['unknown', () => call('/v1/nothing/here')],
  ];
  let i = 0;
  while (performance.now() < end) {
    const [kind, fn] = kinds[i++ % kinds.length]!;
    const r = await fn();
    const key = `${kind}:${r.status}`;
    abuse[key] = (abuse[key] ?? 0) + 1;
    await sleep(250);
  }
}

const progress = setInterval(() => {
  const last = rss.at(-1);
  process.stdout.write(`${((performance.now() - start) / 60_000).toFixed(1)} min: rss ${last?.[1].toFixed(1)} MB, scrapes ${scrapes} (${failedScrapes} failed), changes ${changes}, failsafes ${JSON.stringify(failsafes)}\n`);
}, 60_000);
await Promise.all([scrapeLoop(), changeLoop(), abuseLoop()]);
clearInterval(progress);

child.kill('SIGTERM');
const exit = await exited;

// least squares over the samples after the first minute (start-up and JIT warm-up grow the heap)
const pts = rss.filter(([t]) => t >= WARMUP_S);
const n = pts.length;
const mt = pts.reduce((a, [t]) => a + t, 0) / n;
const mr = pts.reduce((a, [, r]) => a + r, 0) / n;
const slope = pts.reduce((a, [t, r]) => a + (t - mt) * (r - mr), 0) / pts.reduce((a, [t]) => a + (t - mt) ** 2, 0);
const slopeMbPerHour = slope * 3600;
// ticks after the warm-up only: the final buckets less those at the end of the warm-up
const after = new Map([...latenessBuckets].map(([le, c]) => [le, c - (baselineBuckets?.get(le) ?? 0)]));
const bounds = [...after.entries()].filter(([le]) => le !== '+Inf').map(([le, c]) => [Number(le), c] as const).sort((a, b) => a[0] - b[0]);
const total = after.get('+Inf') ?? 0;
// the smallest bound that holds every tick: the worst lateness is at most that
const worstBound = bounds.find(([, c]) => c >= total)?.[0] ?? Infinity;
const p99 = bounds.find(([, c]) => c >= 0.99 * total)?.[0] ?? Infinity;
const failsafeTotal = Object.entries(failsafes).filter(([k]) => !k.endsWith('/daemon-stop')).reduce((a, [, v]) => a + v, 0);
const crashed = logLines.filter((l) => (l.level as number) >= 60).map((l) => l.msg);
const unexpected = Object.entries(abuse).filter(([k]) => /:(0|5\d\d)$/.test(k));

const summary = {
  minutes: MINUTES,
  time: 'real (plant model at timeScale 1; GPUs and cooler simulated, daemon and HTTP real)',
  warmupSeconds: WARMUP_S,
  rssStartMb: Number(pts[0]?.[1].toFixed(1)),
  rssEndMb: Number(rss.at(-1)?.[1].toFixed(1)),
  rssSlopeMbPerHour: Number(slopeMbPerHour.toFixed(2)),
  loopTicks: total,
  loopLatenessWorstAtMostS: worstBound,
  loopLatenessP99AtMostS: p99,
  eventLoopLagWorstS: Number(worstLagS.toFixed(4)),
  scrapes,
  failedScrapes,
  failsafes: failsafeTotal,
  failsafesByZoneReason: failsafes,
  failsafesAtStart,
  changes,
  changeErrors,
  abuse,
  abuseAnswered5xxOrNothing: unexpected.length,
  fatalLogLines: crashed.length,
  exit,
};
process.stdout.write(
  `rss ${summary.rssStartMb} -> ${summary.rssEndMb} MB, slope ${summary.rssSlopeMbPerHour} MB/h; loop lateness worst <= ${worstBound} s, p99 <= ${p99} s over ${total} ticks; ` +
    `event-loop lag worst ${summary.eventLoopLagWorstS} s; scrapes ${scrapes}, failed ${failedScrapes}; failsafes ${failsafeTotal}; changes ${changes} (${changeErrors} refused or failed); ` +
    `abuse answers ${JSON.stringify(abuse)}; exit ${JSON.stringify(exit)}\n`,
);
process.stdout.write(`${JSON.stringify(summary)}\n`);
