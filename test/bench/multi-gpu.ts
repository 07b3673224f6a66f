/**
 * Worker scaling: frames/s with 1 worker and with 2 in the same run, for synthesis alone
 * (`pool.stream` of a track's own requests) and end to end (`runRender` to mp4 with the real
 * x264 encoder: fps = frames / (time from the 'rendering' stage to the 'muxing' stage)), the
 * scaling ratio (2 workers / 1), how each worker was bound (engine, adapter spec, env, the adapter
 * it reports, its pid), and frame order and count: the synthesis stream's seqs ascend with none
 * missing, the mp4 holds every frame (ffprobe counts them), and each frame of the 2-worker run
 * matches the 1-worker run's frame of the same index (a sample of its bytes, within one step),
 * against how much neighbouring frames differ (what an out-of-place frame would show: a smooth
 * latent walk keeps some neighbours within a step, so the count of pairs that tell is printed).
 *
 *   CPU (here):  node --import tsx test/bench/multi-gpu.ts [--seconds 4] [--fps 24]
 *                (onnx workers of one CPU thread each, the bundled demo-64)
 *                node --import tsx test/bench/multi-gpu.ts --webgpu   (webgpu workers on lavapipe,
 *                each bound by Mesa's device-select layer to the software adapter)
 *   GPUs:        node --import tsx test/bench/multi-gpu.ts --gpu [--resolution 1024] [--seconds 20]
 *                (webgpu workers with `gpu: i`, which the pool binds to GPU i by DRI_PRIME=its PCI bus id from nvidia-smi,
 *                a config-F fp16 network with seeded random weights)
 *
 * The last line of output is one JSON object.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfigFile } from '../../src/config/load.ts';
import type { Config } from '../../src/config/schema.ts';
import { createLiveParams } from '../../src/latents/params.ts';
import { reactiveActive } from '../../src/latents/reactive.ts';
import { encodeParallel } from '../../src/render/encode-args.ts';
import { createLocalRenderer } from '../../src/render/local.ts';
import { rgbBytes } from '../../src/render/pixels.ts';
import { frameRequests } from '../../src/render/requests.ts';
import { resolveRender } from '../../src/render/resolve.ts';
import { runRender } from '../../src/render/run.ts';
import type { RenderSpec } from '../../src/render/spec.ts';
import type { RenderStage } from '../../src/render/types.ts';
import type { FrameRequest } from '../../src/synthesis/pool/pool.ts';
import { configF, randomSourceHash, randomStateDict, writeNetwork } from '../../src/synthesis/stylegan2/index.ts';
import type { SynthesisWorkerConfig } from '../../src/synthesis/config.ts';
import { queryGpuBuses } from '../../src/synthesis/webgpu/gpu-binding.ts';
import { addInto, clicks, tone, writeWav } from '../audio/wav.ts';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const gpu = process.argv.includes('--gpu');
const webgpu = gpu || process.argv.includes('--webgpu');
const seconds = Number(arg('seconds') ?? (gpu ? 20 : 4));
const fps = Number(arg('fps') ?? 24);
const resolution = Number(arg('resolution') ?? 1024);
const parallel = Number(arg('parallel') ?? Math.max(2, encodeParallel(null)));
const counts = (arg('workers') ?? '1,2').split(',').map(Number);
const SAMPLE = 4096;
const dir = mkdtempSync(join(tmpdir(), 'gance-bench-multi-'));
const round = (v: number, d = 1) => +v.toFixed(d);

async function workers(n: number, nvidiaSmiPath: string): Promise<SynthesisWorkerConfig[]> {
  if (gpu) {
    // only `gpu: i`: the pool binds each worker to GPU i's PCI bus as the daemon does (webgpu/gpu-binding.ts)
    const buses = await queryGpuBuses(nvidiaSmiPath);
    if (buses.length < n) throw new Error(`--gpu with ${n} workers needs ${n} GPUs; nvidia-smi lists ${buses.length}`);
    return buses.slice(0, n).map((b) => ({
      id: `gpu${b.index}`,
      gpu: b.index,
      engine: 'webgpu',
      providers: ['cpu'],
      isolation: 'process',
      intraOpThreads: 0,
      env: {},
    }));
  }
  if (webgpu) {
    return Array.from({ length: n }, (_, i) => ({
      id: `lvp${i}`,
      engine: 'webgpu',
      providers: ['cpu'],
      isolation: 'process',
      intraOpThreads: 0,
      env: { MESA_VK_DEVICE_SELECT: '10005:0', MESA_VK_DEVICE_SELECT_FORCE_DEFAULT_DEVICE: '1' },
    }));
  }
  return Array.from({ length: n }, (_, i) => ({ id: `cpu${i}`, engine: 'onnx', providers: ['cpu'], isolation: 'thread', intraOpThreads: 1, env: {} }));
}

function network(): { network: string; extraDirs: string[] } {
  if (!gpu) return { network: 'demo-64', extraDirs: [] };
  const nets = join(dir, 'nets');
  mkdirSync(nets);
  const shape = configF(resolution);
  const t = performance.now();
  writeNetwork(randomStateDict(shape, 1), shape, join(nets, `bench-${resolution}.onnx`), { kind: 'random', seed: 1, hash: randomSourceHash(shape, 1) }, { outputs: ['frames'], dtype: 'float16' });
  console.log(`built ${resolution} px fp16 network in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  return { network: `bench-${resolution}`, extraDirs: [nets] };
}

function frameCount(mp4: string): number {
  const out = execFileSync('ffprobe', ['-v', 'error', '-count_packets', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_packets', '-of', 'csv=p=0', mp4], { encoding: 'utf8' });
  return Number(out.trim());
}

const { network: netId, extraDirs } = network();
const song = join(dir, 'song.wav');
writeWav(song, 44100, 1, addInto(tone(44100, seconds, [220, 330], 0.2), clicks(44100, seconds, 0.5)));
const spec = (out: string) => ({ audio: [song], networks: [netId], latents: { fps }, output: { path: out } }) as RenderSpec;

interface Run {
  workers: number;
  binding: Array<Record<string, unknown>>;
  frames: number;
  synthesisFps: number;
  framesPerWorker: Record<string, number>;
  seqInOrder: boolean;
  e2eFps: number;
  e2eFrames: number;
  mp4Frames: number;
  /** sampled bytes of each frame, to compare runs */
  samples: Uint8Array[];
}

