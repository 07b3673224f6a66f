/**
 * Images/s through the daemon's worker path: frames submitted on the main thread, rendered in a
 * worker (a thread for the CPU provider, a child process for WebGPU), pixels back in a
 * main-thread buffer, in submit order. Compared with a direct `session.run` on the same network
 * measured in the same run.
 *
 *   CPU (here):    node --import tsx test/bench/synthesis-pool.ts [--seconds 3]
 *   GPU (device):  node --import tsx test/bench/synthesis-pool.ts --gpu [--variant fp16-act-subpixel]
 *                  [--build '{"dtype":"float16",...}'] [--seconds 5] [--depths 1,2]
 *
 * CPU mode: the bundled demo network; a direct session in this process (a benchmark may block its
 * own thread) against the pool with one thread worker and one process worker, at batch 1..8.
 * GPU mode: a 1024 px config-F-shaped network with seeded weights built by the project's builder
 * (the same network test/bench/synthesis-gpu.ts builds for a variant), fp16 unless told, uint8
 * frames; the direct-session figure is test/bench/synthesis-gpu.ts run for that variant in this
 * same call, and the pool uses one WebGPU process worker at batch 1.
 * The last line of output is one JSON object.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import * as ort from 'onnxruntime-node';
import { SynthesisPool, type Frame, type PoolNetwork, type WorkerSpec } from '../../src/synthesis/pool/pool.ts';
import { BUNDLED_NETWORKS_DIR, NetworkCatalogue, poolNetwork } from '../../src/synthesis/networks/catalogue.ts';
import { buildRandomNetwork, configF, SeededRandom } from '../../src/synthesis/stylegan2/index.ts';
import { VARIANTS } from './synthesis-gpu.ts';
import { feedSet } from './pool-feeds.ts';

const log = pino({ level: process.env.GANCE_BENCH_LOG ?? 'warn' });

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}


interface PoolFigure {
  imagesPerSecond: number;
  frames: number;
  meanBatch: number;
  /** submit to pixels-here with `window` frames in flight (queueing included) */
  p50LatencyMs: number;
  p95LatencyMs: number;
}

/** Throughput with frames queued, and the latency of one frame at a time (the pool's own overhead shows there). */
async function measureBoth(pool: SynthesisPool, net: PoolNetwork, seconds: number, output: string) {
  const throughput = await measurePool(pool, net, seconds, output, 16);
  const single = await measurePool(pool, net, Math.max(1, seconds / 2), output, 1);
  return { ...throughput, singleFrameLatencyMs: single.p50LatencyMs };
}

/**
 * Keeps `window` frames in the pool for `seconds`, awaiting them in submit order; each frame's
 * pixels are touched on this thread. Latency is submit to pixels-here.
 */
async function measurePool(pool: SynthesisPool, net: PoolNetwork, seconds: number, output: string, window = 16): Promise<PoolFigure> {
  const feeds = feedSet(net, 16);
  for await (const _ of pool.stream(feeds.slice(0, 8))) void _;
  const latencies: number[] = [];
  let frames = 0;
  let batchSum = 0;
  let sink = 0;
  let i = 0;
  const pending: Array<{ at: number; p: Promise<Frame> }> = [];
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000 || pending.length > 0) {
    while (pending.length < window && performance.now() - t0 < seconds * 1000) pending.push({ at: performance.now(), p: pool.submit(feeds[i++ % feeds.length]!) });
    const head = pending.shift()!;
    const f = await head.p;
    latencies.push(performance.now() - head.at);
    const px = f.outputs[output]!.data as Uint8Array;
    sink += px[(frames * 7919) % px.length]!;
    frames++;
    batchSum += f.batchSize;
  }
  const dt = (performance.now() - t0) / 1000;
  if (sink < 0) console.log(sink);
  latencies.sort((a, b) => a - b);
  return {
    imagesPerSecond: +(frames / dt).toFixed(2),
    frames,
    meanBatch: +(batchSum / Math.max(1, frames)).toFixed(2),
    p50LatencyMs: +latencies[Math.floor(latencies.length / 2)]!.toFixed(2),
    p95LatencyMs: +latencies[Math.floor(latencies.length * 0.95)]!.toFixed(2),
  };
}

/** Direct session in this process, pixels read on this thread: the baseline of the CPU mode. */
async function measureDirect(net: PoolNetwork, batch: number, seconds: number, threads: number): Promise<number> {
  const session = await ort.InferenceSession.create(net.path, { graphOptimizationLevel: 'all', intraOpNumThreads: threads });
  const rng = new SeededRandom(3);
  const feeds: Record<string, ort.Tensor> = {};
  for (const input of net.inputs) {
    const n = input.dims.reduce((a, b) => a * b, 1) * batch;
    feeds[input.name] = new ort.Tensor(input.type, input.name === 'psi' ? new Float32Array(n).fill(1) : rng.normals(n), [batch, ...input.dims]);
  }
  for (let k = 0; k < 3; k++) await session.run(feeds, net.fetch);
  let runs = 0;
  let sink = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000 || runs < 3) {
    const r = await session.run(feeds, net.fetch);
    const px = r[net.fetch[0]!]!.data as Uint8Array;
    sink += px[runs % px.length]!;
    runs++;
  }
  const dt = (performance.now() - t0) / 1000;
  await session.release();
  if (sink < 0) console.log(sink);
  return +((runs * batch) / dt).toFixed(2);
}

