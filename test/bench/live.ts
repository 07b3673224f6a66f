/**
 * Live latency and pacing: a looped tone through a live session (demo network, the config's CPU
 * workers), an MJPEG client reading the stream and, where /usr/bin/chromium exists, the projector
 * page painting it. Per target fps: sample-to-frame latency p50/p99 to the publication, the MJPEG
 * write and the page's paint (from the newest audio a frame depends on reaching the daemon), the
 * frame intervals seen by the MJPEG client (jitter), drops by cause. Warm-up left out.
 *
 *   node --import tsx test/bench/live.ts [--seconds 10] [--warmup 2] [--fps 30,60] [--lookahead 0|3] [--no-browser]
 *        [--gpu [--resolution 1024] [--variant fp16-weight-transpose-nhwc]] [--ramp 40,45,50 [--ramp-seconds 20]]
 *
 * --gpu (device machine): a 1024 px config-F network with seeded random weights (the one
 * test/bench/synthesis-gpu.ts builds for the variant, fp16 weight modulation NHWC unless told) on
 * one WebGPU process worker, instead of the config's network and workers. --ramp: after the --fps
 * runs, each rate in turn for --ramp-seconds; the highest with no frame dropped is reported
 * (`heldFps`; a minute each is the issue's measure, shorter steps say so in `rampSeconds`).
 * The last line is one JSON object.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import type { BrowserContext } from 'playwright-core';
import { buildApp } from '../../src/api/app.ts';
import { loadConfigFile } from '../../src/config/load.ts';
import { liveApi } from '../../src/live/api.ts';
import { createLiveService } from '../../src/live/service.ts';
import { createLocalRenderer } from '../../src/render/local.ts';
import { readMjpeg, toneWav } from '../live/helpers.ts';
import { buildBenchNetwork, VARIANTS } from './synthesis-gpu.ts';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}
const seconds = Number(arg('seconds', '10'));
const warmup = Number(arg('warmup', '2'));
const rates = arg('fps', '30,60').split(',').map(Number);
const lookahead = Number(arg('lookahead', '0')) as 0 | 3;
const browser = !process.argv.includes('--no-browser') && existsSync('/usr/bin/chromium');
const gpu = process.argv.includes('--gpu');
const ramp = process.argv.includes('--ramp') ? arg('ramp', '').split(',').map(Number) : [];
const rampSeconds = Number(arg('ramp-seconds', '20'));

const q = (xs: number[], p: number) => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]! * 10) / 10;
};

const config = loadConfigFile();
config.synthesis.latents.analysisThreads = 1;
let gpuNetwork: Record<string, unknown> | null = null;
if (gpu) {
  const variant = arg('variant', 'fp16-weight-transpose-nhwc');
  const resolution = Number(arg('resolution', '1024'));
  const { layout, hostOnCpu: _host, ...build } = VARIANTS[variant] ?? {};
  if (!VARIANTS[variant]) throw new Error(`unknown variant ${variant}`);
  const dir = mkdtempSync(join(tmpdir(), 'gance-bench-live-net-'));
  const id = `bench-${resolution}-${variant}`;
  const t0 = performance.now();
  buildBenchNetwork(join(dir, `${id}.onnx`), build, resolution);
  gpuNetwork = { id, variant, resolution, buildMs: Math.round(performance.now() - t0) };
  config.synthesis.networks.dirs = [dir];
  config.synthesis.networks.default = id;
  config.synthesis.workers = [{ id: 'gpu0', gpu: 0, engine: 'onnx', providers: [{ name: 'webgpu', ...(layout ? { options: { preferredLayout: layout } } : {}) }], isolation: 'process', intraOpThreads: 0, env: {} }];
  console.log(`network ${id} built in ${gpuNetwork.buildMs} ms`);
}
const log = pino({ level: 'warn' }, pino.destination(2));
const local = createLocalRenderer({ config, log });
const registry = new Registry();
const service = createLiveService({ networks: local.deps.networks, latents: local.deps.latents, log, registry });
const app = await buildApp({ registry, plugins: [liveApi(service)], notReady: () => [] });
const base = await app.listen({ host: '127.0.0.1', port: 0 });
const wav = toneWav(mkdtempSync(join(tmpdir(), 'gance-bench-live-')), 4);
let ctx: BrowserContext | undefined;
if (browser) {
  // a dev dependency: imported only where a browser runs (the device has neither)
  const { chromium } = await import('playwright-core');
  ctx = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'gance-chromium-')), {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 640, height: 360 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

const results: Record<string, unknown> = {};
async function measure(fps: number, seconds: number): Promise<Record<string, unknown> & { dropped: Record<string, number> }> {
  const session = await service.start({ audio: { kind: 'file', path: wav }, networks: [config.synthesis.networks.default], fps, lookaheadFrames: lookahead });
  const page = ctx ? await ctx.newPage() : null;
  await page?.goto(`${base}/v1/live/${session.id}/page`);
  const url = `${base}/v1/live/${session.id}/mjpeg`;
  await readMjpeg(url, Math.max(1, Math.round(warmup * fps * 0.5))).catch(() => {});
  session.clearLatency();
  const before = session.view();
  const arrivals: number[] = [];
  const stop = new AbortController();
  // arrival times at the MJPEG client
  const reading = readMjpeg(url, Number.MAX_SAFE_INTEGER, stop.signal, () => arrivals.push(performance.now())).catch(() => {});
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const v = session.view();
  stop.abort();
  await reading;
  await page?.close();
  await service.stop(session.id);
  const intervals = arrivals.slice(1).map((t, i) => t - arrivals[i]!).filter((d) => d > 0.5);
  const period = 1000 / fps;
  const dropped = Object.fromEntries(Object.entries(v.frames.dropped).map(([k, n]) => [k, n - before.frames.dropped[k as keyof typeof before.frames.dropped]]));
  return {
    targetFps: fps,
    shownFps: Math.round(((v.frames.shown - before.frames.shown) / seconds) * 10) / 10,
    dropped,
    latencyMs: { publish: v.latencyMs.publish, mjpegWrite: v.latencyMs.mjpeg, pagePaint: v.latencyMs.paint, stages: { latents: v.latencyMs.latents, queue: v.latencyMs.queue, synthesis: v.latencyMs.synthesis, encode: v.latencyMs.encode } },
    mjpegIntervalMs: { p50: q(intervals, 0.5), p99: q(intervals, 0.99), jitterP99: q(intervals.map((d) => Math.abs(d - period)), 0.99), period: Math.round(period * 10) / 10 },
  };
}
for (const fps of rates) {
  results[`fps${fps}`] = await measure(fps, seconds);
  console.log(`fps ${fps}: ${JSON.stringify(results[`fps${fps}`])}`);
}
// the highest rate held without a dropped frame (restarts are not the pipeline falling behind)
let heldFps: number | null = null;
const rampRuns: Record<string, unknown>[] = [];
for (const fps of ramp) {
  const r = await measure(fps, rampSeconds);
  rampRuns.push(r);
  console.log(`ramp fps ${fps}: ${JSON.stringify(r)}`);
  const drops = Object.entries(r.dropped).filter(([k]) => k !== 'restart').reduce((a, [, n]) => a + n, 0);
  if (drops > 0) break;
  heldFps = fps;
}
if (ramp.length > 0) results.ramp = { rampSeconds, heldFps, runs: rampRuns };
await ctx?.close();
await app.close();
await service.stopAll();
await local.close();
console.log(JSON.stringify({ bench: 'live', seconds, warmup, lookaheadFrames: lookahead, browser, cpus: cpus().length, loadAverage1m: loadavg()[0], network: config.synthesis.networks.default, ...(gpuNetwork ? { gpuNetwork } : {}), workers: config.synthesis.workers.length, ...results }));