async function measure(n: number): Promise<Run> {
  const config: Config = structuredClone(loadConfigFile());
  config.synthesis.workers = await workers(n, config.thermal.sensors.nvidiaSmiPath);
  config.synthesis.output = 'frames';
  const local = createLocalRenderer({ config, log: pino({ level: 'warn' }), extraDirs, firstNetwork: netId });
  try {
    const deps = local.deps;
    const t0 = performance.now();
    await deps.networks.settled(netId);
    const pool = deps.networks.pool!;
    if (!pool.isLoaded(netId)) throw new Error(`network ${netId} did not load on ${n} workers: ${JSON.stringify(deps.networks.list().networks.find((x) => x.id === netId))}`);
    const specs = new Map(config.synthesis.workers.map((w) => [w.id, w]));
    const binding = pool.loadedNetworks().get(netId)!.map((w) => {
      const s = specs.get(w.worker)!;
      return {
        worker: w.worker,
        engine: w.engine,
        provider: w.provider,
        pid: w.pid,
        isolation: w.isolation,
        env: s.env,
        ...(w.binding ? { binding: w.binding } : {}),
        ...(s.adapter ? { adapterSpec: s.adapter } : {}),
        ...(w.adapter ? { opened: w.adapter.description } : {}),
      };
    });
    console.log(`${n} worker(s) loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    for (const b of binding) console.log(`  binding ${JSON.stringify(b)}`);

    const r = resolveRender(spec(join(dir, 'x.mp4')), deps.networks.catalogue, deps.latents.config);
    const net = r.networks[0]!;
    const plan = await deps.latents.prepare([song], { config: r.latents, richFeatures: reactiveActive(r.latents.reactive) });
    const params = createLiveParams(r.latents, 1);
    const reqs: FrameRequest[] = [];
    for await (const q of frameRequests(deps.latents.offline(plan, params, 0), { networks: r.networks, psi: r.psi, from: 0 })) reqs.push(q);

    const samples: Uint8Array[] = [];
    const perWorker: Record<string, number> = {};
    let last = -1;
    let inOrder = true;
    const t = performance.now();
    for await (const f of pool.stream(reqs)) {
      if (f.seq <= last) inOrder = false;
      last = f.seq;
      perWorker[f.worker] = (perWorker[f.worker] ?? 0) + 1;
      const rgb = rgbBytes(f, net, samples.length);
      const stride = Math.max(1, Math.floor(rgb.length / SAMPLE));
      samples.push(Uint8Array.from({ length: Math.min(SAMPLE, rgb.length) }, (_, k) => rgb[k * stride]!));
    }
    const synthesisFps = samples.length / ((performance.now() - t) / 1000);
    console.log(`  synthesis: ${samples.length} of ${reqs.length} frames at ${synthesisFps.toFixed(1)} fps; per worker ${JSON.stringify(perWorker)}; seqs ascending: ${inOrder}`);

    const at: Partial<Record<RenderStage, number>> = {};
    const out = join(dir, `out-${n}.mp4`);
    const res = await runRender(spec(out), deps, { workDir: join(dir, `work-${n}`), encodeParallel: parallel, onProgress: (p) => (at[p.stage] ??= performance.now()) });
    const e2eFps = res.frames / ((at.muxing! - at.rendering!) / 1000);
    const mp4Frames = frameCount(out);
    console.log(`  end to end (x264, ${parallel} segments at once): ${res.frames} frames at ${e2eFps.toFixed(1)} fps; the mp4 holds ${mp4Frames} frames`);
    return { workers: n, binding, frames: reqs.length, synthesisFps, framesPerWorker: perWorker, seqInOrder: inOrder && samples.length === reqs.length, e2eFps, e2eFrames: res.frames, mp4Frames, samples };
  } finally {
    await local.close();
  }
}

const maxDiff = (a: Uint8Array, b: Uint8Array) => a.reduce((m, v, k) => Math.max(m, Math.abs(v - b[k]!)), 0);
const meanDiff = (a: Uint8Array, b: Uint8Array) => a.reduce((s, v, k) => s + Math.abs(v - b[k]!), 0) / a.length;

try {
  const runs: Run[] = [];
  for (const n of counts) runs.push(await measure(n));
  const one = runs[0]!;
  const compared = runs.slice(1).map((r) => {
    const worst = r.samples.reduce((m, s, i) => Math.max(m, maxDiff(s, one.samples[i]!)), 0);
    return { workers: r.workers, sameCount: r.samples.length === one.samples.length, worstStepVsOneWorker: worst };
  });
  // a smooth latent walk makes neighbours alike: count the pairs a swap would show in (worst step > 1)
  const pairs = one.samples.slice(1).map((s, i) => ({ mean: meanDiff(s, one.samples[i]!), max: maxDiff(s, one.samples[i]!) }));
  const neighbour = pairs.reduce((m, p) => m + p.mean, 0) / Math.max(1, pairs.length);
  const telling = pairs.filter((p) => p.max > 1).length;
  const summary = runs.map((r) => ({
    workers: r.workers,
    binding: r.binding,
    frames: r.frames,
    synthesisFps: round(r.synthesisFps),
    e2eFps: round(r.e2eFps),
    framesPerWorker: r.framesPerWorker,
    seqInOrder: r.seqInOrder,
    mp4Frames: r.mp4Frames,
    countExact: r.e2eFrames === r.frames && r.mp4Frames === r.frames,
  }));
  const last = runs.at(-1)!;
  const scaling = { synthesis: round(last.synthesisFps / one.synthesisFps, 3), e2e: round(last.e2eFps / one.e2eFps, 3) };
  console.log(`scaling ${one.workers} -> ${last.workers} workers: synthesis x${scaling.synthesis}, end to end x${scaling.e2e}`);
  console.log(`frames of the ${last.workers}-worker run vs the 1-worker run: worst step ${compared.at(-1)?.worstStepVsOneWorker} (neighbouring frames: mean step ${neighbour.toFixed(2)}, ${telling} of ${pairs.length} pairs differ by more than 1 somewhere, so a swap of those would show)`);
  console.log(
    JSON.stringify({
      bench: 'multi-gpu',
      mode: gpu ? 'gpu' : webgpu ? 'webgpu-lavapipe' : 'cpu-onnx',
      network: netId,
      cores: availableParallelism(),
      seconds,
      fps,
      parallel,
      runs: summary,
      scaling,
      order: { compared, neighbourMeanStep: round(neighbour, 2), neighbourPairsTelling: telling, neighbourPairs: pairs.length, allInOrder: summary.every((s) => s.seqInOrder && s.countExact) && compared.every((c) => c.sameCount && c.worstStepVsOneWorker <= 1) },
    }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
