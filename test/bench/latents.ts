/**
 * Audio-reactive latents benchmark.
 * Offline: a generated 5-minute stereo 44.1 kHz track at 60 fps, decoded, resampled GANce-exactly,
 * spectrogram + RMS + network choice + noise + rich features, then every z frame produced.
 * Reported: seconds per stage, total, and the ratio to the track's duration (target < 0.02).
 * Streaming: 30 s of audio pushed block by block through the live path; latency from a block's
 * arrival to the latent that depends on it (compute only, and including the 3-frame look-ahead), and
 * CPU seconds per second of audio. Last line: one JSON object.
 *
 *   node --import tsx test/bench/latents.ts [--minutes 5] [--threads N]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { sinpi } from '../../src/synthesis/features/detmath.ts';
import { LatentsConfig } from '../../src/synthesis/latents/config.ts';
import { offlineLatents, prepareOffline } from '../../src/synthesis/latents/offline.ts';
import { createLiveParams } from '../../src/synthesis/latents/params.ts';
import { noiseLoop, streamingLatents } from '../../src/synthesis/latents/streaming.ts';
import type { AudioBlock } from '../../src/synthesis/audio/live.ts';
import { parallelResampler } from '../../src/synthesis/audio/resample-pool.ts';
import { helperThread } from '../../src/synthesis/latents/offline-helpers.ts';
import { writeWav } from '../synthesis/audio/wav.ts';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const minutes = arg('minutes', 5);
const threads = arg('threads', Math.min(2, cpus().length));

function makeTrack(path: string, seconds: number): void {
  const sr = 44100;
  const n = Math.round(sr * seconds);
  const data = new Int16Array(2 * n);
  let s = 12345;
  for (let i = 0; i < n; i++) {
    const t = i / sr;
    const beat = t % 0.5 < 0.02 ? 0.5 : 0; // kick every half second
    const bar = Math.floor(t / 2) % 4;
    const root = [220, 174.61, 261.63, 196][bar]!;
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const hiss = ((s / 0xffffffff) * 2 - 1) * 0.02;
    const l = 0.2 * sinpi(2 * root * t) + 0.1 * sinpi(2 * root * 1.5 * t) + beat * sinpi(2 * 60 * t) + hiss;
    const r = 0.2 * sinpi(2 * root * 2 * t) + 0.1 * sinpi(2 * root * 1.25 * t) + beat * sinpi(2 * 60 * t) - hiss;
    data[2 * i] = Math.round(Math.max(-1, Math.min(1, l)) * 32767);
    data[2 * i + 1] = Math.round(Math.max(-1, Math.min(1, r)) * 32767);
  }
  writeWav(path, sr, 2, data);
}

async function offline(track: string, mode: 'gance' | 'ffmpeg') {
  const seconds = minutes * 60;
  const config = { ...(Value.Default(LatentsConfig, {}) as LatentsConfig), resampler: mode };
  const resampler = mode === 'gance' && threads > 1 ? parallelResampler(threads) : undefined;
  await resampler?.ready(); // a daemon keeps the pool; thread start-up is not per track
  await helperThread.ready();
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const plan = await prepareOffline({ files: [track], config, ...(resampler ? { resampler: resampler.resample } : {}) });
  const tPrep = performance.now();
  const params = createLiveParams(config, 4);
  let frames = 0;
  let checksum = 0;
  for await (const f of offlineLatents(plan, params)) {
    frames++;
    checksum += f.z![0]! + f.network;
  }
  const t1 = performance.now();
  const cpu = process.cpuUsage(cpu0);
  await resampler?.close();
  const total = (t1 - t0) / 1000;
  const stages = { ...plan.timings, frames: (t1 - tPrep) / 1000 };
  console.log(`offline (${mode} resampling): ${minutes} min track, ${frames} frames at 60 fps${mode === 'gance' ? `, ${threads} resampler thread(s)` : ''}`);
  for (const [k, v] of Object.entries(stages)) console.log(`  ${k.padEnd(14)} ${v.toFixed(3)} s`);
  console.log(`  total          ${total.toFixed(3)} s  ratio ${(total / seconds).toFixed(4)} (target < 0.02)  main-thread CPU ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s`);
  const withoutDecode = total - (plan.timings.decode ?? 0);
  return { seconds: total, ratio: total / seconds, ratioWithoutDecode: withoutDecode / seconds, frames, stages, checksum };
}

async function streaming() {
  const config = Value.Default(LatentsConfig, {}) as LatentsConfig;
  const seconds = 30;
  const blocks = seconds * 60;
  const table = noiseLoop(config);
  const params = createLiveParams(config, 4);
  const arrivals: bigint[] = [];
  const latencies: number[] = [];
  async function* source(): AsyncGenerator<AudioBlock> {
    for (let b = 0; b < blocks; b++) {
      const x = new Float32Array(512);
      for (let i = 0; i < 512; i++) {
        const t = (b * 512 + i) / 30720;
        x[i] = Math.fround(0.3 * sinpi(2 * 220 * t) + (t % 0.5 < 0.02 ? 0.5 : 0));
      }
      const at = process.hrtime.bigint();
      arrivals.push(at);
      yield { index: b, samples: x, receivedAt: at };
    }
  }
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let n = 0;
  for await (const f of streamingLatents(source(), { config, params, noiseTable: table })) {
    const now = process.hrtime.bigint();
    // compute latency: from the arrival of the newest block this latent needed (index + 3) to now
    const newest = arrivals[Math.min(f.index + config.streaming.lookaheadFrames, arrivals.length - 1)]!;
    if (f.index + config.streaming.lookaheadFrames < blocks) latencies.push(Number(now - newest) / 1e6);
    n++;
  }
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  latencies.sort((a, b) => a - b);
  const p = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
  const frameMs = 1000 / config.fps;
  const lookaheadMs = config.streaming.lookaheadFrames * frameMs;
  const cpuPerSecond = (cpu.user + cpu.system) / 1e6 / seconds;
  console.log(`streaming: ${n} frames from ${seconds} s of audio in ${wall.toFixed(2)} s`);
  console.log(`  compute latency per frame: median ${p(0.5).toFixed(3)} ms, p99 ${p(0.99).toFixed(3)} ms`);
  console.log(`  sample -> latent: block fill (<= ${frameMs.toFixed(1)} ms) + look-ahead ${lookaheadMs.toFixed(1)} ms + compute => worst ${(frameMs + lookaheadMs + p(0.99)).toFixed(1)} ms`);
  console.log(`  CPU per second of audio: ${cpuPerSecond.toFixed(4)} s (${(cpuPerSecond * 100).toFixed(2)} % of one core)`);
  return {
    computeLatencyMsMedian: p(0.5),
    computeLatencyMsP99: p(0.99),
    lookaheadMs,
    blockMs: frameMs,
    worstSampleToLatentMs: frameMs + lookaheadMs + p(0.99),
    cpuSecondsPerAudioSecond: cpuPerSecond,
  };
}

const dir = mkdtempSync(join(tmpdir(), 'gance-bench-'));
const track = join(dir, 'track.wav');
makeTrack(track, minutes * 60);
const exact = await offline(track, 'gance');
const fast = await offline(track, 'ffmpeg');
rmSync(dir, { recursive: true, force: true });
await helperThread.close();
const str = await streaming();
console.log(
  JSON.stringify({
    bench: 'latents',
    trackMinutes: minutes,
    fps: 60,
    cpus: cpus().length,
    loadAverage1m: loadavg()[0],
    resamplerThreads: threads,
    offlineGanceExact: exact,
    offlineFfmpegResampler: fast,
    streaming: str,
  }),
);
