/** Shared pieces of the render tests: in-process deps, index-encoding networks, ffprobe/ffmpeg readers. */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfigFile } from '../../src/config/load.ts';
import type { Config } from '../../src/config/schema.ts';
import { createLocalRenderer, type LocalRenderer } from '../../src/render/local.ts';
import { OnnxGraph, int } from '../../src/synthesis/onnx/graph.ts';
import { DEFAULT_CONFIG_PATH } from '../../src/config/load.ts';

export { DEFAULT_CONFIG_PATH };

/** The embedded config with `workers` CPU workers of one intra-op thread each and analysis on the calling thread. */
export function testConfig(workers = 1, output: Config['synthesis']['output'] = 'frames'): Config {
  const c = structuredClone(loadConfigFile());
  c.synthesis.output = output;
  c.synthesis.workers = Array.from({ length: workers }, (_, i) => ({ id: `w${i}`, providers: ['cpu'], engine: 'onnx', isolation: 'auto', intraOpThreads: 1, env: {} }));
  c.synthesis.latents.analysisThreads = 1;
  c.synthesis.warmupRuns = 0;
  return c;
}

export function localRenderer(o: { workers?: number; workerSpecs?: Config['synthesis']['workers']; extraDirs?: string[]; firstNetwork?: string; ffmpeg?: string; output?: 'frames' | 'image' } = {}): LocalRenderer {
  const config = testConfig(o.workers, o.output);
  if (o.workerSpecs) config.synthesis.workers = o.workerSpecs;
  return createLocalRenderer({
    config,
    log: pino({ level: 'silent' }),
    testHooks: true,
    ...(o.extraDirs ? { extraDirs: o.extraDirs } : {}),
    ...(o.firstNetwork ? { firstNetwork: o.firstNetwork } : {}),
    ...(o.ffmpeg ? { ffmpeg: o.ffmpeg } : {}),
  });
}

export const INDEX_NET_SIZE = 8;

/**
 * A z network whose picture is z[0], z[1], z[2] in every pixel (or 255 minus them, `inverted`):
 * a latent that encodes the frame index comes back as pixels that say which frame, and which
 * network, was rendered.
 */
export function writeIndexNetwork(dir: string, id: string, inverted = false, truncationPsi = 1): void {
  mkdirSync(dir, { recursive: true });
  const s = INDEX_NET_SIZE;
  const g = new OnnxGraph(id);
  const z = g.input('z', 'float32', ['N', 512]);
  g.input('psi', 'float32', ['N']);
  const head = g.node('Slice', [z, g.int64s('starts', [0]), g.int64s('ends', [3]), g.int64s('axes', [1])]);
  const valued = inverted ? g.node('Sub', [g.scalar('top', 'float32', 255), head]) : head;
  const tiled = g.node('Tile', [g.node('Reshape', [valued, g.int64s('row', [-1, 1, 3])]), g.int64s('reps', [1, s * s, 1])]);
  const img = g.node('Reshape', [g.node('Cast', [tiled], { to: int(2) }), g.int64s('shape', [-1, s, s, 3])]);
  writeFramesNetwork(dir, id, g, img, {
    numWs: 2,
    zDim: 512,
    wDim: 4,
    wAvg: [0, 0, 0, 0],
    truncationPsi,
    inputs: [
      { name: 'z', role: 'latent', dtype: 'float32', shape: ['N', 512] },
      { name: 'psi', role: 'psi', dtype: 'float32', shape: ['N'] },
    ],
    sourceHash: `sha256:${(inverted ? 'b' : 'a').repeat(64)}`,
  });
}

/**
 * The tail both probe networks share: `img` [N, s, s, 3] uint8 becomes the graph's "frames"
 * output, and the sidecar is demo-64's with this network's own fields.
 */
function writeFramesNetwork(dir: string, id: string, g: OnnxGraph, img: string, fields: Record<string, unknown>): void {
  const s = INDEX_NET_SIZE;
  g.rename(img, 'frames');
  g.output('frames', 'uint8', ['N', s, s, 3]);
  writeFileSync(join(dir, `${id}.onnx`), g.toBytes());
  const template = JSON.parse(readFileSync(join(DEFAULT_CONFIG_PATH, '..', 'networks', 'demo-64.json'), 'utf8')) as Record<string, unknown>;
  const sidecar = {
    ...template,
    name: id,
    onnx: `${id}.onnx`,
    resolution: s,
    channels: { '4': 4, '8': 4 },
    batch: null,
    output: { width: s, height: s, resize: 'none' },
    outputs: [{ name: 'frames', role: 'frames', dtype: 'uint8', shape: ['N', s, s, 3], layout: 'NHWC' }],
    ...fields,
  };
  writeFileSync(join(dir, `${id}.json`), JSON.stringify(sidecar, null, 2));
}

