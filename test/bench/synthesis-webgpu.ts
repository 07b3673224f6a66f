/**
 * WebGPU engine benchmark (device machine): a 1024 px config-F generator with seeded random
 * weights (f32 graph, activation modulation, transpose up-sampling, uint8 frames), rendered by the
 * WGSL engine (src/synthesis/webgpu) directly and through the daemon's worker path (a webgpu worker
 * process, frames back to the main thread in order), with a per-kernel profile (timestamp queries:
 * ms, TFLOP/s, GB/s per dispatch and per kind), and the official stylegan2-ada-pytorch generator
 * timed in the same run when its source is given (test/bench/official-stylegan2.py).
 *
 *   node --import tsx test/bench/synthesis-webgpu.ts [--resolution 1024] [--seconds 3]
 *        [--batches 1,2,4,8] [--pool-batches 1,8] [--official DIR] [--official-batches 1,8]
 *        [--kernels wide,wide-o32,square,wide-f16]
 *
 * The last line of output is one JSON object.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { configF, randomSourceHash, randomStateDict, readSidecar, writeNetwork } from '../../src/synthesis/stylegan2/index.ts';
import { buildPlan, type EnginePlan } from '../../src/synthesis/webgpu/plan.ts';
import { openDevice } from '../../src/synthesis/webgpu/gpu.ts';
import { WebGpuSynthesis, wideTile, type EngineOptions, type StepProfile } from '../../src/synthesis/webgpu/engine.ts';
import { SynthesisPool, type PoolNetwork } from '../../src/synthesis/pool/pool.ts';
import type { TensorType } from '../../src/synthesis/pool/protocol.ts';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const list = (s: string) => s.split(',').map(Number);

const resolution = Number(arg('resolution') ?? 1024);
const seconds = Number(arg('seconds') ?? 3);
const batches = list(arg('batches') ?? '1,2,4,8');
const poolBatches = list(arg('pool-batches') ?? '1,8');
const officialDir = arg('official');

function latents(plan: EnginePlan, n: number, seed: number): Map<string, Float32Array> {
  let s = seed >>> 0 || 1;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  };
  const m = new Map<string, Float32Array>();
  m.set(plan.latentName, Float32Array.from({ length: n * plan.shape.zDim }, () => next() * 1.7));
  if (plan.psiName) m.set(plan.psiName, new Float32Array(n).fill(1));
  return m;
}

/** Images per second with `depth` runs in flight (as the worker keeps them). */
async function throughput(engine: WebGpuSynthesis, plan: EnginePlan, n: number, depth = 2): Promise<{ imagesPerSecond: number; msPerRun: number; runs: number }> {
  const feeds = latents(plan, n, n);
  for (let i = 0; i < 3; i++) await engine.run(feeds, n);
  const inflight: Array<Promise<unknown>> = [];
  let runs = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    while (inflight.length < depth) inflight.push(engine.run(feeds, n, new Set(['frames'])));
    await inflight.shift();
    runs += 1;
  }
  await Promise.all(inflight);
  runs += inflight.length;
  const ms = performance.now() - t0;
  return { imagesPerSecond: (runs * n * 1000) / ms, msPerRun: ms / runs, runs };
}

function summarise(profile: StepProfile[]) {
  const byKind = new Map<string, { ms: number; flop: number; bytes: number; steps: number }>();
  for (const p of profile) {
    const k = byKind.get(p.kind) ?? { ms: 0, flop: 0, bytes: 0, steps: 0 };
    k.ms += p.ms;
    k.flop += p.flop;
    k.bytes += p.bytes;
    k.steps += 1;
    byKind.set(p.kind, k);
  }
  const total = profile.reduce((a, p) => a + p.ms, 0);
  const kinds = [...byKind.entries()].map(([kind, k]) => ({ kind, steps: k.steps, ms: +k.ms.toFixed(3), share: +(k.ms / total).toFixed(3), tflops: +(k.flop / k.ms / 1e9).toFixed(2), gbps: +(k.bytes / k.ms / 1e6).toFixed(1) }));
  const top = [...profile]
    .sort((a, b) => b.ms - a.ms)
    .slice(0, 14)
    .map((p) => ({ name: p.name, kind: p.kind, ms: +p.ms.toFixed(3), tflops: +(p.flop / p.ms / 1e9).toFixed(2), gbps: +(p.bytes / p.ms / 1e6).toFixed(1) }));
  return { totalMs: +total.toFixed(3), kinds, top };
}

