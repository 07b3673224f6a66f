/**
 * Render throughput by stage, on the same workers in one run, and what limits it:
 *   - latents + requests + pixels ("conversion"): the offline latents of the track, each turned into
 *     its pool request, and the pool's frame into the rgb24 bytes ffmpeg gets (no pool);
 *   - synthesis: `pool.stream` alone, the same frame count;
 *   - encode: x264 with the render's settings, fed rgb24 frames that the network drew (kept from
 *     the synthesis run), one segment at a time and `parallel` at once, per output size;
 *   - end to end: `runRender` (the whole pipeline) per output size at `parallel` segments at once;
 *     e2e fps = frames / (time from the 'rendering' stage to the 'muxing' stage), and the ratio
 *     e2e / synthesis (target >= 0.9 where synthesis is the limit); apart, the rate frames went into
 *     the encoders (feedFps) and the final flush after the last one (paid once per render).
 * Projected wall times (a 5-minute track, the album: 93,960 frames, 1024 -> 2160) from the
 * slowest stage's rate, and from the e2e rate.
 *
 *   CPU (here):   node --import tsx test/bench/render.ts [--seconds 20] [--fps 24] [--parallel 2] [--segment 240]
 *   GPU (device): node --import tsx test/bench/render.ts --gpu [--resolution 1024] [--sizes 1024,2160]
 *                 [--seconds 20] [--fps 24] [--parallel 4] [--segment 60] [--encode-segment 48]
 *
 * CPU: the bundled demo-64 network on the config's CPU worker. GPU: a config-F network of
 * `resolution` px with seeded random weights, fp16, weight modulation, NHWC (the fastest variant
 * of test/bench/synthesis-gpu.ts), on one WebGPU process worker as the daemon runs it.
 * The last line of output is one JSON object.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfigFile } from '../../src/config/load.ts';
import type { Config } from '../../src/config/schema.ts';
import { createLiveParams } from '../../src/latents/params.ts';
import { reactiveActive } from '../../src/latents/reactive.ts';
import { encodeParallel } from '../../src/render/encode-args.ts';
import { interleaveSegments } from '../../src/render/interleave.ts';
import { createLocalRenderer } from '../../src/render/local.ts';
import { rgbBytes } from '../../src/render/pixels.ts';
import { frameRequests } from '../../src/render/requests.ts';
import { resolveRender, type ResolvedRender } from '../../src/render/resolve.ts';
import { runRender } from '../../src/render/run.ts';
import { writeSegments, type RgbFrame } from '../../src/render/segment-writer.ts';
import type { RenderSpec } from '../../src/render/spec.ts';
import type { RenderStage } from '../../src/render/types.ts';
import type { Frame, FrameRequest } from '../../src/synthesis/pool/pool.ts';
import { addInto, clicks, tone, writeWav } from '../audio/wav.ts';
import { buildBenchNetwork, VARIANTS } from './synthesis-gpu.ts';

const ALBUM_FRAMES = 93_960;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const gpu = process.argv.includes('--gpu');
const seconds = Number(arg('seconds') ?? 20);
const fps = Number(arg('fps') ?? 24);
const parallel = Number(arg('parallel') ?? Math.max(2, encodeParallel(null)));
// the render's default on the CPU; on the GPU shorter, so a 20 s track makes two rounds of `parallel` segments
const segment = Number(arg('segment') ?? (gpu ? 60 : 240));
const encodeSegment = Number(arg('encode-segment') ?? 48);
const resolution = Number(arg('resolution') ?? 1024);
const dir = mkdtempSync(join(tmpdir(), 'gance-bench-render-'));
const round = (v: number, d = 1) => +v.toFixed(d);

/** The config and the network: the demo network on the CPU, or a seeded config-F network on one WebGPU worker. */
function setup(): { config: Config; network: string; extraDirs: string[]; sizes: number[] } {
  const config = structuredClone(loadConfigFile());
  if (!gpu) return { config, network: 'demo-64', extraDirs: [], sizes: (arg('sizes') ?? '64').split(',').map(Number) };
  const variant = 'fp16-weight-transpose-nhwc';
  const { layout, hostOnCpu: _host, ...build } = VARIANTS[variant]!;
  const nets = join(dir, 'nets');
  mkdirSync(nets);
  const t = performance.now();
  buildBenchNetwork(join(nets, `${variant}.onnx`), build, resolution);
  console.log(`built ${resolution} px ${variant} network in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  config.synthesis.output = 'frames';
  config.synthesis.workers = [{ id: 'gpu0', engine: 'onnx', providers: [{ name: 'webgpu', ...(layout ? { options: { preferredLayout: layout } } : {}) }], isolation: 'process', intraOpThreads: 0, env: {} }];
  return { config, network: variant, extraDirs: [nets], sizes: (arg('sizes') ?? `${resolution},2160`).split(',').map(Number) };
}

const { config, network, extraDirs, sizes } = setup();
const song = join(dir, 'song.wav');
writeWav(song, 44100, 1, addInto(tone(44100, seconds, [220, 330], 0.2), clicks(44100, seconds, 0.5)));
const local = createLocalRenderer({ config, log: pino({ level: 'warn' }), extraDirs, firstNetwork: network });
const spec = (size: number, out: string) => ({ audio: [song], networks: [network], latents: { fps }, output: { path: out, size } }) as RenderSpec;

try {
  const deps = local.deps;
  const t0 = performance.now();
  await deps.networks.settled(network);
  const pool = deps.networks.pool!;
  if (!pool.isLoaded(network)) throw new Error(`network ${network} did not load: ${JSON.stringify(deps.networks.list().networks.find((n) => n.id === network))}`);
  console.log(`network loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s; ${availableParallelism()} cores; ${parallel} segments at once`);
  const r0: ResolvedRender = resolveRender(spec(sizes[0]!, join(dir, 'x.mp4')), deps.networks.catalogue, deps.latents.config);
  const net = r0.networks[0]!;

  // 1. the track's analysis and the conversion stage: latents -> requests -> (cached frame) -> rgb bytes
  let t = performance.now();
  const plan = await deps.latents.prepare([song], { config: r0.latents, richFeatures: reactiveActive(r0.latents.reactive) });
  const analysisSeconds = (performance.now() - t) / 1000;
  const frames = plan.frames;
  const params = createLiveParams(r0.latents, 1);
  const requestsOf = (from: number) => frameRequests(deps.latents.offline(plan, params, from), { networks: r0.networks, psi: r0.psi, from });

  // 2. pure synthesis: the track's own requests through pool.stream, nothing else; a few frames kept for the encoder runs
  const reqs: FrameRequest[] = [];
  for await (const q of requestsOf(0)) reqs.push(q);
  const kept: Frame[] = [];
  const rgbKept: Uint8Array[] = [];
  const KEEP = 24;
  t = performance.now();
  let n = 0;
  for await (const f of pool.stream(reqs)) {
    if (n % Math.max(1, Math.floor(frames / KEEP)) === 0 && kept.length < KEEP) {
      kept.push(f);
      rgbKept.push(Uint8Array.from(rgbBytes(f, net, n)));
    }
    n++;
  }
  const synthesisFps = n / ((performance.now() - t) / 1000);
  console.log(`synthesis: ${n} frames at ${synthesisFps.toFixed(1)} fps`);

  t = performance.now();
  let converted = 0;
  let checksum = 0;
  for await (const q of requestsOf(0)) {
    const rgb = rgbBytes(kept[converted % kept.length]!, net, converted);
    checksum += rgb[converted % rgb.length]! + (q.network === network ? 1 : 0);
    converted++;
  }
  const conversionFps = converted / ((performance.now() - t) / 1000);
  console.log(`conversion (latents, requests, rgb bytes): ${converted} frames at ${conversionFps.toFixed(0)} fps (checksum ${checksum})`);

  // 3. encode only, per output size: 1 segment at a time and `parallel` at once, `encodeSegment` frames each, two rounds
  const encode: Record<string, { single: number; parallel: number }> = {};
  for (const size of sizes) {
    const r = resolveRender(spec(size, join(dir, 'x.mp4')), deps.networks.catalogue, deps.latents.config);
    const rate = async (p: number) => {
      const segPlan = { frames: 2 * p * encodeSegment, segmentFrames: encodeSegment, format: 'mp4' as const };
      const work = mkdtempSync(join(dir, 'enc-'));
      const source = async function* (): AsyncGenerator<RgbFrame> {
        const endless = async function* (start: number) {
          for (let i = start; ; i++) yield i;
        };
        for await (const x of interleaveSegments(segPlan, 0, p, endless)) yield { index: x.index, rgb: rgbKept[x.index % rgbKept.length]! };
      };
      const te = performance.now();
      await writeSegments(source(), { ffmpeg: deps.ffmpeg ?? 'ffmpeg', workDir: work, encode: r.encode, plan: segPlan, firstSegment: 0, concurrency: p });
      return segPlan.frames / ((performance.now() - te) / 1000);
    };
    const single = await rate(1);
    const par = await rate(parallel);
    encode[size] = { single: round(single), parallel: round(par) };
    console.log(`encode ${net.width} -> ${size} px (${r.encode.preset}, crf ${r.encode.crf}): 1 segment ${single.toFixed(1)} fps, ${parallel} at once ${par.toFixed(1)} fps`);
  }

  // 4. end to end, per output size, at `parallel` segments at once
  const e2e: Record<string, Record<string, number>> = {};
  for (const size of sizes) {
    const at: Partial<Record<RenderStage, number>> = {};
    t = performance.now();
    const res = await runRender(spec(size, join(dir, `out-${size}.mp4`)), deps, {
      workDir: join(dir, `work-${size}`),
      segmentFrames: segment,
      encodeParallel: parallel,
      onProgress: (p) => (at[p.stage] ??= performance.now()),
    });
    const wall = (performance.now() - t) / 1000;
    const pipelineSeconds = (at.muxing! - at.rendering!) / 1000;
    const e2eFps = res.frames / pipelineSeconds;
    // 'encoding' begins once the last frame went into its encoder: what follows is the final
    // segments' flush (x264's look-ahead), paid once per render however long
    const feedSeconds = (at.encoding! - at.rendering!) / 1000;
    const limit = Math.min(synthesisFps, conversionFps, encode[size]!.parallel);
    e2e[size] = {
      frames: res.frames,
      e2eFps: round(e2eFps),
      ratioToSynthesis: round(e2eFps / synthesisFps, 3),
      ratioToSlowestStage: round(e2eFps / limit, 3),
      feedFps: round(res.frames / feedSeconds),
      flushSeconds: round(pipelineSeconds - feedSeconds, 2),
      wallSeconds: round(wall, 2),
      analysisSeconds: round((at.rendering! - (at.analysing ?? t)) / 1000, 2),
      muxSeconds: round((at.done! - at.muxing!) / 1000, 2),
    };
    console.log(`e2e ${net.width} -> ${size} px, ${parallel} segments at once, segments of ${segment}: ${JSON.stringify(e2e[size])}`);
  }

  // 4b. optional: the first size end to end again with other pipeline settings, ahead:queue:parallel each
  const variants: Record<string, { e2eFps: number; ratioToSynthesis: number; feedFps: number }> = {};
  for (const v of (arg('e2e-variants') ?? '').split(',').filter(Boolean)) {
    const [ahead, queue, par] = v.split(':').map(Number);
    const at: Partial<Record<RenderStage, number>> = {};
    const res = await runRender(spec(sizes[0]!, join(dir, `out-v-${v}.mp4`)), deps, {
      workDir: join(dir, `work-v-${v}`),
      segmentFrames: segment,
      encodeParallel: par || parallel,
      ...(ahead ? { framesAhead: ahead } : {}),
      ...(queue ? { encodeQueueFrames: queue } : {}),
      onProgress: (p) => (at[p.stage] ??= performance.now()),
    });
    const e2eFps = res.frames / ((at.muxing! - at.rendering!) / 1000);
    variants[v] = { e2eFps: round(e2eFps), ratioToSynthesis: round(e2eFps / synthesisFps, 3), feedFps: round(res.frames / ((at.encoding! - at.rendering!) / 1000)) };
    console.log(`e2e variant ahead:queue:parallel ${v}: ${JSON.stringify(variants[v])}`);
  }

  // 5. which stage limits, and projected wall times
  const stages = (size: number) => ({ conversion: conversionFps, synthesis: synthesisFps, [`encode x${parallel}`]: encode[size]!.parallel });
  const perSize = Object.fromEntries(
    sizes.map((size) => {
      const s = stages(size);
      const [limitStage, limitFps] = Object.entries(s).sort((a, b) => a[1] - b[1])[0]!;
      // the frames only: a 5-minute track's analysis takes about 5 s (test/bench/latents.ts); this
      // run's own is too short to scale from (its fixed costs dominate)
      const track5 = 300 * fps;
      return [
        size,
        {
          limitedBy: limitStage,
          limitFps: round(limitFps),
          fiveMinuteTrackMinutes: { fromStages: round(track5 / limitFps / 60, 2), fromE2e: round(track5 / e2e[size]!.e2eFps! / 60, 2) },
          albumMinutes: {
            fromStages: round(ALBUM_FRAMES / limitFps / 60),
            fromE2e: round(ALBUM_FRAMES / e2e[size]!.e2eFps! / 60),
            // a long render: the rate frames went into the encoders (at most what they encode), the flush once
            fromE2eFeed: round((ALBUM_FRAMES / Math.min(e2e[size]!.feedFps!, encode[size]!.parallel) + e2e[size]!.flushSeconds!) / 60),
            encodeOneSegmentAtATime: round(ALBUM_FRAMES / Math.min(limitFps, encode[size]!.single) / 60),
          },
        },
      ];
    }),
  );
  for (const [size, v] of Object.entries(perSize)) console.log(`${net.width} -> ${size} px: limited by ${v.limitedBy} (${v.limitFps} fps); album ${JSON.stringify(v.albumMinutes)} min; 5-minute track at ${fps} fps ${JSON.stringify(v.fiveMinuteTrackMinutes)} min`);
  console.log(
    JSON.stringify({
      bench: 'render',
      mode: gpu ? 'gpu' : 'cpu',
      network,
      networkSize: net.width,
      cores: availableParallelism(),
      parallel,
      frames,
      fps,
      analysisSeconds: round(analysisSeconds, 2),
      synthesisFps: round(synthesisFps),
      conversionFps: round(conversionFps, 0),
      encodeFps: encode,
      e2e,
      ...(Object.keys(variants).length > 0 ? { e2eVariants: variants } : {}),
      projected: perSize,
    }),
  );
} finally {
  await local.close();
  rmSync(dir, { recursive: true, force: true });
}