/** The latent that makes the index network draw frame `i`. */
export function indexLatent(i: number): Float32Array {
  const z = new Float32Array(512);
  z[0] = i % 256;
  z[1] = Math.floor(i / 256) % 256;
  z[2] = 7;
  return z;
}

function run(cmd: string, args: string[]): Buffer {
  const r = spawnSync(cmd, args, { maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}: ${r.stderr?.toString()}`);
  return r.stdout;
}

/** ffprobe -count_frames of the first stream of a kind. */
export function probeStream(file: string, kind: 'v' | 'a'): Record<string, string> {
  const out = run('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', `${kind}:0`, '-show_entries', 'stream', '-of', 'json', file]).toString();
  const s = (JSON.parse(out) as { streams: Array<Record<string, string | number>> }).streams[0];
  if (!s) throw new Error(`${file}: no ${kind} stream`);
  return Object.fromEntries(Object.entries(s).map(([k, v]) => [k, String(v)]));
}

/** The decoded frames' md5s (ffmpeg -f framemd5), in order. */
export function frameMd5s(file: string): string[] {
  const out = run('ffmpeg', ['-v', 'error', '-i', file, '-map', '0:v:0', '-f', 'framemd5', '-']).toString();
  return out.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(',').at(-1)!.trim());
}

/** Every PNG of a folder (named %06d.png from 0), in name order, as rgb24 bytes: one ffmpeg for the lot. */
export function readPngFolder(dir: string, frameBytes: number): { names: string[]; frames: Buffer[] } {
  const names = readdirSync(dir).sort();
  const all = run('ffmpeg', ['-v', 'error', '-start_number', '0', '-i', join(dir, '%06d.png'), '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-']);
  const frames = Array.from({ length: all.length / frameBytes }, (_, i) => all.subarray(i * frameBytes, (i + 1) * frameBytes));
  return { names, frames };
}

/** The audio stream decoded to mono float32 at its own rate. */
export function decodeAudio(file: string): Float32Array {
  const b = run('ffmpeg', ['-v', 'error', '-i', file, '-map', '0:a:0', '-ac', '1', '-f', 'f32le', '-']);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

export const W_NET_ROWS = 4;

/**
 * A w network (w [N, 4, 512] straight to "synthesis"): every pixel is w[0][0..2] * 10 + 128,
 * clamped and truncated to uint8, a picture that says which latent it was given.
 */
export function writeWIndexNetwork(dir: string, id: string): void {
  mkdirSync(dir, { recursive: true });
  const s = INDEX_NET_SIZE;
  const g = new OnnxGraph(id);
  const w = g.input('w', 'float32', ['N', W_NET_ROWS, 512]);
  const head = g.node('Reshape', [g.node('Slice', [w, g.int64s('starts', [0, 0]), g.int64s('ends', [1, 3]), g.int64s('axes', [1, 2])]), g.int64s('row', [-1, 1, 3])]);
  const scaled = g.node('Add', [g.node('Mul', [head, g.scalar('ten', 'float32', 10)]), g.scalar('mid', 'float32', 128)]);
  const clipped = g.node('Clip', [scaled, g.scalar('lo', 'float32', 0), g.scalar('hi', 'float32', 255)]);
  const tiled = g.node('Tile', [clipped, g.int64s('reps', [1, s * s, 1])]);
  const img = g.node('Reshape', [g.node('Cast', [tiled], { to: int(2) }), g.int64s('shape', [-1, s, s, 3])]);
  writeFramesNetwork(dir, id, g, img, {
    numWs: W_NET_ROWS,
    zDim: 512,
    wDim: 512,
    wAvg: new Array(512).fill(0),
    inputs: [{ name: 'w', role: 'latent', dtype: 'float32', shape: ['N', W_NET_ROWS, 512] }],
    sourceHash: `sha256:${'c'.repeat(64)}`,
  });
}

/** What the w network draws for a w: the first row's first three values, as the graph computes them. */
export function wPixel(w: Float32Array): number[] {
  return [0, 1, 2].map((k) => {
    const v = Math.fround(Math.fround(w[k]! * 10) + 128);
    return Math.trunc(Math.min(255, Math.max(0, v)));
  });
}
