/**
 * `gance render --still SEED`: the real command on the bundled demo-64 network (ONNX on the CPU)
 * and real ffmpeg. Two seeds give two different 64x64 PNGs and the same seed gives the same
 * pixels again; the z of a seed is numpy's `RandomState(seed).randn(1, 512)` (checked against
 * numpy itself, bit for bit, and through the network: the still's pixels are the network's picture
 * of numpy's z); bad input is one line naming it, with nothing written.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config/load.ts';
import { createLocalRenderer } from '../../src/render/local.ts';
import { rgbBytes } from '../../src/render/pixels.ts';
import { planStills, seedLatent, stillName, stillsNetwork, writeStills } from '../../src/render/stills.ts';
import { RenderFailure } from '../../src/render/types.ts';
import { CLI, REPO } from '../helpers/daemon-process.ts';
import { tempDir } from '../audio/wav.ts';
import { probeStream, writeWIndexNetwork } from './helpers.ts';
import { fellBackLine, fellBackWorker } from '../helpers/synthesis-fallback.ts';

const gance = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { cwd: REPO, encoding: 'utf8' });

/** A PNG decoded by ffmpeg to rgb24. */
function pixels(file: string): Buffer {
  const r = spawnSync('ffmpeg', ['-v', 'error', '-i', file, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`ffmpeg decoding ${file}: ${r.stderr.toString()}`);
  return r.stdout;
}

const NUMPY_SEEDS = [0, 1, 42, 4294967295];

/** numpy's own z for each seed: RandomState(seed).randn(1, 512).astype(float32), as raw bytes. */
function numpyLatents(seeds: number[]): Float32Array[] {
  const py = 'import sys, numpy as np\nfor s in sys.argv[1:]: print(np.random.RandomState(int(s)).randn(1, 512).astype(np.float32).tobytes().hex())';
  // the python on PATH may be another install (pyenv) than the one .ci/setup gave numpy to
  const python = ['python3', '/usr/bin/python3'].find((p) => spawnSync(p, ['-c', 'import numpy']).status === 0);
  if (!python) throw new Error('no python3 with numpy (.ci/setup installs python3-numpy)');
  const r = spawnSync(python, ['-c', py, ...seeds.map(String)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${python}: ${r.stderr}`);
  return r.stdout.trim().split('\n').map((hex) => {
    const b = Buffer.from(hex, 'hex');
    return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  });
}

describe('gance render --still', () => {
  let dir: string;
  let config: string;
  beforeAll(() => {
    dir = tempDir('gance-stills-');
    // one CPU worker of one intra-op thread: the same numbers in every process here
    config = join(dir, 'gance.yaml');
    writeFileSync(
      config,
      `cooler:\n  driver: simulated\n  fans: [{ id: a, channel: 0 }]\nthermal:\n  zones:\n    - { id: z0, gpus: [0], fans: [a], pid: { setpoint: 70 } }\nsynthesis:\n  workers: [{ id: cpu0, providers: [cpu], intraOpThreads: 1 }]\n`,
    );
  });

  it('writes one 64x64 PNG per seed, different seeds differ, the same seed gives the same pixels again', { timeout: 120_000 }, () => {
    const out = join(dir, 'stills');
    const r = gance('render', '--still', '1', '--still', '42', '--network', 'demo-64', '--out', out, '--config', config);
    // what makes the stills, said as a render says it
    expect(r.stderr).toBe('synthesis: cpu0 onnx/cpu\n');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`wrote 2 stills (64x64, network demo-64, psi 1) to ${out} in ${/in ([0-9.]+) s/.exec(r.stdout)?.[1]} s, and ${join(out, 'stills.run.json')}\n`);
    expect(readdirSync(out).sort()).toEqual(['seed0001.png', 'seed0042.png', 'stills.run.json']);
    for (const f of ['seed0001.png', 'seed0042.png']) expect(probeStream(join(out, f), 'v')).toMatchObject({ codec_name: 'png', width: '64', height: '64', pix_fmt: 'rgb24' });
    const one = pixels(join(out, 'seed0001.png'));
    const fortyTwo = pixels(join(out, 'seed0042.png'));
    expect(one.length).toBe(64 * 64 * 3);
    expect(fortyTwo.length).toBe(64 * 64 * 3);
    expect(one.equals(fortyTwo)).toBe(false);

    const run = JSON.parse(readFileSync(join(out, 'stills.run.json'), 'utf8')) as Record<string, unknown> & { network: Record<string, string> };
    expect(run).toMatchObject({ seeds: [1, 42], files: ['seed0001.png', 'seed0042.png'], truncationPsi: 1, size: null, width: 64, height: 64, outWidth: 64, outHeight: 64 });
    expect(run.network).toMatchObject({ id: 'demo-64', kind: 'z' });
    expect(run.network.sidecarSha256).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(run.network.onnxSha256).toMatch(/^sha256:[0-9a-f]{64}$/);
    // and recorded as a render's run config records it: one frame per still
    expect(run.synthesis).toEqual({
      workers: [{ id: 'cpu0', engine: 'onnx', provider: 'cpu', adapter: null, precision: 'f32', precisionNote: null, fallback: [], binding: null, frames: 2 }],
      resumed: null,
      mixed: false,
    });

    // the same seed again, alone, in another folder: the same pixels
    const again = join(dir, 'again');
    const r2 = gance('render', '--still', '42', '--network', 'demo-64', '--out', again, '--config', config);
    expect(r2.stderr).toBe('synthesis: cpu0 onnx/cpu\n');
    expect(r2.status).toBe(0);
    expect(pixels(join(again, 'seed0042.png')).equals(fortyTwo)).toBe(true);

    // --size: bicubic to 128 (the bicubic of the same picture), --psi recorded
    const big = join(dir, 'big');
    const r3 = gance('render', '--still', '42', '--size', '128', '--psi', '0.5', '--network', 'demo-64', '--out', big, '--config', config);
    expect(r3.stderr).toBe('synthesis: cpu0 onnx/cpu\n');
    expect(r3.status).toBe(0);
    expect(probeStream(join(big, 'seed0042.png'), 'v')).toMatchObject({ width: '128', height: '128' });
    expect(JSON.parse(readFileSync(join(big, 'stills.run.json'), 'utf8'))).toMatchObject({ seeds: [42], truncationPsi: 0.5, size: 128, outWidth: 128, outHeight: 128, scale: 'bicubic' });
    for (const d of [out, again, big]) expect(readdirSync(d).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('a worker asked for [webgpu, cpu] whose WebGPU cannot open makes the stills on the CPU and says so: a warning naming the reason, the fallback in stills.run.json', { timeout: 120_000 }, () => {
    const cfg = join(dir, 'fallback.yaml');
    // a device-select variable that names no GPU: the worker refuses WebGPU (as on a rig whose GPU is gone) and falls back
    writeFileSync(
      cfg,
      `cooler:\n  driver: simulated\n  fans: [{ id: a, channel: 0 }]\nthermal:\n  zones:\n    - { id: z0, gpus: [0], fans: [a], pid: { setpoint: 70 } }\nsynthesis:\n  workers: [{ id: p0, providers: [webgpu, cpu], intraOpThreads: 1, env: { MESA_VK_DEVICE_SELECT: 'ffff:ffff' } }]\n`,
    );
    const out = join(dir, 'fallback');
    const r = gance('render', '--still', '7', '--network', 'demo-64', '--out', out, '--config', cfg);
    expect(r.status, r.stderr).toBe(0);
    // the pool's own warning (JSON, for a log) is there too; the plain lines are for the user
    expect(r.stderr.split('\n').filter((l) => !l.startsWith('{'))).toEqual([
      'synthesis: p0 onnx/cpu',
      expect.stringMatching(fellBackLine('p0', 'warning: ')),
      '',
    ]);
    const run = JSON.parse(readFileSync(join(out, 'stills.run.json'), 'utf8')) as { synthesis: unknown };
    expect(run.synthesis).toEqual({
      workers: [
        { ...fellBackWorker('p0'), frames: 1 },
      ],
      resumed: null,
      mixed: false,
    });
  });

  // numpy comes with .ci/setup (python3-numpy): the check runs everywhere the suite does
  it('the z of a seed is numpy RandomState(seed).randn(1, 512) as float32, bit for bit, and the still is the network picture of it', { timeout: 120_000 }, async () => {
    const want = numpyLatents(NUMPY_SEEDS);
    for (const [i, seed] of NUMPY_SEEDS.entries()) {
      const z = seedLatent(seed, 512);
      expect(z.length).toBe(512);
      expect(Buffer.from(z.buffer).equals(Buffer.from(want[i]!.buffer)), `seed ${seed}`).toBe(true);
    }
    // through the network: numpy's z for seed 42 fed straight to the pool gives the CLI's still
    const out = join(dir, 'numpy');
    const r = gance('render', '--still', '42', '--network', 'demo-64', '--out', out, '--config', config);
    expect(r.status).toBe(0);
    const local = createLocalRenderer({ config: loadConfigFile(config), log: pino({ level: 'silent' }), firstNetwork: 'demo-64' });
    try {
      const net = stillsNetwork(local.deps, 'demo-64');
      await local.deps.networks.settled('demo-64');
      const frame = await local.deps.networks.pool!.submit({ network: 'demo-64', feeds: { [net.latentInput]: want[2]!, [net.psiInput!]: Float32Array.of(1) } });
      expect(Buffer.from(rgbBytes(frame, net, 0)).equals(pixels(join(out, stillName(42))))).toBe(true);
    } finally {
      await local.close();
    }
  });

  it('a still already in the folder is refused before the run: one line naming it, the file as it was, nothing else written', { timeout: 60_000 }, () => {
    const out = join(dir, 'taken-before');
    mkdirSync(out);
    writeFileSync(join(out, 'seed0001.png'), 'mine');
    const r = gance('render', '--still', '2', '--still', '1', '--network', 'demo-64', '--out', out, '--config', config);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^gance: stills failed \(bad-input\): output [^\n]*taken-before: seed0001\.png already exists there[^\n]*\n$/);
    expect(readFileSync(join(out, 'seed0001.png'), 'utf8')).toBe('mine');
    expect(readdirSync(out)).toEqual(['seed0001.png']);
  });

  it('a still put in the folder while the run made them stays as it was; the run fails naming it and leaves none of its own', { timeout: 120_000 }, async () => {
    const out = join(dir, 'taken-during');
    mkdirSync(out);
    const local = createLocalRenderer({ config: loadConfigFile(config), log: pino({ level: 'silent' }), firstNetwork: 'demo-64' });
    try {
      const plan = planStills({ seeds: [1, 42], network: 'demo-64', out, psi: null, size: null }, local.deps);
      // checked free by the plan; someone writes it before the stills are put in place
      writeFileSync(join(out, 'seed0042.png'), 'mine');
      const err = await writeStills(plan, local.deps).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(RenderFailure);
      expect((err as RenderFailure).reason).toBe('bad-input');
      expect((err as RenderFailure).message).toMatch(/seed0042\.png: something was put there while the stills were made; it was left as it is/);
    } finally {
      await local.close();
    }
    expect(readFileSync(join(out, 'seed0042.png'), 'utf8')).toBe('mine');
    expect(readdirSync(out)).toEqual(['seed0042.png']);
  });

  describe('bad input: one line naming it, nothing written', () => {
    const cases: Array<[string, string[], RegExp]> = [
      ['audio with --still', ['song.wav', '--still', '1'], /"song\.wav".*no audio|no audio.*"song\.wav"/],
      ['an unknown network', ['--still', '1', '--network', 'no-such-net'], /network "no-such-net": no such network \(known: demo-64\)/],
      ['a negative seed', ['--still', '-1'], /--still .*"-1"/],
      ['a non-integer seed', ['--still', '1.5'], /--still .*"1\.5"/],
      ['a seed past 2^32 - 1', ['--still', '4294967296'], /--still .*"4294967296"/],
      ['a seed that is no number', ['--still', 'abc'], /--still .*"abc"/],
      ['a size over 4x the network', ['--still', '1', '--size', '512'], /output size 512: more than 4x the network's 64 px/],
      ['an absurd size', ['--still', '1', '--size', '100000'], /--size .*"100000"/],
      ['a video flag with --still', ['--still', '1', '--fps', '30'], /--still: --fps is for video renders/],
      ['neither audio nor --still', [], /missing required argument 'audio'/],
    ];
    for (const [what, args, message] of cases) {
      it(what, { timeout: 60_000 }, () => {
        const out = join(dir, `bad-${what.replace(/\W+/g, '-')}`);
        const r = gance('render', ...args, '--out', out, '--config', config);
        expect(r.status).not.toBe(0);
        expect(r.stderr).toMatch(/^[^\n]+\n$/);
        expect(r.stderr).toMatch(message);
        expect(r.stdout).toBe('');
        expect(existsSync(out)).toBe(false);
      });
    }

    it('a w network (no z input)', { timeout: 60_000 }, () => {
      writeWIndexNetwork(join(dir, 'nets'), 'w-index');
      const out = join(dir, 'bad-w');
      const r = gance('render', '--still', '1', '--network', join(dir, 'nets', 'w-index.onnx'), '--out', out, '--config', config);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/^gance: stills failed \(bad-input\): network "[^"]*w-index\.onnx": takes w latents .*stills from seeds need a z network\n$/);
      expect(existsSync(out)).toBe(false);
    });
  });
});
