/**
 * Audio-reactive latents benchmark.
 * Offline: a generated 5-minute stereo 44.1 kHz track at 60 fps, decoded, resampled GANce-exactly,
 * spectrogram + RMS + network choice + noise + rich features, then every z frame produced.
 * Reported: seconds per stage, total, and the ratio to the track's duration (target < 0.02). The machine
 * may be shared, so CPU time is reported beside wall time: CPU seconds of this process (main thread and
 * workers) plus its finished children (ffmpeg) per second of track, with the load average. A 30 s
 * excerpt is resampled by resampy's per-tap loop and by the phase-filter path in the same run, one
 * thread each, as the before/after baseline of the exact resampler.
 * Streaming: 30 s of audio pushed block by block through the live path; latency from a block's
 * arrival to the latent that depends on it (compute only, and including the 3-frame look-ahead), and
 * CPU seconds per second of audio. Last line: one JSON object.
 *
 *   node --import tsx test/bench/latents.ts [--minutes 5] [--threads N]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { sinpi } from '../../src/audio/features/detmath.ts';
import { LatentsConfig } from '../../src/latents/config.ts';
import { offlineLatents, prepareOffline } from '../../src/latents/offline.ts';
import { createLiveParams } from '../../src/latents/params.ts';
import { noiseLoop, streamingLatents } from '../../src/latents/streaming.ts';
import type { AudioBlock } from '../../src/audio/live.ts';
import { analysisPool } from '../../src/latents/analysis-pool.ts';
import { helperThread } from '../../src/latents/offline-helpers.ts';
import { writeWav } from '../audio/wav.ts';
import { decodeFiles } from '../../src/audio/decode.ts';
import { resampledLength, resampleRangeReference, resampleTables } from '../../src/audio/resampy.ts';
import { phaseBank, resampleRangePhased } from '../../src/audio/resampy-phased.ts';
import { resampleRangeSimd, simdKernel } from '../../src/audio/resample-simd.ts';

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

/** CPU seconds of this process (all threads) and of its waited-for children (ffmpeg). */
function cpuSeconds(): number {
  const own = process.cpuUsage();
  // /proc/self/stat fields 16 and 17: cutime, cstime in clock ticks (100 per second on Linux).
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  const children = (Number(fields[13]) + Number(fields[14])) / 100;
  return (own.user + own.system) / 1e6 + children;
}

/** Best of 3 CPU times per track second of resampy's loop, the scalar phase filters and the SIMD kernel, one thread. */
async function resamplerBaseline(track: string, seconds: number) {
  const full = (await decodeFiles([track])).samples;
  const x = full.slice(0, Math.min(full.length, Math.round(44100 * seconds)));
  const tables = resampleTables(44100, 30720);
  const bank = phaseBank(tables)!;
  const kernel = simdKernel(tables, bank);
  const n = resampledLength(x.length, 44100, 30720);
  const a = new Float32Array(n);
  const b = new Float32Array(n);
  const c = new Float32Array(n);
  const time = (f: () => void) => {
    let best = Infinity;
    for (let r = 0; r < 3; r++) {
      const c0 = process.cpuUsage();
      f();
      const c = process.cpuUsage(c0);
      best = Math.min(best, (c.user + c.system) / 1e6);
    }
    return best;
  };
  const loop = time(() => resampleRangeReference(x, tables, 0, n, 0, a));
  const phased = time(() => resampleRangePhased(x, tables, bank, 0, n, 0, b));
  const simd = kernel ? time(() => resampleRangeSimd(x, tables, bank, kernel, 0, n, 0, c)) : null;
  const same = (p: Float32Array, q: Float32Array) => Buffer.compare(Buffer.from(p.buffer), Buffer.from(q.buffer)) === 0;
  const identical = same(a, b) && (simd === null || same(a, c));
  const secs = x.length / 44100;
  const per = (v: number) => (v / secs).toFixed(4);
  console.log(
    `exact resampler on a ${secs} s excerpt, one thread, CPU-s per track-s: per-tap loop ${per(loop)}, phase filters ${per(phased)} (x${(loop / phased).toFixed(2)}), ` +
      `SIMD ${simd === null ? 'unavailable' : `${per(simd)} (x${(loop / simd).toFixed(2)} the loop, x${(phased / simd).toFixed(2)} the phase filters)`}; identical: ${identical}`,
  );
  if (!identical) throw new Error('a fast resampler path differs from resampy loop');
  return {
    excerptSeconds: secs,
    loopCpuPerTrackSecond: loop / secs,
    phasedCpuPerTrackSecond: phased / secs,
    simdCpuPerTrackSecond: simd === null ? null : simd / secs,
    speedup: loop / (simd ?? phased),
    identical,
  };
}

async function offline(track: string, mode: 'gance' | 'ffmpeg') {
  const seconds = minutes * 60;
  const config = { ...(Value.Default(LatentsConfig, {}) as LatentsConfig), resampler: mode };
  const pool = threads > 1 ? analysisPool(threads) : undefined;
  await pool?.ready(); // a daemon keeps the pool; thread start-up is not per track
  await helperThread.ready();
  const load0 = loadavg()[0]!;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const all0 = cpuSeconds();
  const plan = await prepareOffline({ files: [track], config: { ...config, analysisThreads: threads }, ...(pool ? { pool } : {}) });
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
  const cpuAll = cpuSeconds() - all0;
  const load1 = loadavg()[0]!;
  await pool?.close();
  const total = (t1 - t0) / 1000;
  const stages = { ...plan.timings, frames: (t1 - tPrep) / 1000 };
  console.log(`offline (${mode} resampling): ${minutes} min track, ${frames} frames at 60 fps, ${threads} analysis thread(s)`);
  for (const [k, v] of Object.entries(stages)) console.log(`  ${k.padEnd(14)} ${v.toFixed(3)} s`);
  console.log(`  total          ${total.toFixed(3)} s  ratio ${(total / seconds).toFixed(4)} (target < 0.02)  process CPU ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s`);
  console.log(`  CPU (process + ffmpeg) ${cpuAll.toFixed(2)} s = ${(cpuAll / seconds).toFixed(4)} CPU-s per track-s (/2 cores = ${(cpuAll / seconds / 2).toFixed(4)}); load average ${load0.toFixed(2)} -> ${load1.toFixed(2)}`);
  const withoutDecode = total - (plan.timings.decode ?? 0);
  return {
    seconds: total,
    ratio: total / seconds,
    ratioWithoutDecode: withoutDecode / seconds,
    cpuSeconds: cpuAll,
    cpuSecondsPerTrackSecond: cpuAll / seconds,
    loadAverage1m: [load0, load1],
    frames,
    stages,
    checksum,
  };
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
const baseline = await resamplerBaseline(track, Math.min(30, minutes * 60));
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
    analysisThreads: threads,
    exactResamplerBaseline: baseline,
    offlineGanceExact: exact,
    offlineFfmpegResampler: fast,
    streaming: str,
  }),
);
