/**
 * `gance latents`: a track's audio-reactive latents (the config's `synthesis.latents`, GANce's
 * offline behaviour) as a NumPy file, with the network index of every frame in a JSON sidecar.
 *
 *   gance latents --audio A.wav [--audio B.wav ...] --out latents.npy [--config FILE] [--fps N]
 *                 [--mode noise-blend|projection-file-blend] [--projection FILE.h5] [--network-count N]
 *
 * Both files are written under temporary names beside the output and renamed once complete (the
 * .npy last), so a run that fails or is cancelled (Ctrl-C) leaves neither. An existing output (or
 * sidecar) is refused unless --force, as `gance render` refuses one.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { randomBytes } from 'node:crypto';
import { link, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { DEFAULT_CONFIG_PATH } from '../config/paths.ts';
import type { LatentsConfig } from '../latents/config.ts';
import type { NpyFloat32Writer } from '../latents/npy.ts';

type Mode = LatentsConfig['mode'];
const MODES: readonly Mode[] = ['noise-blend', 'projection-file-blend'];

/** What the sidecar holds; `networks[f]` is frame f's network index in 0..networkCount-1. */
export interface LatentsSidecar {
  latents: string;
  kind: 'z' | 'w';
  mode: Mode;
  shape: number[];
  dtype: 'float32';
  fps: number;
  frames: number;
  networkCount: number;
  audio: string[];
  networks: number[];
}

export interface ExportOptions {
  files: readonly string[];
  config: LatentsConfig;
  out: string;
  networkCount: number;
  /** replace an existing .npy or sidecar; without it either is refused, before any work and at the rename */
  force?: boolean;
  /** Ctrl-C: the run stops between frames and removes what it wrote */
  signal?: AbortSignal;
}

export interface ExportResult {
  npyPath: string;
  sidecarPath: string;
  sidecar: Omit<LatentsSidecar, 'networks'>;
}

/** `latents.npy` -> `latents.networks.json`; any other name gets `.networks.json` appended. */
export function sidecarPathFor(npyPath: string): string {
  return npyPath.endsWith('.npy') ? `${npyPath.slice(0, -'.npy'.length)}.networks.json` : `${npyPath}.networks.json`;
}

/** A refusal that names the option, not a write error. */
class OutputExists extends Error {}

/** Stopped by the signal (Ctrl-C): nothing was written. */
export class LatentsCancelled extends Error {}

/**
 * `tmp` to `final`; without `force` by link + unlink, which fails if `final` appeared meanwhile,
 * where a rename would silently replace it.
 */
async function publish(tmp: string, final: string, force: boolean, flag: string): Promise<void> {
  if (force) return rename(tmp, final);
  try {
    await link(tmp, final);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new OutputExists(`${flag}: ${final} already exists (--force to overwrite it)`);
    throw err;
  }
  await unlink(tmp);
}

function writeError(err: unknown, out: string): Error {
  if (err instanceof OutputExists || err instanceof LatentsCancelled) return err;
  const code = (err as NodeJS.ErrnoException).code;
  if (code === undefined) return err as Error;
  const why = code === 'EACCES' ? 'permission denied' : code === 'ENOSPC' ? 'no space left on the device' : code === 'EROFS' ? 'read-only file system' : (err as Error).message;
  return new Error(`--out ${out}: cannot write: ${why}`, { cause: err });
}

/**
 * prepareOffline + offlineLatents on `config`, streamed into `out` (float32 [frames, 512] z for
 * noise-blend, [frames, numWs, 512] w for projection-file-blend) and its sidecar.
 */