async function poolPath(net: PoolNetwork, maxBatch: number, pipelineDepth = 2): Promise<{ imagesPerSecond: number; frames: number }> {
  const pool = new SynthesisPool({
    workers: [{ id: 'gpu0', providers: [{ name: 'cpu' }], isolation: 'process', intraOpThreads: 1, engine: 'webgpu' }],
    log: pino({ level: 'warn' }),
    maxBatch,
    pipelineDepth,
    warmupRuns: 2,
  });
  try {
    await pool.load(net);
    pool.activate(net.id);
    const zDim = net.inputs.find((i) => i.name === 'z')!.dims[0]!;
    const z = Float32Array.from({ length: zDim }, (_, i) => Math.sin(i * 1.3));
    const psi = Float32Array.of(1);
    // warm: a few batches through the whole path
    for await (const f of pool.stream(Array.from({ length: maxBatch * 4 }, () => ({ feeds: { z, psi } })))) void f;
    let frames = 0;
    let stop = false;
    const source = (function* () {
      while (!stop) yield { feeds: { z, psi } };
    })();
    const t0 = performance.now();
    for await (const f of pool.stream(source)) {
      if (f.outputs.frames!.data.length !== resolution * resolution * 3) throw new Error('bad frame size');
      frames += 1;
      if (performance.now() - t0 > seconds * 1000) stop = true;
    }
    return { imagesPerSecond: (frames * 1000) / (performance.now() - t0), frames };
  } finally {
    await pool.close();
  }
}

