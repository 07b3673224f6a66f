/**
 * Render throughput against pure synthesis on the same workers: how much the pipeline (latents,
 * requests, pixel hand-over, x264 in segments, join and mux) costs beside the frames themselves.
 *   node --import tsx test/bench/render.ts [seconds=20] [fps=24]
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfigFile } from '../../src/config/load.ts';
import { createLocalRenderer } from '../../src/render/local.ts';
import { runRender } from '../../src/render/run.ts';
import type { RenderSpec } from '../../src/render/spec.ts';
import { addInto, clicks, tone, writeWav } from '../audio/wav.ts';

const seconds = Number(process.argv[2] ?? 20);
const fps = Number(process.argv[3] ?? 24);
const dir = mkdtempSync(join(tmpdir(), 'gance-bench-render-'));
const song = join(dir, 'song.wav');
writeWav(song, 44100, 1, addInto(tone(44100, seconds, [220, 330], 0.2), clicks(44100, seconds, 0.5)));
const local = createLocalRenderer({ config: loadConfigFile(), log: pino({ level: 'warn' }) });
try {
  // pure synthesis: the same frame count through pool.stream, nothing else
  const pool = local.deps.networks.pool!;
  await local.deps.networks.settled('demo-64');
  const frames = Math.round(seconds * fps);
  const z = Float32Array.from({ length: 512 }, (_, i) => Math.sin(i));
  const requests = function* () {
    for (let i = 0; i < frames; i++) yield { network: 'demo-64', feeds: { z, psi: Float32Array.of(1) } };
  };
  let t = performance.now();
  let n = 0;
  for await (const _ of pool.stream(requests())) n++;
  const synthFps = n / ((performance.now() - t) / 1000);

  let renderingFps: number | null = null;
  t = performance.now();
  const r = await runRender({ audio: [song], networks: ['demo-64'], latents: { fps }, output: { path: join(dir, 'out.mp4') } } as RenderSpec, local.deps, {
    workDir: join(dir, 'work'),
    onProgress: (p) => {
      if (p.stage === 'rendering' && p.framesDone === p.framesTotal) renderingFps = p.fps;
    },
  });
  const wall = (performance.now() - t) / 1000;
  console.log(JSON.stringify({ frames: r.frames, synthesisFps: +synthFps.toFixed(1), renderFps: +(r.frames / r.seconds).toFixed(1), renderingStageFps: renderingFps, wallSeconds: +wall.toFixed(2), renderSeconds: +r.seconds.toFixed(2) }));
} finally {
  await local.close();
}
