/**
 * CPU synthesis benchmark: the bundled demo network (config/networks/demo-64.onnx) with
 * onnxruntime-node's CPU provider, uint8 NHWC frames, images/s at batch 1 and at the best batch,
 * for the op-choice variants of the same weights (rebuilt from the demo's seed). The ratio is
 * against the shipped demo file at batch 1, measured in the same run.
 *
 *   node --import tsx test/bench/synthesis-cpu.ts [--seconds 2] [--batches 1,2,4,8,16] [--threads N]
 *
 * The last line of output is one JSON object.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir, availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { buildRandomNetwork, demoShape, readSidecar, SeededRandom, type BuildOptions } from '../../src/synthesis/stylegan2/index.ts';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const seconds = Number(arg('seconds') ?? 2);
const batches = (arg('batches') ?? '1,2,4,8,16').split(',').map(Number);
const threads = Number(arg('threads') ?? availableParallelism());

async function measure(onnx: string, batch: number, zDim: number): Promise<{ imagesPerSecond: number; msPerRun: number }> {
  const s = await ort.InferenceSession.create(onnx, { executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: threads });
  const feeds = { z: new ort.Tensor('float32', new SeededRandom(batch).normals(batch * zDim), [batch, zDim]), psi: new ort.Tensor('float32', new Float32Array(batch).fill(0.7), [batch]) };
  for (let i = 0; i < 3; i++) await s.run(feeds, ['frames']);
  let runs = 0;
  let sink = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000 || runs < 3) {
    const r = await s.run(feeds, ['frames']);
    sink += (r.frames!.data as Uint8Array)[runs]!;
    runs++;
  }
  const dt = (performance.now() - t0) / 1000;
  await s.release();
  if (sink < 0) console.log(sink);
  return { imagesPerSecond: +((runs * batch) / dt).toFixed(1), msPerRun: +((dt * 1000) / runs).toFixed(2) };
}

const demoPath = fileURLToPath(new URL('../../config/networks/demo-64.onnx', import.meta.url));
const demo = readSidecar(demoPath.replace(/\.onnx$/, '.json'));
const dir = mkdtempSync(join(tmpdir(), 'gance-cpu-bench-'));
const variants: Record<string, Partial<BuildOptions> | null> = {
  'demo-64 (shipped)': null,
  'fp32 activation subpixel': { upsample: 'subpixel' },
  'fp32 activation fused': { upsample: 'fused' },
  'fp32 weight transpose (batch 1)': { modulation: 'weight', batch: 1 },
};
const results: Record<string, Record<string, { imagesPerSecond: number; msPerRun: number }>> = {};
for (const [name, options] of Object.entries(variants)) {
  const path = options ? buildRandomNetwork(demoShape(), demo.source.seed ?? 1, join(dir, `${name.replace(/\W+/g, '-')}.onnx`), { outputs: ['frames'], ...options }).onnxPath : demoPath;
  const bs = options?.batch === 1 ? [1] : batches;
  results[name] = {};
  for (const b of bs) {
    results[name]![`b${b}`] = await measure(path, b, demo.zDim);
    console.log(`${name} batch ${b}: ${results[name]![`b${b}`]!.imagesPerSecond} img/s (${results[name]![`b${b}`]!.msPerRun} ms/run)`);
  }
}
const shipped = results['demo-64 (shipped)']!;
const best = Object.entries(shipped).sort((a, b) => b[1].imagesPerSecond - a[1].imagesPerSecond)[0]!;
const bestAny = Object.entries(results)
  .flatMap(([v, r]) => Object.entries(r).map(([b, m]) => ({ variant: v, batch: Number(b.slice(1)), imagesPerSecond: m.imagesPerSecond })))
  .sort((a, b) => b.imagesPerSecond - a.imagesPerSecond)[0]!;
console.log(
  JSON.stringify({
    bench: 'synthesis-cpu',
    network: 'demo-64',
    resolution: demo.resolution,
    provider: 'cpu',
    threads,
    output: 'uint8 NHWC frames',
    batch1ImagesPerSecond: shipped.b1!.imagesPerSecond,
    best: { batch: Number(best[0].slice(1)), imagesPerSecond: best[1].imagesPerSecond },
    bestRatioToBatch1: +(best[1].imagesPerSecond / shipped.b1!.imagesPerSecond).toFixed(2),
    bestVariant: bestAny,
    variants: results,
  }),
);
