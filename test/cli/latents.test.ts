/** gance latents: the real command on generated WAVs, read back and compared with the library called directly. */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseNpy } from 'npyjs';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { exportLatents, LatentsCancelled, sidecarPathFor, type LatentsSidecar } from '../../src/cli/latents.ts';
import { loadConfigFile } from '../../src/config/load.ts';
import type { LatentsConfig } from '../../src/latents/config.ts';
import { NpyFloat32Writer } from '../../src/latents/npy.ts';
import { offlineLatents, prepareOffline } from '../../src/latents/offline.ts';
import { createLiveParams } from '../../src/latents/params.ts';
import { LegacyRandomState } from '../../src/latents/rng.ts';
import { CLI, REPO } from '../helpers/daemon-process.ts';
import { addInto, clicks, noise, tempDir, tone, writeWav } from '../audio/wav.ts';
import { corruptFirstChunk, writeSmallProjection } from '../latents/projection/small-file.ts';

const gance = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { cwd: REPO, encoding: 'utf8' });

function readNpy(path: string) {
  const b = readFileSync(path);
  return parseNpy(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
}

/** What the library gives for the same files, config and network count, as one float32 buffer and the network list. */
async function direct(files: string[], config: LatentsConfig, networkCount: number): Promise<{ values: Buffer; networks: number[] }> {
  const plan = await prepareOffline({ files, config });
  try {
    const chunks: Buffer[] = [];
    const networks: number[] = [];
    for await (const f of offlineLatents(plan, createLiveParams(config, networkCount))) {
      const v = f.z ?? f.w!;
      chunks.push(Buffer.from(v.buffer, v.byteOffset, v.byteLength));
      networks.push(f.network);
    }
    return { values: Buffer.concat(chunks), networks };
  } finally {
    plan.projection?.reader.close();
  }
}

const leftovers = (dir: string, stem: string) => readdirSync(dir).filter((n) => n.includes(stem));

describe('gance latents', () => {
  let dir: string;
  let song: string;
  let tail: string;
  beforeAll(() => {
    dir = tempDir('gance-cli-latents-');
    // 3 s: a chord, clicks over its second half, a quiet end, so the loudness (and the network) moves
    const n = 44100 * 3;
    const perc = clicks(44100, 3, 0.25);
    perc.fill(0, 0, n / 2);
    const mix = addInto(addInto(tone(44100, 3, [220, 277.18, 329.63], 0.15), perc), noise(n, 0.01, 3));
    for (let i = Math.floor(n * 0.85); i < n; i++) mix[i] = Math.round(mix[i]! * 0.1);
    song = join(dir, 'song.wav');
    writeWav(song, 44100, 1, mix);
    tail = join(dir, 'tail.wav');
    writeWav(tail, 44100, 1, addInto(tone(44100, 1, [440], 0.2), noise(44100, 0.01, 4)));
  });

  it('writes float32 [frames, 512] z and the networks sidecar, equal to prepareOffline + offlineLatents', { timeout: 60_000 }, async () => {
    const configPath = join(dir, 'gance.yaml');
    writeFileSync(
      configPath,
      `cooler:\n  driver: simulated\n  fans: [{ id: a, channel: 0 }]\nthermal:\n  zones:\n    - { id: z0, gpus: [0], fans: [a], pid: { setpoint: 70 } }\nsynthesis:\n  latents:\n    alpha: 0.5\n    fftAmplitudeRange: [-2, 2]\n    noise: { seed: 99 }\n`,
    );
    const out = join(dir, 'z.npy');
    const r = gance('latents', '--audio', song, '--audio', tail, '--out', out, '--config', configPath, '--fps', '30', '--network-count', '3');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`wrote ${out} (float32 [120, 512]: z by noise-blend, 120 frames at 30 fps) and ${join(dir, 'z.networks.json')} (network per frame, 0..2)\n`);

    const npy = readNpy(out);
    expect(npy.shape).toEqual([120, 512]);
    expect(npy.dtype).toBe('f4');
    expect(npy.data).toBeInstanceOf(Float32Array);
    const config = { ...loadConfigFile(configPath).synthesis.latents, fps: 30 };
    expect(config).toMatchObject({ alpha: 0.5, noise: { seed: 99 } });
    const want = await direct([song, tail], config, 3);
    const got = Buffer.from(npy.data.buffer, npy.data.byteOffset, npy.data.byteLength);
    expect(got.length).toBe(120 * 512 * 4);
    expect(Buffer.compare(got, want.values)).toBe(0); // bit for bit

    const sidecar = JSON.parse(readFileSync(join(dir, 'z.networks.json'), 'utf8')) as LatentsSidecar;
    expect(sidecar).toEqual({ latents: 'z.npy', kind: 'z', mode: 'noise-blend', shape: [120, 512], dtype: 'float32', fps: 30, frames: 120, networkCount: 3, audio: [song, tail], networks: want.networks });
    expect(new Set(sidecar.networks)).toEqual(new Set([0, 1, 2]));
    expect(leftovers(dir, '.tmp')).toEqual([]);
  });

  it('writes float32 [frames, numWs, 512] w for a projection file (--projection implies the mode)', { timeout: 60_000 }, async () => {
    const rng = new LegacyRandomState(5);
    const proj = await writeSmallProjection(join(dir, 'face.h5'), { projectionFps: 2, originalFrameCount: 90, latents: Array.from({ length: 6 }, () => Float32Array.from(rng.randn(18 * 512))) });

    const out = join(dir, 'w.npy');
    const r = gance('latents', '--audio', song, '--out', out, '--projection', proj, '--network-count', '2');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const npy = readNpy(out);
    // 60 fps over a 2 fps projection: 30 frames a latent, 6 latents
    expect(npy.shape).toEqual([180, 18, 512]);
    expect(npy.dtype).toBe('f4');
    const config: LatentsConfig = { ...loadConfigFile().synthesis.latents, mode: 'projection-file-blend', projectionFile: proj };
    const want = await direct([song], config, 2);
    expect(Buffer.compare(Buffer.from(npy.data.buffer, npy.data.byteOffset, npy.data.byteLength), want.values)).toBe(0);
    const sidecar = JSON.parse(readFileSync(join(dir, 'w.networks.json'), 'utf8')) as LatentsSidecar;
    expect(sidecar).toMatchObject({ kind: 'w', mode: 'projection-file-blend', shape: [180, 18, 512], frames: 180, fps: 60, networkCount: 2 });
    expect(sidecar.networks).toEqual(want.networks);
  });

  it('refuses bad input with the file and the reason, exits non-zero and leaves no output', { timeout: 60_000 }, () => {
    const garbage = join(dir, 'garbage.wav');
    writeFileSync(garbage, 'not audio at all');
    const out = join(dir, 'bad.npy');
    const unreadable = gance('latents', '--audio', song, '--audio', garbage, '--out', out);
    expect(unreadable.status).toBe(1);
    expect(unreadable.stderr).toMatch(new RegExp(`^gance: ${garbage}: not a readable audio file \\(.+\\)\\n$`));
    expect(unreadable.stdout).toBe('');

    const fps = gance('latents', '--audio', song, '--out', out, '--fps', '0');
    expect(fps.status).toBe(1);
    expect(fps.stderr).toContain('--fps must be a number > 0 and <= 1000, got "0"');

    const noProjection = gance('latents', '--audio', song, '--out', out, '--mode', 'projection-file-blend');
    expect(noProjection.status).toBe(2);
    expect(noProjection.stderr).toContain('synthesis.latents.projectionFile (or --projection): is required when mode is "projection-file-blend"');
    const missing = gance('latents', '--audio', song, '--out', out, '--projection', join(dir, 'nope.h5'));
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain(`--projection (synthesis.latents.projectionFile): cannot read "${join(dir, 'nope.h5')}": file not found`);

    expect(leftovers(dir, 'bad.')).toEqual([]);
  });

  it('names --out when its folder does not exist or it is a folder', { timeout: 60_000 }, () => {
    const nowhere = join(dir, 'nowhere', 'x.npy');
    const r = gance('latents', '--audio', song, '--out', nowhere);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`gance: --out ${nowhere}: cannot write: folder ${join(dir, 'nowhere')} does not exist\n`);
    const folder = join(dir, 'a-folder.npy');
    mkdirSync(folder, { recursive: true });
    const f = gance('latents', '--audio', song, '--out', folder);
    expect(f.status).toBe(1);
    expect(f.stderr).toBe(`gance: --out ${folder}: cannot write: ${folder} is a directory\n`);
  });

  it('a FIFO given as the projection file is refused at once naming it, not opened (an open would block for good)', { timeout: 180_000 }, () => {
    const fifo = join(dir, 'pipe.h5');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    // SIGKILL: the blocked open ignored SIGTERM; the bound only ends a run that blocked, so it fails, not hangs
    const r = spawnSync(process.execPath, [CLI, 'latents', '--audio', song, '--out', join(dir, 'piped.npy'), '--projection', fifo], { cwd: REPO, encoding: 'utf8', timeout: 120_000, killSignal: 'SIGKILL' });
    expect(r.signal).toBeNull();
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`--projection (synthesis.latents.projectionFile): cannot read "${fifo}": not a regular file`);
    expect(leftovers(dir, 'piped.')).toEqual([]);
  });

  it('a damaged projection file (corrupt gzip chunk, truncated, NaN latents): one line naming the file, no HDF5 dump, non-zero exit, no output', { timeout: 60_000 }, async () => {
    const sub = join(dir, 'damaged');
    mkdirSync(sub);
    const rng = new LegacyRandomState(6);
    const make = (name: string, edit: (latents: Float32Array[]) => void = () => {}) => {
      const latents = Array.from({ length: 6 }, () => Float32Array.from(rng.randn(18 * 512)));
      edit(latents);
      return writeSmallProjection(join(sub, name), { projectionFps: 2, originalFrameCount: 90, latents });
    };
    const corrupt = await make('corrupt.h5');
    corruptFirstChunk(corrupt, 'final_latents/final_latents_0');
    const whole = readFileSync(await make('whole.h5'));
    const truncated = join(sub, 'truncated.h5');
    writeFileSync(truncated, whole.subarray(0, Math.floor(whole.length * 0.6)));
    const nan = await make('nan.h5', (l) => (l[3]![10] = NaN));
    const cases: Array<[string, RegExp]> = [
      [corrupt, /cannot read dataset 'final_latents\/final_latents_0' \(HDF5: data pipeline read failed: filter returned failure during read\)/],
      [truncated, /damaged or truncated HDF5 file \(HDF5: .*truncated file/],
      [nan, /dataset 'final_latents\/final_latents_3' holds a non-finite latent \(NaN at w row 0, column 10\)/],
    ];
    for (const [file, reason] of cases) {
      const out = join(sub, 'w.npy');
      const r = gance('latents', '--audio', song, '--out', out, '--projection', file);
      expect(r.status, file).not.toBe(0);
      expect(r.stderr, file).not.toContain('HDF5-DIAG');
      expect(r.stderr.trim().split('\n'), file).toHaveLength(1);
      expect(r.stderr, file).toContain(`${file}: `);
      expect(r.stderr, file).toMatch(reason);
      expect(readdirSync(sub).filter((f) => f.startsWith('w.')), file).toEqual([]);
    }
  });

  it('removes what it wrote when a run fails part-way through the frames', { timeout: 60_000 }, async () => {
    const sub = join(dir, 'partway');
    mkdirSync(sub);
    const out = join(sub, 'cut.npy');
    const config = loadConfigFile().synthesis.latents;
    const original = NpyFloat32Writer.prototype.write;
    let calls = 0;
    const spy = vi.spyOn(NpyFloat32Writer.prototype, 'write').mockImplementation(function (this: NpyFloat32Writer, v: Float32Array) {
      if (++calls === 40) return Promise.reject(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
      return original.call(this, v);
    });
    try {
      await expect(exportLatents({ files: [song], config, out, networkCount: 2 })).rejects.toThrow(`--out ${out}: cannot write: no space left on the device`);
    } finally {
      spy.mockRestore();
    }
    expect(calls).toBe(40);
    expect(readdirSync(sub)).toEqual([]);
    // and a folder where the sidecar goes is refused before any work
    mkdirSync(join(sub, 'taken.networks.json'));
    await expect(exportLatents({ files: [song], config, out: join(sub, 'taken.npy'), networkCount: 1 })).rejects.toThrow(/taken\.networks\.json is a directory/);
    expect(readdirSync(sub)).toEqual(['taken.networks.json']);
  });

  it('refuses an existing .npy or sidecar unless --force, leaving both as they were', { timeout: 60_000 }, () => {
    const sub = join(dir, 'existing');
    mkdirSync(sub);
    const out = join(sub, 'old.npy');
    const sidecar = join(sub, 'old.networks.json');
    writeFileSync(out, 'somebody else\'s latents');
    const refused = gance('latents', '--audio', tail, '--out', out);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toBe(`gance: --out ${out}: ${out} already exists (--force to overwrite it)\n`);
    expect(readFileSync(out, 'utf8')).toBe('somebody else\'s latents');
    expect(readdirSync(sub)).toEqual(['old.npy']);

    // the sidecar alone is somebody's too
    const other = join(sub, 'other.npy');
    writeFileSync(join(sub, 'other.networks.json'), '{}');
    const sidecarRefused = gance('latents', '--audio', tail, '--out', other);
    expect(sidecarRefused.status).toBe(1);
    expect(sidecarRefused.stderr).toContain(`${join(sub, 'other.networks.json')} already exists (--force to overwrite it)`);
    expect(readFileSync(join(sub, 'other.networks.json'), 'utf8')).toBe('{}');

    const forced = gance('latents', '--audio', tail, '--out', out, '--force');
    expect(forced.stderr).toBe('');
    expect(forced.status).toBe(0);
    expect(readNpy(out).shape).toEqual([60, 512]);
    expect((JSON.parse(readFileSync(sidecar, 'utf8')) as LatentsSidecar).frames).toBe(60);
    expect(leftovers(sub, '.tmp')).toEqual([]);
  });

  it('a cancelled run (the signal Ctrl-C fires) stops between frames and leaves nothing, an existing output untouched', { timeout: 60_000 }, async () => {
    const sub = join(dir, 'cancelled');
    mkdirSync(sub);
    const out = join(sub, 'keep.npy');
    writeFileSync(out, 'before');
    const config = loadConfigFile().synthesis.latents;
    const abort = new AbortController();
    const original = NpyFloat32Writer.prototype.write;
    let calls = 0;
    const spy = vi.spyOn(NpyFloat32Writer.prototype, 'write').mockImplementation(function (this: NpyFloat32Writer, v: Float32Array) {
      if (++calls === 10) abort.abort();
      return original.call(this, v);
    });
    try {
      await expect(exportLatents({ files: [song], config, out, networkCount: 1, force: true, signal: abort.signal })).rejects.toThrow(LatentsCancelled);
    } finally {
      spy.mockRestore();
    }
    expect(calls).toBe(10);
    expect(readdirSync(sub)).toEqual(['keep.npy']);
    expect(readFileSync(out, 'utf8')).toBe('before');
  });

  it('names the sidecar after the .npy', () => {
    expect(sidecarPathFor('/x/latents.npy')).toBe('/x/latents.networks.json');
    expect(sidecarPathFor('/x/latents.bin')).toBe('/x/latents.bin.networks.json');
  });
});
