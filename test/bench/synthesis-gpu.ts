/**
 * GPU synthesis benchmark (device machine): a 1024 px config-F-shaped StyleGAN2 generator with
 * seeded random weights, built by gance's graph builder in several op-choice variants, run with
 * onnxruntime-node's WebGPU provider, uint8 NHWC frames ending in a host buffer of the main
 * thread. Also: per-op profile of the chosen variants, PyTorch eager on the same weights (the
 * independent reference in test/fixtures/stylegan2/reference.py) and, with --verify, the ONNX
 * output against that reference on the same z with constant noise.
 *
 *   node --import tsx test/bench/synthesis-gpu.ts [--variants a,b] [--seconds 3] [--batches 1,2,4]
 *        [--profile a,b] [--no-torch] [--no-verify] [--resolution 1024] [--provider webgpu]
 *
 * On the device: `source .device/prelude.sh && node --import tsx test/bench/synthesis-gpu.ts
 * --seconds 2 --profile fp16-weight-transpose-nhwc` (about 100 s). The Vulkan ICD needs
 * libglvnd0 (with libvulkan1) unpacked there, or WebGPU finds no adapter.
 *
 * Each variant runs in its own child process (the WebGPU context is process-wide, and a crash
 * costs one variant, not the run). The last line of output is one JSON object.
 * Reusable: buildBenchNetwork() writes the benchmark network to a path; measureNetwork() times one.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { configF, randomStateDict, SeededRandom, writeNetwork, randomSourceHash, type BuildOptions, type StateDict, type GeneratorShape } from '../../src/synthesis/stylegan2/index.ts';
import { writeSafetensors } from '../../src/synthesis/stylegan2/safetensors-write.ts';
import { parseSafetensors } from '../../src/synthesis/stylegan2/weights-file.ts';

export const BENCH_SEED = 1;
/** The variants a plain run measures: the fastest found on an H100 (weight modulation at batch 1, activation for batches). */
export const DEFAULT_VARIANTS = ['fp32-act-transpose', 'fp32-weight-transpose', 'fp16-weight-transpose-nhwc', 'fp16-act-transpose-nhwc'];

/** Named op-choice variants of the same network. */
export const VARIANTS: Record<string, Partial<BuildOptions> & { layout?: 'NCHW' | 'NHWC'; hostOnCpu?: boolean }> = {
  // the small-vector nodes forced onto the CPU (forceCpuNodeNames): measured slower (uploads wait for the GPU)
  'fp16-weight-transpose-nhwc-cpuhost': { dtype: 'float16', modulation: 'weight', upsample: 'transpose', batch: 1, layout: 'NHWC', hostOnCpu: true },
  'fp32-act-subpixel': { dtype: 'float32', modulation: 'activation', upsample: 'subpixel' },
  'fp32-act-transpose': { dtype: 'float32', modulation: 'activation', upsample: 'transpose' },
  'fp32-weight-subpixel': { dtype: 'float32', modulation: 'weight', upsample: 'subpixel', batch: 1 },
  'fp16-act-subpixel': { dtype: 'float16', modulation: 'activation', upsample: 'subpixel' },
  'fp16-act-transpose': { dtype: 'float16', modulation: 'activation', upsample: 'transpose' },
  'fp16-act-fused': { dtype: 'float16', modulation: 'activation', upsample: 'fused' },
  'fp16-weight-subpixel': { dtype: 'float16', modulation: 'weight', upsample: 'subpixel', batch: 1 },
  'fp16-weight-transpose': { dtype: 'float16', modulation: 'weight', upsample: 'transpose', batch: 1 },
  'fp16-weight-fused': { dtype: 'float16', modulation: 'weight', upsample: 'fused', batch: 1 },
  'fp32-weight-transpose': { dtype: 'float32', modulation: 'weight', upsample: 'transpose', batch: 1 },
  'fp16-act-transpose-nhwc': { dtype: 'float16', modulation: 'activation', upsample: 'transpose', layout: 'NHWC' },
  'fp16-weight-transpose-nhwc': { dtype: 'float16', modulation: 'weight', upsample: 'transpose', batch: 1, layout: 'NHWC' },
  'fp16-act-subpixel-nhwc': { dtype: 'float16', modulation: 'activation', upsample: 'subpixel', layout: 'NHWC' },
  'fp16-weight-subpixel-nhwc': { dtype: 'float16', modulation: 'weight', upsample: 'subpixel', batch: 1, layout: 'NHWC' },
};

