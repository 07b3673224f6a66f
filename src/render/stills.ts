/**
 * Stills for given seeds, as stylegan2-ada-pytorch's `generate.py --seeds` makes them: for each
 * seed the z network's picture of z = numpy `RandomState(seed).randn(1, z_dim)` (float64 normals,
 * cast to float32), with psi (default: the sidecar's truncation psi), scaled bicubic to `size`
 * if given, written as `DIR/seed0042.png`. Every PNG is written under a temporary name and all
 * are renamed into place together with `DIR/stills.run.json` (seeds, network and its hashes, psi,
 * size) once every one is complete; a failure leaves none of them.
 *
 * Nothing in DIR is replaced (as a render's output is not, publish.ts): a still or run config
 * already there is refused before the run, and one put there while it ran makes the run fail
 * naming it, the file left as it is and the stills this run had placed taken back (seconds of
 * work: run again elsewhere, rather than a kept copy under another name).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, statSync, type Stats } from 'node:fs';
import { mkdir, rm, rmdir, unlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { LegacyRandomState } from '../latents/rng.ts';
import { asNoSpace } from './disk.ts';
import { stillArgs, type Geometry } from './encode-args.ts';
import { FfmpegInput, ffmpegVersion } from './ffmpeg.ts';
import { loadNetworks } from './networks.ts';
import type { SynthesisPool } from '../synthesis/pool/pool.ts';
import { rgbBytes } from './pixels.ts';
import { place } from './publish.ts';
import { findNetwork, geometry, renderNetwork, type RenderNetwork } from './resolve.ts';
import { GANCE_VERSION, networkRecord } from './run-config.ts';
import { describeWorker, loadedWorkers, mixed, SynthesisCounter, type SynthesisRecord, type SynthesisWorker, type SynthesisWorkerInfo } from './synthesis-record.ts';
import { RenderFailure, type RenderDeps } from './types.ts';

export const MAX_SEED = 0xffffffff;
export const STILLS_RUN_JSON = 'stills.run.json';

export interface StillsOptions {
  seeds: number[];
  /** network id, or the path of an ONNX file in a catalogued folder */
  network: string;
  /** folder the stills go into (made if missing) */
  out: string;
  /** truncation psi (null: the sidecar's) */
  psi: number | null;
  /** longer side of the written picture, bicubic, at most 4x the network's (null: the network's) */
  size: number | null;
  signal?: AbortSignal;
  /** the workers that will make the stills, once the network is loaded (before any still) */
  onSynthesis?: (workers: SynthesisWorkerInfo[]) => void;
}

export interface StillsResult {
  files: string[];
  runConfig: string;
  network: string;
  psi: number;
  geometry: Geometry;
  seconds: number;
  /** what made the stills, as stills.run.json records it */
  synthesis: SynthesisRecord;
}

const bad = (message: string) => new RenderFailure('bad-input', message);

/** `generate.py`'s file name: seed0042.png (at least four digits). */
export function stillName(seed: number): string {
  return `seed${String(seed).padStart(4, '0')}.png`;
}

/** numpy `RandomState(seed).randn(1, zDim)`, float64 normals cast to float32 (`generate.py`'s z). */
export function seedLatent(seed: number, zDim: number): Float32Array {
  checkSeed(seed);
  return Float32Array.from(new LegacyRandomState(seed).randn(zDim));
}

export function checkSeed(seed: number): void {
  if (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) throw bad(`seed ${seed}: must be an integer in 0..${MAX_SEED} (numpy RandomState seeds)`);
}

/** The network of a stills run: a z network (the seed is a z), checked before any work. */
export function stillsNetwork(deps: Pick<RenderDeps, 'networks'>, ref: string): RenderNetwork {
  const net = renderNetwork(ref, findNetwork(deps.networks.catalogue, ref));
  if (net.kind === 'w') {
    throw bad(`network "${ref}": takes w latents (input "${net.latentInput}" [${net.sidecar.numWs}, ${net.sidecar.wDim}]), no z; stills from seeds need a z network`);
  }
  return net;
}

/** What a stills run will do, every input checked (sync: nothing started, nothing written). */
export interface StillsPlan {
  seeds: number[];
  network: RenderNetwork;
  geometry: Geometry;
  psi: number;
  size: number | null;
  out: string;
}

export function planStills(o: Omit<StillsOptions, 'signal'>, deps: Pick<RenderDeps, 'networks'>): StillsPlan {
  if (o.seeds.length === 0) throw bad('seeds: give at least one');
  for (const s of o.seeds) checkSeed(s);
  if (o.psi !== null && !Number.isFinite(o.psi)) throw bad(`psi ${o.psi}: must be a finite number`);
  const network = stillsNetwork(deps, o.network);
  const out = resolve(o.out);
  let there: Stats | undefined;
  try {
    there = statSync(out, { throwIfNoEntry: false });
  } catch (err) {
    throw bad(`output ${out}: ${(err as Error).message}`);
  }
  if (there && !there.isDirectory()) throw bad(`output ${out}: is not a folder`);
  const seeds = [...new Set(o.seeds)];
  if (there) {
    const taken = [...seeds.map(stillName), STILLS_RUN_JSON].find((name) => existsSync(join(out, name)));
    if (taken !== undefined) throw bad(`output ${out}: ${taken} already exists there (stills never replace a file; give another folder)`);
  }
  return {
    seeds,
    network,
    geometry: geometry({ size: o.size, format: 'png' }, [network]),
    psi: o.psi ?? network.sidecar.truncationPsi,
    size: o.size,
    out,
  };
}