export async function exportLatents({ files, config, out, networkCount, force = false, signal }: ExportOptions): Promise<ExportResult> {
  const npyPath = resolve(out);
  const sidecarPath = sidecarPathFor(npyPath);
  const dir = dirname(npyPath);
  if (!(await stat(dir).catch(() => null))?.isDirectory()) throw new Error(`--out ${out}: cannot write: folder ${dir} does not exist`);
  for (const p of [npyPath, sidecarPath]) if ((await stat(p).catch(() => null))?.isDirectory()) throw new Error(`--out ${out}: cannot write: ${p} is a directory`);
  if (!force) {
    for (const p of [npyPath, sidecarPath]) if ((await stat(p).catch(() => null)) !== null) throw new OutputExists(`--out ${out}: ${p} already exists (--force to overwrite it)`);
  }
  // the heavy modules (decoders, h5wasm) load only when the command runs
  const [{ prepareOffline, offlineLatents }, { createLiveParams }, { reactiveActive }, npy, { LATENT_WIDTH }] = await Promise.all([
    import('../latents/offline.ts'),
    import('../latents/params.ts'),
    import('../latents/reactive.ts'),
    import('../latents/npy.ts'),
    import('../latents/projection/format.ts'),
  ]);
  const params = createLiveParams(config, networkCount);
  // the rich features only move the latents when a reactive gain is on
  const plan = await prepareOffline({ files, config, richFeatures: reactiveActive(config.reactive) });
  try {
    const kind = plan.mode === 'noise-blend' ? 'z' : 'w';
    const shape = kind === 'z' ? [plan.frames, plan.vectorLength] : [plan.frames, plan.numWs, LATENT_WIDTH];
    const meta: Omit<LatentsSidecar, 'networks'> = {
      latents: basename(npyPath),
      kind,
      mode: plan.mode,
      shape,
      dtype: 'float32',
      fps: config.fps,
      frames: plan.frames,
      networkCount,
      audio: files.map((f) => resolve(f)),
    };
    const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
    const tmpNpy = join(dir, `.${basename(npyPath)}.${tag}.tmp`);
    const tmpSidecar = join(dirname(sidecarPath), `.${basename(sidecarPath)}.${tag}.tmp`);
    let writer: NpyFloat32Writer | undefined;
    let sidecarRenamed = false;
    try {
      writer = await npy.NpyFloat32Writer.create(tmpNpy, shape);
      const networks: number[] = [];
      for await (const f of offlineLatents(plan, params)) {
        if (signal?.aborted) throw new LatentsCancelled(`--out ${out}: cancelled, nothing written`);
        await writer.write(kind === 'z' ? f.z! : f.w!);
        networks.push(f.network);
      }
      await writer.close();
      // one key a line, each value (the per-frame list too) on its line
      const entries = Object.entries({ ...meta, networks } satisfies LatentsSidecar);
      await writeFile(tmpSidecar, `{\n${entries.map(([k, v]) => `  ${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(',\n')}\n}\n`, { flag: 'wx' });
      // the sidecar first: a .npy under its own name means the run completed
      await publish(tmpSidecar, sidecarPath, force, `--out ${out}`);
      sidecarRenamed = true;
      await publish(tmpNpy, npyPath, force, `--out ${out}`);
    } catch (err) {
      await writer?.abort();
      await Promise.all([rm(tmpNpy, { force: true }), rm(tmpSidecar, { force: true }), sidecarRenamed ? rm(sidecarPath, { force: true }) : undefined]);
      throw writeError(err, out);
    }
    return { npyPath, sidecarPath, sidecar: meta };
  } finally {
    plan.projection?.reader.close();
  }
}

interface LatentsFlags {
  audio: string[];
  out: string;
  config: string;
  fps?: number;
  mode?: Mode;
  projection?: string;
  networkCount: number;
  force?: boolean;
}

const FLAGS: Partial<Record<keyof LatentsConfig, string>> = { fps: '--fps', mode: '--mode', projectionFile: '--projection' };

/** The config file's `synthesis.latents` with the flags on top, checked again (issues name the flag that set a field). */
export async function latentsConfigFor(base: LatentsConfig, flags: Pick<LatentsFlags, 'fps' | 'mode' | 'projection'>, source: string): Promise<LatentsConfig> {
  // the schema (typebox) loads when the command runs, not for `--help`
  const [{ checkLatentsConfig }, { ConfigError }] = await Promise.all([import('../latents/config.ts'), import('../config/errors.ts')]);
  const config = structuredClone(base);
  const set = new Set<keyof LatentsConfig>();
  if (flags.fps !== undefined) {
    config.fps = flags.fps;
    set.add('fps');
  }
  if (flags.projection !== undefined) {
    if (flags.mode === 'noise-blend') throw new Error('--projection goes with --mode projection-file-blend, not noise-blend');
    config.projectionFile = flags.projection;
    config.mode = 'projection-file-blend';
    set.add('projectionFile');
  }
  if (flags.mode !== undefined) {
    config.mode = flags.mode;
    set.add('mode');
  }
  const issues = checkLatentsConfig(config, (n) => {
    const flag = FLAGS[n];
    return flag === undefined ? `synthesis.latents.${n}` : set.has(n) ? `${flag} (synthesis.latents.${n})` : `synthesis.latents.${n} (or ${flag})`;
  });
  if (issues.length > 0) throw new ConfigError(source, issues, `invalid latents settings (synthesis.latents with the flags), ${issues.length} error${issues.length === 1 ? '' : 's'}:`);
  return config;
}

function collect(v: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), v];
}

function fps(v: string): number {
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x) || x <= 0 || x > 1000) throw new InvalidArgumentError(`--fps must be a number > 0 and <= 1000, got "${v}"`);
  return x;
}

function mode(v: string): Mode {
  if (!MODES.includes(v as Mode)) throw new InvalidArgumentError(`--mode must be one of ${MODES.join(', ')}, got "${v}"`);
  return v as Mode;
}

function networkCount(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 1024) throw new InvalidArgumentError(`--network-count must be an integer in 1..1024, got "${v}"`);
  return n;
}

function nonEmpty(name: string) {
  return (v: string) => {
    if (v === '') throw new InvalidArgumentError(`${name} must not be empty`);
    return v;
  };
}

export function register(program: Command): void {
  program
    .command('latents')
    .description("a track's audio-reactive latents (synthesis.latents of the config) as a float32 .npy, with each frame's network index in a .networks.json sidecar")
    .requiredOption('--audio <file>', 'audio file; repeat to join several in order (same sample rate)', collect)
    .requiredOption('--out <file.npy>', 'output: [frames, 512] z (noise-blend) or [frames, numWs, 512] w (projection-file-blend); the sidecar is <out without .npy>.networks.json')
    .option('-c, --config <file>', 'YAML config file (its synthesis.latents section)', DEFAULT_CONFIG_PATH)
    .option('--fps <n>', 'output frames per second (default: synthesis.latents.fps)', fps)
    .option('--mode <mode>', 'noise-blend | projection-file-blend (default: synthesis.latents.mode)', mode)
    .option('--projection <file.h5>', 'GANce projection file (implies --mode projection-file-blend)', nonEmpty('--projection'))
    .option('--network-count <n>', 'networks the per-frame index chooses among (0..n-1), by smoothed loudness', networkCount, 1)
    .option('--force', 'replace an existing --out file (and its sidecar); without it either is refused before anything starts')
    .action(async (opts: LatentsFlags) => {
      const { loadConfigFile } = await import('../config/load.ts');
      const config = await latentsConfigFor(loadConfigFile(opts.config).synthesis.latents, opts, opts.config);
      // Ctrl-C stops between frames so the temporary files are removed; a second one quits at once
      const abort = new AbortController();
      const onSignal = (sig: NodeJS.Signals) => {
        if (abort.signal.aborted) process.exit(130);
        process.stderr.write(`\n${sig}: cancelling (again to quit at once)\n`);
        abort.abort();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      let r: ExportResult;
      try {
        r = await exportLatents({ files: opts.audio, config, out: opts.out, networkCount: opts.networkCount, force: opts.force === true, signal: abort.signal });
      } catch (err) {
        if (!(err instanceof LatentsCancelled)) throw err;
        // exit 130 as any program stopped by Ctrl-C, and as `gance render` does
        process.stderr.write(`gance: ${err.message}\n`);
        process.exitCode = 130;
        return;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
      const s = r.sidecar;
      process.stdout.write(
        `wrote ${r.npyPath} (float32 [${s.shape.join(', ')}]: ${s.kind} by ${s.mode}, ${s.frames} frames at ${s.fps} fps) and ${r.sidecarPath} (network per frame, 0..${s.networkCount - 1})\n`,
      );
    });
}