let cachedDict: { key: string; dict: StateDict } | undefined;
function benchDict(shape: GeneratorShape, seed: number): StateDict {
  const key = JSON.stringify({ shape, seed });
  if (cachedDict?.key !== key) cachedDict = { key, dict: randomStateDict(shape, seed) };
  return cachedDict.dict;
}

/** Writes the benchmark network (config F, seeded) with the given build options to `onnxPath` (+ .json). */
export function buildBenchNetwork(onnxPath: string, options: Partial<BuildOptions> = {}, resolution = 1024, seed = BENCH_SEED) {
  const shape = configF(resolution);
  return writeNetwork(benchDict(shape, seed), shape, onnxPath, { kind: 'random', seed, hash: randomSourceHash(shape, seed) }, { outputs: ['frames'], ...options });
}

export interface Measurement {
  batch: number;
  imagesPerSecond: number;
  msPerRun: number;
  runs: number;
}

/**
 * Execution providers for a network: WebGPU gets the sidecar's host nodes as forceCpuNodeNames
 * (the small-vector part runs on the CPU instead of costing a GPU dispatch per node).
 */
export function providerList(provider: string, layout?: 'NCHW' | 'NHWC', hostNodes: string[] = []): ort.InferenceSession.ExecutionProviderConfig[] {
  if (provider === 'webgpu') {
    return [{ name: 'webgpu', ...(layout ? { preferredLayout: layout } : {}), ...(hostNodes.length ? { forceCpuNodeNames: hostNodes } : {}) } as ort.InferenceSession.ExecutionProviderConfig];
  }
  return [provider];
}

function feedsFor(session: ort.InferenceSession, batch: number, zDim: number, seed: number): Record<string, ort.Tensor> {
  const rng = new SeededRandom(seed);
  const feeds: Record<string, ort.Tensor> = {};
  for (const name of session.inputNames) {
    if (name === 'z') feeds.z = new ort.Tensor('float32', rng.normals(batch * zDim), [batch, zDim]);
    else if (name === 'psi') feeds.psi = new ort.Tensor('float32', new Float32Array(batch).fill(1), [batch]);
    else throw new Error(`benchmark feeds only z and psi, the model wants '${name}'`);
  }
  return feeds;
}

/** Times `session.run` at each batch for about `seconds`, frames copied into a host buffer each run. */
export async function measureSession(session: ort.InferenceSession, batches: number[], seconds: number, zDim = 512): Promise<Measurement[]> {
  const out: Measurement[] = [];
  for (const batch of batches) {
    const feeds = feedsFor(session, batch, zDim, batch);
    let sink = 0;
    for (let i = 0; i < 3; i++) await session.run(feeds); // warm-up (shader compilation, allocations)
    let runs = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < seconds * 1000 || runs < 3) {
      const r = await session.run(feeds, ['frames']);
      const frames = r.frames!.data as Uint8Array;
      sink += frames[runs % frames.length]!; // the frames really reached this thread
      runs++;
    }
    const dt = (performance.now() - t0) / 1000;
    out.push({ batch, imagesPerSecond: +((runs * batch) / dt).toFixed(2), msPerRun: +((dt * 1000) / runs).toFixed(2), runs });
    if (sink < 0) console.log(sink);
  }
  return out;
}