async function withPool<T>(workers: WorkerSpec[], net: PoolNetwork, opts: { maxBatch: number; pipelineDepth: number }, fn: (pool: SynthesisPool) => Promise<T>): Promise<T> {
  const pool = new SynthesisPool({ workers, log, maxBatch: opts.maxBatch, pipelineDepth: opts.pipelineDepth, warmupRuns: 2, loadTimeoutMs: 600_000 });
  try {
    await pool.load(net);
    pool.activate(net.id);
    return await fn(pool);
  } finally {
    await pool.close();
  }
}

async function cpu(): Promise<Record<string, unknown>> {
  const seconds = Number(arg('seconds') ?? 3);
  const threads = Number(arg('threads') ?? 1);
  const catalogue = new NetworkCatalogue({ dirs: [], bundledDir: BUNDLED_NETWORKS_DIR, log });
  catalogue.scan();
  const entry = catalogue.get('demo-64');
  if (!entry) throw new Error(`demo-64 not found in ${BUNDLED_NETWORKS_DIR}`);
  const net = poolNetwork(entry, 'frames');
  const batches = (arg('batches') ?? '1,2,4,8').split(',').map(Number);
  const direct: Record<string, number> = {};
  const thread: Record<string, PoolFigure & { singleFrameLatencyMs: number }> = {};
  const proc: Record<string, PoolFigure & { singleFrameLatencyMs: number }> = {};
  for (const b of batches) {
    direct[b] = await measureDirect(net, b, seconds, threads);
    thread[b] = await withPool([{ id: 't0', providers: [{ name: 'cpu' }], isolation: 'thread', intraOpThreads: threads }], net, { maxBatch: b, pipelineDepth: 2 }, (p) =>
      measureBoth(p, net, seconds, 'frames'),
    );
    proc[b] = await withPool([{ id: 'p0', providers: [{ name: 'cpu' }], isolation: 'process', intraOpThreads: threads }], net, { maxBatch: b, pipelineDepth: 2 }, (p) =>
      measureBoth(p, net, seconds, 'frames'),
    );
    console.log(`batch ${b}: direct ${direct[b]} img/s; pool thread ${JSON.stringify(thread[b])}; pool process ${JSON.stringify(proc[b])}`);
  }
  const bestOf = (m: Record<string, { imagesPerSecond: number } | number>) => {
    const [batch, v] = Object.entries(m).sort((a, b) => (typeof b[1] === 'number' ? b[1] : b[1].imagesPerSecond) - (typeof a[1] === 'number' ? a[1] : a[1].imagesPerSecond))[0]!;
    return { batch: Number(batch), imagesPerSecond: typeof v === 'number' ? v : v.imagesPerSecond };
  };
  const bd = bestOf(direct);
  const bt = bestOf(thread);
  const bp = bestOf(proc);
  return {
    bench: 'synthesis-pool',
    mode: 'cpu',
    network: 'demo-64',
    intraOpThreads: threads,
    direct: { batch1: direct[1] ?? null, best: bd },
    poolThread: { batch1: thread[1]?.imagesPerSecond ?? null, best: bt, singleFrameLatencyMs: thread[1]?.singleFrameLatencyMs ?? null },
    poolProcess: { batch1: proc[1]?.imagesPerSecond ?? null, best: bp, singleFrameLatencyMs: proc[1]?.singleFrameLatencyMs ?? null },
    ratioThreadBestToDirectBest: +(bt.imagesPerSecond / bd.imagesPerSecond).toFixed(3),
    ratioProcessBestToDirectBest: +(bp.imagesPerSecond / bd.imagesPerSecond).toFixed(3),
  };
}

/** Build options of the variants of test/bench/synthesis-gpu.ts this benchmark knows by name. */
// the graph benchmark's variants, by the same names, so the direct figure is the same network
const GPU_VARIANTS = VARIANTS;

