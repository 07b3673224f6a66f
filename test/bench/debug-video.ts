/**
 * What the debug video costs after a render: the series pass, drawing a chart per frame, and the
 * whole debug encode (the output decoded and scaled beside the charts, x264 at DEBUG_PRESET) beside a
 * main video of a given side. The render itself is not in it: the debug video runs after it.
 *   node --import tsx test/bench/debug-video.ts [seconds=10] [fps=30] [sides=1024,2160]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LatentFrame } from '../../src/latents/frame.ts';
import { ChartPainter, collectSeries } from '../../src/render/debug/chart.ts';
import { DEBUG_PRESET, writeDebugVideo } from '../../src/render/debug/video.ts';

const seconds = Number(process.argv[2] ?? 10);
const fps = Number(process.argv[3] ?? 30);
const sides = (process.argv[4] ?? '1024,2160').split(',').map(Number);
const frames = Math.round(seconds * fps);
const dir = mkdtempSync(join(tmpdir(), 'gance-bench-debug-'));

async function* latents(from: number): AsyncGenerator<LatentFrame> {
  for (let i = from; i < frames; i++) {
    const z = Float32Array.from({ length: 512 }, (_, k) => Math.sin(i * 0.05 + k));
    const t = i / fps;
    const features = { rms: 0.5 + 0.5 * Math.sin(t), onset: i % 15 === 0 ? 1 : 0, pulse: Math.exp(-(i % 15) / 5), harmonic: 0.5, percussive: 0.3, chroma: new Float32Array(12), smoothedRms: 0.5 + 0.4 * Math.sin(t) };
    yield { index: i, network: Math.floor(t / 3) % 3, z, features };
  }
}

try {
  let t = performance.now();
  const series = await collectSeries(latents(0), { frames, fps, networks: ['a', 'b', 'c'], rowWidth: 512 });
  const seriesMs = performance.now() - t;
  const painter = new ChartPainter(series);
  const z = new Float32Array(512).fill(0.3);
  t = performance.now();
  for (let f = 0; f < frames; f++) painter.draw(f, z);
  const drawMs = (performance.now() - t) / frames;
  console.log(`${frames} frames: series pass ${seriesMs.toFixed(0)} ms; chart ${drawMs.toFixed(2)} ms per frame (${(1000 / drawMs).toFixed(0)} fps, drawing alone)`);

  const encode: Record<string, number> = {};
  for (const side of sides) {
    const main = join(dir, `main-${side}.mp4`);
    const made = spawnSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=${side}x${side}:rate=${fps}`, '-f', 'lavfi', '-i', 'sine=frequency=330:sample_rate=44100', '-t', String(seconds), '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', main]);
    if (made.status !== 0) throw new Error(made.stderr.toString());
    t = performance.now();
    await writeDebugVideo({ ffmpeg: 'ffmpeg', frames, fps, networks: ['a', 'b', 'c'], rowWidth: 512, latents, main: { format: 'mp4', path: main }, audio: [], target: join(dir, `debug-${side}.mp4`) });
    const s = (performance.now() - t) / 1000;
    encode[`fps_${side}`] = Number((frames / s).toFixed(1));
    console.log(`beside a ${side} px output: ${s.toFixed(1)} s, ${(frames / s).toFixed(1)} fps (series, charts, decode + scale of the output, x264 ${DEBUG_PRESET} 1500x540)`);
  }
  console.log(JSON.stringify({ bench: 'debug-video', frames, fps, chartMsPerFrame: Number(drawMs.toFixed(2)), seriesMs: Math.round(seriesMs), ...encode }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