/** Per-op summary of an onnxruntime profile (JSON trace): total ms per op type and the heaviest nodes. */
export function summarizeProfile(file: string, runs: number) {
  const events = JSON.parse(readFileSync(file, 'utf8')) as Array<{ cat: string; name: string; dur: number; args?: { op_name?: string; provider?: string } }>;
  const byOp = new Map<string, { ms: number; count: number; provider: string }>();
  const byNode = new Map<string, { ms: number; op: string }>();
  let total = 0;
  const providers = new Map<string, number>();
  const categories: Record<string, number> = {};
  for (const e of events) categories[e.cat] = (categories[e.cat] ?? 0) + 1;
  // GPU kernel timestamps, when the provider records them (category other than Node/Session)
  const gpu = new Map<string, number>();
  for (const e of events) {
    if (e.cat === 'Node' || e.cat === 'Session') continue;
    const key = `${e.cat}:${e.args?.op_name ?? e.name.replace(/_\d+.*$/, '')}`;
    gpu.set(key, (gpu.get(key) ?? 0) + e.dur / 1000 / runs);
  }
  const gpuNodes = new Map<string, number>();
  for (const e of events) if (e.cat === 'Api') gpuNodes.set(e.name, (gpuNodes.get(e.name) ?? 0) + e.dur / 1000 / runs);
  const gpuTopNodes = [...gpuNodes.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25).map(([k, v]) => ({ node: k, msPerRun: +v.toFixed(3) }));
  const gpuTotal = [...gpuNodes.values()].reduce((a, b) => a + b, 0);
  const gpuOps = [...gpu.entries()].sort((a, b) => b[1] - a[1]).slice(0, 20).map(([k, v]) => ({ op: k, msPerRun: +v.toFixed(3) }));
  const sample = events.filter((e) => e.cat !== 'Node' && e.cat !== 'Session').slice(0, 3);
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    const op = e.args?.op_name ?? '?';
    const provider = e.args?.provider ?? '?';
    const ms = e.dur / 1000 / runs;
    total += ms;
    const k = `${op}@${provider}`;
    const agg = byOp.get(k) ?? { ms: 0, count: 0, provider };
    agg.ms += ms;
    agg.count += 1 / runs;
    byOp.set(k, agg);
    const node = e.name.replace(/_kernel_time$/, '');
    const n = byNode.get(node) ?? { ms: 0, op };
    n.ms += ms;
    byNode.set(node, n);
    providers.set(provider, (providers.get(provider) ?? 0) + 1 / runs);
  }
  const ops = [...byOp.entries()].sort((a, b) => b[1].ms - a[1].ms).map(([k, v]) => ({ op: k, msPerRun: +v.ms.toFixed(3), nodes: Math.round(v.count), share: +(v.ms / total).toFixed(3) }));
  const nodes = [...byNode.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 15).map(([k, v]) => ({ node: k, op: v.op, msPerRun: +v.ms.toFixed(3) }));
  return { categories, gpuTotalMsPerRun: +gpuTotal.toFixed(2), gpuOps, gpuTopNodes, sample, totalKernelMsPerRun: +total.toFixed(2), nodesPerProvider: Object.fromEntries([...providers].map(([k, v]) => [k, Math.round(v)])), ops, nodes };
}

interface ChildArgs {
  onnx: string;
  provider: string;
  layout?: 'NCHW' | 'NHWC';
  batches: number[];
  seconds: number;
  profile: boolean;
  dumpImage?: string;
  inputs?: string;
  hostOnCpu?: boolean;
}

/** Runs in the child process: one session, timings, optional profile and image dump. */
async function child(a: ChildArgs): Promise<void> {
  const t0 = performance.now();
  const sidecar = JSON.parse(readFileSync(a.onnx.replace(/\.onnx$/, '.json'), 'utf8')) as { builder: { hostNodes?: string[] } };
  const hostNodes = a.hostOnCpu === true ? (sidecar.builder.hostNodes ?? []) : [];
  const opts: ort.InferenceSession.SessionOptions = { executionProviders: providerList(a.provider, a.layout, hostNodes), graphOptimizationLevel: 'all' };
  const session = await ort.InferenceSession.create(a.onnx, opts);
  const createMs = performance.now() - t0;
  const result: Record<string, unknown> = { createMs: Math.round(createMs) };
  if (a.dumpImage && a.inputs) {
    const inp = parseSafetensors(readFileSync(a.inputs), a.inputs).dict;
    const z = inp.get('z')!;
    const psi = inp.get('psi')!;
    const [n, zDim] = z.shape as [number, number];
    // fixed-batch-1 graphs run one sample at a time
    const step = (sidecar as { batch?: number | null }).batch === 1 ? 1 : n;
    const imgs: Float32Array[] = [];
    const frames: Uint8Array[] = [];
    let dims: readonly number[] = [];
    let fdims: readonly number[] = [];
    for (let i = 0; i < n; i += step) {
      const r = await session.run({ z: new ort.Tensor('float32', z.data.slice(i * zDim, (i + step) * zDim), [step, zDim]), psi: new ort.Tensor('float32', psi.data.slice(i, i + step), [step]) });
      imgs.push(r.image!.data as Float32Array);
      frames.push(r.frames!.data as Uint8Array);
      dims = r.image!.dims;
      fdims = r.frames!.dims;
    }
    const cat = (parts: ArrayLike<number>[]) => Float32Array.from(parts.flatMap((p) => Array.from(p)));
    writeSafetensors(a.dumpImage, new Map([['img', { shape: [n, ...dims.slice(1)], data: cat(imgs) }], ['frames', { shape: [n, ...fdims.slice(1)], data: cat(frames) }]]));
  }
  if (a.batches.length > 0) result.measurements = await measureSession(session, a.batches, a.seconds);
  await session.release();
  if (a.profile) {
    const prefix = join(tmpdir(), `gance-profile-${process.pid}`);
    const ps = await ort.InferenceSession.create(a.onnx, { ...opts, enableProfiling: true, profileFilePrefix: prefix });
    const feeds = feedsFor(ps, 1, 512, 1);
    for (let i = 0; i < 3; i++) await ps.run(feeds);
    const runs = 10;
    for (let i = 0; i < runs; i++) await ps.run(feeds, ['frames']);
    const file = ps.endProfiling?.() as unknown as string | undefined;
    await ps.release();
    const found = file ?? readdirSync(tmpdir()).filter((f) => f.startsWith(`gance-profile-${process.pid}`)).map((f) => join(tmpdir(), f))[0];
    // the profile includes the warm-up runs: scale by the runs it holds
    if (found) result.profile = summarizeProfile(found, runs + 3);
  }
  console.log(`CHILD ${JSON.stringify(result)}`);
}