async function main() {
  const dir = join(tmpdir(), `gance-bench-webgpu-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const result: Record<string, unknown> = { resolution, seconds };
  let official: Record<string, unknown> | undefined;
  if (officialDir) {
    // first, alone on the GPU (its custom ops build on the first call)
    const script = fileURLToPath(new URL('./official-stylegan2.py', import.meta.url));
    const r = spawnSync('python3', [script, '--src', officialDir, '--batches', arg('official-batches') ?? '1,8', '--seconds', String(seconds), '--resolution', String(resolution)], {
      encoding: 'utf8',
      timeout: 400_000,
      env: { ...process.env, PYTHONUNBUFFERED: '1' },
    });
    process.stdout.write(r.stdout ?? '');
    if (r.status !== 0) console.log(`official generator failed: ${(r.stderr ?? '').split('\n').slice(-8).join('\n')}`);
    else official = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
    result.official = official ?? null;
  }

  const shape = configF(resolution);
  const t0 = performance.now();
  const onnx = join(dir, 'bench.onnx');
  writeNetwork(randomStateDict(shape, 1), shape, onnx, { kind: 'random', seed: 1, hash: randomSourceHash(shape, 1) }, { outputs: ['frames'] });
  console.log(`network built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const sc = readSidecar(onnx.replace(/\.onnx$/, '.json'));
  const plan = buildPlan(onnx, sc);
  // shader-f16 where the adapter has it, for the wide-f16 variant (the f32 kernels do not use it)
  const opened = await openDevice({ f16: true });
  const { device } = opened;
  device.addEventListener('uncapturederror', (e) => console.error('GPU error:', (e as GPUUncapturedErrorEvent).error.message));
  console.log(`adapter: ${opened.adapter.description} (${opened.adapter.vendor}, ${opened.adapter.architecture}); f16 ${opened.adapter.features.includes('shader-f16')}, subgroups ${opened.features.subgroups}`);
  result.adapter = { ...opened.adapter, features: undefined };
  result.gflopPerImage = +((2 * plan.macsPerImage) / 1e9).toFixed(2);

  const direct: Record<string, Record<string, unknown>> = {};
  const measure = async (label: string, dev: GPUDevice, kernel: 'wide' | 'square', sizes: number[], tile?: EngineOptions['tile'], precision: 'f32' | 'f16' = 'f32') => {
    const engine = WebGpuSynthesis.create(dev, plan, { maxBatch: Math.max(...sizes), kernel, precision, ...(tile ? { tile } : {}) });
    const rows: Record<string, unknown> = {};
    for (const n of sizes) {
      const m = await throughput(engine, plan, n);
      const tflops = (m.imagesPerSecond * 2 * plan.macsPerImage) / 1e12;
      rows[n] = { imagesPerSecond: +m.imagesPerSecond.toFixed(2), msPerRun: +m.msPerRun.toFixed(3), tflops: +tflops.toFixed(2) };
      console.log(`engine direct ${label} batch ${n}: ${m.imagesPerSecond.toFixed(1)} img/s (${m.msPerRun.toFixed(2)} ms per run, conv ${tflops.toFixed(1)} TFLOP/s overall)`);
    }
    engine.destroy();
    direct[label] = rows;
  };
  // variants: the default wide tiles, 'wide-o32' (2x8 per thread, 16 x 16 threads, at 32 channels and fewer), the square kernel,
  // 'wide-f16' (precision f16; recorded as skipped where the adapter has no shader-f16)
  const o32: EngineOptions['tile'] = (layer) => (layer.info.outChannels <= 32 ? { tm: 2, tn: 8, bk: 16, wx: 16 } : wideTile(layer));
  for (const variant of (arg('kernels') ?? 'wide,wide-o32,square,wide-f16').split(',')) {
    if (variant === 'wide-f16') {
      if (opened.features.f16) await measure(variant, device, 'wide', batches, undefined, 'f16');
      else {
        console.log(`engine direct ${variant}: skipped, adapter "${opened.adapter.description}" has no shader-f16`);
        direct[variant] = { skipped: 'adapter has no shader-f16' };
      }
    } else if (variant === 'wide-o32') await measure(variant, device, 'wide', [1, Math.max(...batches)], o32);
    else await measure(variant, device, variant as 'wide' | 'square', variant === 'wide' ? batches : [1, Math.max(...batches)]);
  }
  if (process.argv.includes('--no-robustness')) {
    const bare = await openDevice({ toggles: ['disable_robustness'] });
    await measure('wide-no-robustness', bare.device, 'wide', [1, Math.max(...batches)]);
    bare.device.destroy();
  }
  result.direct = direct;

  const profiles: Record<string, unknown> = {};
  if (opened.features.timestamps) {
    for (const n of [1, Math.max(...batches)]) {
      const prof = WebGpuSynthesis.create(device, plan, { maxBatch: n, profile: true });
      for (let i = 0; i < 3; i++) await prof.run(latents(plan, n, 3), n);
      const s = summarise(prof.lastProfile);
      profiles[n] = s;
      console.log(`profile batch ${n}: ${s.totalMs} ms of kernels`);
      for (const k of s.kinds) console.log(`  ${k.kind.padEnd(8)} ${String(k.steps).padStart(3)} dispatches ${k.ms.toFixed(3).padStart(9)} ms ${(100 * k.share).toFixed(1).padStart(5)}%  ${k.tflops} TFLOP/s  ${k.gbps} GB/s`);
      for (const t of s.top) console.log(`    ${t.name.padEnd(28)} ${t.ms.toFixed(3).padStart(8)} ms  ${t.tflops} TFLOP/s  ${t.gbps} GB/s`);
      prof.destroy();
    }
  }
  result.profile = profiles;
  device.destroy();

  const net: PoolNetwork = {
    id: 'bench',
    path: onnx,
    inputs: sc.inputs.map((i) => ({ name: i.name, type: i.dtype as TensorType, dims: i.shape.slice(1) as number[] })),
    fetch: ['frames'],
    batch: sc.batch,
  };
  const pooled: Record<string, unknown> = {};
  for (const n of poolBatches) {
    const m = await poolPath(net, n);
    pooled[n] = { imagesPerSecond: +m.imagesPerSecond.toFixed(2), frames: m.frames };
    console.log(`worker path maxBatch ${n}: ${m.imagesPerSecond.toFixed(1)} img/s`);
  }
  // deeper pipelines: more batches handed to the worker ahead of its answers
  for (const depth of list(arg('pool-depths') ?? '')) {
    if (!depth) continue;
    const n = Math.max(...poolBatches);
    const m = await poolPath(net, n, depth);
    pooled[`${n}@depth${depth}`] = { imagesPerSecond: +m.imagesPerSecond.toFixed(2), frames: m.frames };
    console.log(`worker path maxBatch ${n}, pipelineDepth ${depth}: ${m.imagesPerSecond.toFixed(1)} img/s`);
  }
  result.workerPath = pooled;
  if (official) {
    const off = official.img_per_s as Record<string, number>;
    const best = Math.max(...Object.values(pooled).map((p) => (p as { imagesPerSecond: number }).imagesPerSecond));
    result.ratioToOfficial = {
      workerBestVsOfficialBest: +(best / Math.max(...Object.values(off))).toFixed(3),
      ...(off['1'] && pooled[1] ? { batch1WorkerVsOfficial: +((pooled[1] as { imagesPerSecond: number }).imagesPerSecond / off['1']).toFixed(3) } : {}),
    };
  }
  rmSync(dir, { recursive: true, force: true });
  console.log(JSON.stringify(result));
}

await main();
process.exit(0);