async function gpu(): Promise<Record<string, unknown>> {
  const seconds = Number(arg('seconds') ?? 5);
  const variant = arg('variant') ?? 'fp16-weight-transpose-nhwc';
  const spec = arg('build') ? (JSON.parse(arg('build')!) as (typeof GPU_VARIANTS)[string]) : GPU_VARIANTS[variant];
  if (!spec) throw new Error(`unknown variant '${variant}' (known: ${Object.keys(GPU_VARIANTS).join(', ')}); or pass --build JSON`);
  const { layout, hostOnCpu, ...build } = spec;
  const provider = arg('provider') ?? 'webgpu';
  const depths = (arg('depths') ?? '1,2').split(',').map(Number);
  const isolations = (arg('isolations') ?? 'process').split(',') as Array<'process' | 'thread'>;
  const resolution = Number(arg('resolution') ?? 1024);

  // 1. the direct-session figure from the graph benchmark, same network, same call
  const t0 = performance.now();
  const direct = spawnSync(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(new URL('./synthesis-gpu.ts', import.meta.url)), '--variants', variant, '--batches', '1', '--seconds', String(seconds), '--resolution', String(resolution), '--provider', provider, '--no-verify'],
    { encoding: 'utf8', timeout: 300_000, maxBuffer: 64 * 1024 * 1024 },
  );
  const lastLine = direct.stdout.trim().split('\n').pop() ?? '';
  let directSummary: Record<string, unknown> = {};
  try {
    directSummary = JSON.parse(lastLine) as Record<string, unknown>;
  } catch {
    directSummary = { error: `synthesis-gpu.ts exit ${direct.status ?? direct.signal}: ${(direct.stderr || direct.stdout).trim().split('\n').slice(-5).join(' | ')}` };
  }
  const key = build.dtype === 'float16' ? 'fp16' : 'fp32';
  const directImgs = ((directSummary[key] as { batch1?: number } | undefined)?.batch1 ?? null) as number | null;
  const eagerB1 = ((directSummary.pytorchEager as Record<string, number> | undefined)?.[`${key}_b1`] ?? null) as number | null;
  console.log(`direct session (synthesis-gpu.ts ${variant}, ${Math.round((performance.now() - t0) / 1000)} s): ${directImgs} img/s`);

  // 2. the same network through the pool: one WebGPU process worker
  const dir = join(tmpdir(), 'gance-bench-pool');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${variant}.onnx`);
  const tb = performance.now();
  const written = buildRandomNetwork(configF(resolution), 1, path, { outputs: ['frames'], ...build });
  const buildMs = Math.round(performance.now() - tb);
  const catalogue = new NetworkCatalogue({ dirs: [dir], log });
  catalogue.scan();
  const entry = catalogue.get(variant)!;
  if (entry.error) throw new Error(entry.error);
  const net = poolNetwork(entry, 'frames');
  // as the graph benchmark does for the same variant (and the daemon: host nodes stay where
  // onnxruntime puts them unless the variant says to force them onto the CPU)
  if (hostOnCpu === true && provider === 'webgpu') net.cpuNodes = [...(entry.sidecar!.builder.hostNodes ?? [])];
  const providerSpec = { name: provider as 'webgpu', ...(layout && provider === 'webgpu' ? { options: { preferredLayout: layout } } : {}) };
  const pool: Record<string, PoolFigure & { singleFrameLatencyMs: number; loadMs: number }> = {};
  // a thread worker is measured for comparison only: the daemon runs WebGPU in a process per GPU
  for (const isolation of isolations) {
    const workers: WorkerSpec[] = [{ id: 'gpu0', providers: [providerSpec], isolation, intraOpThreads: 0 }];
    for (const depth of depths) {
      const tl = performance.now();
      let loadMs = 0;
      const fig = await withPool(workers, net, { maxBatch: written.sidecar.batch ?? 1, pipelineDepth: depth }, async (p) => {
        loadMs = Math.round(performance.now() - tl);
        return measureBoth(p, net, seconds, 'frames');
      });
      const key = `${isolation}-depth${depth}`;
      pool[key] = { ...fig, loadMs };
      console.log(`pool, WebGPU ${isolation} worker, pipeline depth ${depth}: ${JSON.stringify(pool[key])}`);
    }
  }
  const processFigures = Object.entries(pool).filter(([k]) => k.startsWith('process'));
  const best = Math.max(...processFigures.map(([, f]) => f.imagesPerSecond));
  return {
    bench: 'synthesis-pool',
    mode: 'gpu',
    provider,
    resolution,
    variant,
    build: spec,
    buildMs,
    output: 'uint8 NHWC frames in a main-thread buffer, submit order',
    direct: { imagesPerSecond: directImgs, source: 'test/bench/synthesis-gpu.ts, same call' },
    pool,
    hostNodesOnCpu: net.cpuNodes?.length ?? 0,
    poolBestImagesPerSecond: best, // process workers: the daemon's path for WebGPU
    ratioPoolToDirect: directImgs ? +(best / directImgs).toFixed(3) : null,
    // PyTorch eager on the same weights, measured by the graph benchmark in this call (batch 1, same precision)
    ratioPoolToPytorchEager: eagerB1 ? +(best / eagerB1).toFixed(3) : null,
    target: { imagesPerSecond: 60, met: best >= 60 },
    directSummary,
  };
}

const summary = process.argv.includes('--gpu') ? await gpu() : await cpu();
console.log(JSON.stringify(summary));