function runChild(a: ChildArgs, timeoutMs: number): Record<string, unknown> {
  const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', JSON.stringify(a)], {
    encoding: 'utf8',
    timeout: timeoutMs,
    maxBuffer: 64 * 1024 * 1024,
  });
  const line = r.stdout.split('\n').find((l) => l.startsWith('CHILD '));
  if (!line) {
    const lines = `${r.stderr}\n${r.stdout}`.split('\n').filter((l) => l.trim() && !/^\s+at /.test(l) && !l.startsWith('Node.js'));
    return { error: `exit ${r.status ?? r.signal}: ${lines.slice(-8).join(' | ')}` };
  }
  return JSON.parse(line.slice(6)) as Record<string, unknown>;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function python(args: string[], timeoutMs: number): Record<string, unknown> {
  const script = fileURLToPath(new URL('../fixtures/stylegan2/reference.py', import.meta.url));
  const r = spawnSync('python3', [script, ...args], { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return { error: `python exit ${r.status ?? r.signal}: ${(r.stderr || r.stdout).trim().split('\n').slice(-4).join(' | ')}` };
  }
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

async function main(): Promise<void> {
  const childArg = arg('child');
  if (childArg) return child(JSON.parse(childArg) as ChildArgs);

  const resolution = Number(arg('resolution') ?? 1024);
  const seconds = Number(arg('seconds') ?? 3);
  const provider = arg('provider') ?? 'webgpu';
  const variants = (arg('variants') ?? DEFAULT_VARIANTS.join(',')).split(',');
  const batches = (arg('batches') ?? '1,2,4').split(',').map(Number);
  const profile = new Set((arg('profile') ?? '').split(',').filter(Boolean));
  const dir = join(tmpdir(), 'gance-bench');
  mkdirSync(dir, { recursive: true });
  const results: Record<string, unknown> = {};
  for (const v of variants) {
    const spec = VARIANTS[v];
    if (!spec) throw new Error(`unknown variant '${v}' (${Object.keys(VARIANTS).join(', ')})`);
    const { layout, hostOnCpu, ...build } = spec;
    const path = join(dir, `${v}.onnx`);
    const t0 = performance.now();
    const written = buildBenchNetwork(path, build, resolution);
    const buildMs = Math.round(performance.now() - t0);
    const r = runChild({ onnx: path, provider, ...(layout ? { layout } : {}), ...(hostOnCpu ? { hostOnCpu } : {}), batches: build.batch ? [build.batch] : batches, seconds, profile: profile.has(v) }, 300_000);
    results[v] = { buildMs, parameters: written.sidecar.builder.parameters, ops: written.opCounts, ...r };
    console.log(`${v}: ${JSON.stringify(results[v])}`);
    rmSync(path, { force: true });
  }

  let torch: Record<string, unknown> | undefined;
  let verify: Record<string, unknown> & { reference?: unknown } | undefined;
  const wantTorch = !process.argv.includes('--no-torch');
  const wantVerify = !process.argv.includes('--no-verify');
  if (wantTorch || wantVerify) {
    const shape = configF(resolution);
    const weights = join(dir, 'bench.safetensors');
    writeSafetensors(weights, benchDict(shape, BENCH_SEED), { init_kwargs: JSON.stringify({ mapping_kwargs: { lr_multiplier: 0.01 }, synthesis_kwargs: { conv_clamp: null } }) });
    if (wantTorch) {
      torch = python(['bench', weights, '--batches', arg('torch-batches') ?? '1,8', '--seconds', String(seconds)], 300_000);
      console.log(`pytorch eager: ${JSON.stringify(torch)}`);
    }
    if (wantVerify) {
      const inputs = join(dir, 'inputs.safetensors');
      writeSafetensors(inputs, new Map([['z', { shape: [2, 512], data: new SeededRandom(99).normals(1024) }], ['psi', { shape: [2], data: Float32Array.of(1, 0.7) }]]));
      const ref = join(dir, 'reference.safetensors');
      const pr = python(['forward', weights, inputs, ref, '--device', arg('ref-device') ?? 'cuda'], 600_000);
      verify = { reference: pr };
      if (!pr.error) {
        const refImg = parseSafetensors(readFileSync(ref), ref).dict.get('img')!.data;
        const verifyVariants = (arg('verify-variants') ?? 'fp32-act-transpose,fp16-weight-transpose-nhwc').split(',');
        for (const v of verifyVariants) {
          const { layout, hostOnCpu: _h, ...spec } = VARIANTS[v]!;
          const dtype = v;
          const path = join(dir, `verify-${dtype}.onnx`);
          buildBenchNetwork(path, { ...spec, outputs: ['frames', 'image'] }, resolution);
          const dump = join(dir, `verify-${dtype}.safetensors`);
          const r = runChild({ onnx: path, provider, ...(layout ? { layout } : {}), batches: [], seconds: 0, profile: false, dumpImage: dump, inputs }, 300_000);
          if (r.error) verify[dtype] = r;
          else {
            const out = parseSafetensors(readFileSync(dump), dump).dict;
            verify[dtype] = { maxAbsError: maxAbsDiff(out.get('img')!.data, refImg), maxFrameLevels: maxAbsDiff(out.get('frames')!.data, Float32Array.from(parseSafetensors(readFileSync(ref), ref).dict.get('frames')!.data)) };
          }
          rmSync(path, { force: true });
        }
      }
      console.log(`verify: ${JSON.stringify(verify)}`);
    }
  }

  const best = (prefix: string) => {
    let top: { variant: string; batch: number; imagesPerSecond: number } | undefined;
    for (const [v, r] of Object.entries(results)) {
      if (!v.startsWith(prefix)) continue;
      for (const m of ((r as { measurements?: Measurement[] }).measurements ?? [])) if (!top || m.imagesPerSecond > top.imagesPerSecond) top = { variant: v, batch: m.batch, imagesPerSecond: m.imagesPerSecond };
    }
    return top;
  };
  const batch1 = (prefix: string) => Math.max(0, ...Object.entries(results).filter(([v]) => v.startsWith(prefix)).flatMap(([, r]) => ((r as { measurements?: Measurement[] }).measurements ?? []).filter((m) => m.batch === 1).map((m) => m.imagesPerSecond)));
  const eager = (torch?.pytorch_eager_img_per_s ?? {}) as Record<string, number>;
  const fp16Best = best('fp16');
  const fp32Best = best('fp32');
  const summary = {
    bench: 'synthesis-gpu',
    resolution,
    provider,
    output: 'uint8 NHWC frames in a main-thread buffer',
    fp32: { batch1: batch1('fp32'), best: fp32Best },
    fp16: { batch1: batch1('fp16'), best: fp16Best },
    pytorchEager: eager,
    ratioFp16BestToEagerFp16Best: fp16Best && eager.fp16_b8 ? +(fp16Best.imagesPerSecond / Math.max(eager.fp16_b1 ?? 0, eager.fp16_b8)).toFixed(3) : null,
    ratioFp16Batch1ToEagerFp16Batch1: eager.fp16_b1 ? +(batch1('fp16') / eager.fp16_b1).toFixed(3) : null,
    ratioFp32Batch1ToEagerFp32Batch1: eager.fp32_b1 ? +(batch1('fp32') / eager.fp32_b1).toFixed(3) : null,
    target: { fp16ImagesPerSecond: 60, met: (fp16Best?.imagesPerSecond ?? 0) >= 60 },
    verify,
  };
  console.log(JSON.stringify(summary));
}

// run only when executed, so other benchmarks can import the helpers above
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