/** Checks, then writes (the workers start with the first load; see planStills to check first). */
export async function renderStills(o: StillsOptions, deps: RenderDeps): Promise<StillsResult> {
  return writeStills(planStills(o, deps), deps, o);
}

export async function writeStills(plan: StillsPlan, deps: RenderDeps, o: Pick<StillsOptions, 'signal' | 'onSynthesis'> = {}): Promise<StillsResult> {
  const { signal } = o;
  const t0 = performance.now();
  const ffmpeg = deps.ffmpeg ?? 'ffmpeg';
  const { network: net } = plan;
  const ffmpegLine = await ffmpegVersion(ffmpeg);

  const { pool, release } = await loadNetworks(deps.networks, [net], signal, 'stills');
  try {
    // said as a render says it (run.ts): stills from a CPU fallback must not pass for the GPU's
    const workers = loadedWorkers(pool, [net]);
    deps.log.info({ workers }, `synthesis: ${workers.map(describeWorker).join('; ')}`);
    o.onSynthesis?.(workers);
    return await writeLoaded(plan, pool, { ffmpeg, ffmpegLine, t0, signal });
  } finally {
    await release();
  }
}

async function writeLoaded(plan: StillsPlan, pool: SynthesisPool, o: { ffmpeg: string; ffmpegLine: string; t0: number; signal: AbortSignal | undefined }): Promise<StillsResult> {
  const { ffmpeg, ffmpegLine, t0, signal } = o;
  const { seeds, network: net, geometry: g, psi, out } = plan;
  const counter = new SynthesisCounter([net]);
  const madeBy = new Map<string, SynthesisWorker>();
  let made: string | undefined;
  try {
    made = await mkdir(out, { recursive: true });
  } catch (err) {
    throw bad(`output ${out}: cannot make the folder: ${(err as Error).message}`);
  }
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const pending: Array<{ tmp: string; final: string }> = [];
  const placedFinals: string[] = [];
  try {
    for (const seed of seeds) {
      if (signal?.aborted) throw new RenderFailure('cancelled', `cancelled before seed ${seed}`);
      const feeds: Record<string, Float32Array> = { [net.latentInput]: seedLatent(seed, net.sidecar.zDim) };
      if (net.psiInput) feeds[net.psiInput] = Float32Array.of(psi);
      let frame;
      try {
        frame = await pool.submit({ feeds, network: net.id }, signal ? { signal } : {});
      } catch (err) {
        if (signal?.aborted) throw new RenderFailure('cancelled', `cancelled at seed ${seed}`, { cause: err });
        throw new RenderFailure('synthesis', `seed ${seed}: ${(err as Error).message}`, { cause: err });
      }
      counter.count(frame, madeBy);
      const rgb = rgbBytes(frame, net, seed);
      const name = stillName(seed);
      const tmp = join(out, `.${name}.tmp-${tag}`);
      pending.push({ tmp, final: join(out, name) });
      const enc = new FfmpegInput(ffmpeg, stillArgs(g, tmp), `writing ${name}`);
      try {
        await enc.write(rgb);
        await enc.finish();
      } catch (err) {
        await enc.kill();
        throw err;
      }
    }
    const runJson = join(out, STILLS_RUN_JSON);
    const tmpJson = join(out, `.${STILLS_RUN_JSON}.tmp-${tag}`);
    const workers = [...madeBy.values()];
    const synthesis: SynthesisRecord = { workers, resumed: null, mixed: mixed(workers) };
    const record = {
      gance: { version: GANCE_VERSION },
      createdAt: new Date().toISOString(),
      seeds,
      files: seeds.map(stillName),
      latent: `numpy RandomState(seed).randn(1, ${net.sidecar.zDim}) as float32`,
      network: await networkRecord(net),
      truncationPsi: psi,
      size: plan.size,
      ...g,
      scale: g.outWidth === g.width && g.outHeight === g.height ? null : 'bicubic',
      ffmpeg: ffmpegLine,
      ffmpegArgs: stillArgs(g, 'STILL'),
      // as a render's run config records it (synthesis-record.ts); stills resume nothing
      synthesis,
    };
    // listed before it is written: a write that fails halfway (a full disk) leaves a file to remove
    pending.push({ tmp: tmpJson, final: runJson });
    try {
      await writeFile(tmpJson, `${JSON.stringify(record, null, 2)}\n`);
    } catch (err) {
      throw asNoSpace(err, `writing ${runJson}`);
    }
    if (signal?.aborted) throw new RenderFailure('cancelled', 'cancelled before the stills were renamed into place');
    for (const p of pending) {
      if (!(await place(p.tmp, p.final, { replace: false, folder: false }))) {
        // someone's file, put there while the stills were made (checked free at the plan): it stays
        throw bad(`output ${p.final}: something was put there while the stills were made; it was left as it is and none of this run's stills were kept`);
      }
      placedFinals.push(p.final);
    }
    return { files: pending.slice(0, -1).map((p) => p.final), runConfig: runJson, network: net.id, psi, geometry: g, seconds: (performance.now() - t0) / 1000, synthesis };
  } catch (err) {
    await Promise.all(pending.map((p) => rm(p.tmp, { force: true })));
    // all or none: what this run had linked into place before the taken name goes again
    await Promise.all(placedFinals.map((f) => unlink(f).catch(() => {})));
    // a folder made for this run goes too when nothing else came into it
    if (made !== undefined) await rmdir(out).catch(() => {});
    throw err;
  }
}
