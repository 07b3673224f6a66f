/**
 * The checks a render can make before any worker starts or any frame is analysed: the spec, its
 * networks, the encoder, every audio file readable as audio (ffprobe), the track they make not
 * silent, and the output (and debug) paths writable. `gance render` runs them before it starts the
 * pool, so a bad input is one line and nothing else; the runner runs them again (they are cheap:
 * the silence check reads only up to the first sound) for callers that did not.
 */
import { constants } from 'node:fs';
import { access, readdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { probeAudio } from '../audio/decode.ts';
import { AudioError } from '../audio/errors.ts';
import { checkSilence, type AnalysisFrames } from '../audio/silence.ts';
import type { LatentsConfig } from '../latents/config.ts';
import type { NetworkCatalogue } from '../synthesis/networks/catalogue.ts';
import { ffmpegVersion } from './ffmpeg.ts';
import { resolveRender, type ResolvedRender } from './resolve.ts';
import { RenderFailure } from './types.ts';

const bad = (message: string) => new RenderFailure('bad-input', message);

async function checkFolder(path: string, what: string): Promise<void> {
  const dir = dirname(path);
  if (!(await stat(dir).catch(() => null))?.isDirectory()) throw bad(`${what} ${path}: folder ${dir} does not exist`);
  try {
    await access(dir, constants.W_OK | constants.X_OK);
  } catch {
    throw bad(`${what} ${path}: folder ${dir} is not writable`);
  }
}

/**
 * What the messages call the output and the debug video: the spec's fields for the daemon, the
 * options (--out, --debug) for `gance render`, where "output" named nothing the user typed.
 */
export interface OutputNames {
  out: string;
  debug: string;
}

export const SPEC_NAMES: OutputNames = { out: 'output', debug: 'output.debugPath' };

/** The output can be written: its folder is there and writable, and nothing is in the way. */
export async function checkOutput(out: string, format: 'mp4' | 'png', what = SPEC_NAMES.out): Promise<void> {
  await checkFolder(out, what);
  const there = await stat(out).catch(() => null);
  if (!there) return;
  if (format === 'mp4' && there.isDirectory()) throw bad(`${what} ${out}: is a folder`);
  if (format === 'png' && (!there.isDirectory() || (await readdir(out)).length > 0)) throw bad(`${what} ${out}: already exists (PNG output needs a new or empty folder)`);
}

/** The debug video's file: its folder writable, not a folder itself. */
export async function checkDebugOutput(path: string, what = SPEC_NAMES.debug): Promise<void> {
  await checkFolder(path, what);
  if ((await stat(path).catch(() => null))?.isDirectory()) throw bad(`${what} ${path}: is a folder`);
}

/**
 * Every audio file opens as audio (ffprobe) and the joined track is not silent as the analysis
 * judges it (src/audio/silence.ts checkSilence, the whole track: admission may have read only its
 * start); decoding problems past the header show in the analysis.
 */
export async function checkAudio(files: readonly string[], frames: AnalysisFrames, ffmpeg = 'ffmpeg'): Promise<void> {
  try {
    const probed = [];
    for (const f of files) probed.push({ file: f, sampleRate: (await probeAudio(f)).sampleRate });
    const { why } = await checkSilence(probed, { ...frames, ffmpegPath: ffmpeg });
    if (why !== null) throw bad(`audio is silent: ${files.join(' + ')} ${why}`);
  } catch (err) {
    if (err instanceof AudioError) throw bad(err.message);
    throw err;
  }
}

export interface Preflight {
  resolved: ResolvedRender;
  ffmpegLine: string;
}

/** Everything checkable without the workers or the analysis, in the order a user fixes them. */
export async function preflight(rawSpec: unknown, catalogue: NetworkCatalogue, latents: LatentsConfig, ffmpeg = 'ffmpeg', names: OutputNames = SPEC_NAMES): Promise<Preflight> {
  const resolved = resolveRender(rawSpec, catalogue, latents);
  const out = resolve(resolved.spec.output.path);
  await checkOutput(out, resolved.spec.output.format, names.out);
  if (resolved.spec.output.debugPath !== null) await checkDebugOutput(resolve(resolved.spec.output.debugPath), names.debug);
  const ffmpegLine = await ffmpegVersion(ffmpeg);
  await checkAudio(resolved.spec.audio, { fps: resolved.latents.fps, vectorLength: resolved.latents.vectorLength }, ffmpeg);
  return { resolved, ffmpegLine };
}
