/**
 * A failed job's error as the API shows it. The runner's message is for the operator (the store
 * and the log keep it whole): it names files by where the daemon keeps them, its state folder,
 * the job's work folder, the uploads, the roots and the ffmpeg it runs. A client named its files
 * otherwise and has no business with the rest, so each of those paths becomes the client's name
 * (an upload's file name, a name under the media or output root) or, for the daemon's own
 * folders, nothing but the file's name in them.
 */
import { realpathSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import type { Job } from './queue.ts';
import type { RenderSpec } from './spec.ts';

export interface PublicRoots {
  mediaRoot: string;
  outputRoot: string;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A root as given and as the real path the spec's files were resolved to (a root may be a symlink). */
function spellings(root: string): string[] {
  const abs = resolve(root);
  let real = abs;
  try {
    real = realpathSync(abs);
  } catch {
    // not made yet: nothing of the job is under it either
  }
  return [...new Set([abs, real])];
}

/**
 * Whatever absolute path is left (ffmpeg's binary, a network's file, a temporary folder): its last
 * part. An absolute path begins with "/" where no word, dot or URL goes on before it.
 */
const ABSOLUTE = /(?<![\w.:/-])\/(?:[^\s"'():,;/]+\/)*([^\s"'():,;/]+)/g;

export function publicError(message: string, job: Job, roots: PublicRoots): string {
  // files first, the folders they are in after: the longest spelling wins
  const files = new Map<string, string>();
  const uploadDir = job.uploadDir === null ? null : resolve(job.uploadDir);
  for (const a of job.spec.audio) {
    const under = uploadDir !== null && resolve(a).startsWith(`${uploadDir}/`);
    // an upload is stored as NN-name (numbered in order); the client sent it as name
    if (under) files.set(a, basename(a).replace(/^\d+-/, ''));
  }
  const folders: Array<[string, string]> = [];
  folders.push([resolve(job.workDir), 'the work folder']);
  if (uploadDir !== null) folders.push([uploadDir, 'the upload folder']);
  for (const dir of spellings(roots.mediaRoot)) folders.push([dir, 'the media root']);
  for (const dir of spellings(roots.outputRoot)) folders.push([dir, 'the output root']);
  let out = message;
  for (const [path, name] of [...files].sort((x, y) => y[0].length - x[0].length)) out = out.split(path).join(name);
  for (const [dir, word] of folders.sort((x, y) => y[0].length - x[0].length)) {
    if (dir === '/') continue;
    // a file in it by its name under it; the folder itself (followed by no more of a name) in words
    out = out.replace(new RegExp(`${escape(dir)}/`, 'g'), '').replace(new RegExp(`${escape(dir)}(?![\\w.-])`, 'g'), word);
  }
  return out.replace(ABSOLUTE, (_all, last: string) => last);
}

/** An upload is stored as NN-name (numbered in order); the client sent it as name. */
const uploadName = (path: string) => basename(path).replace(/^\d+-/, '');

/**
 * One of the job's files as the client named it: an upload by the name it was sent under, a file
 * under the output or media root by its name there; anything else (a daemon folder) by its last part.
 */
export function publicPath(path: string, job: Pick<Job, 'uploadDir'>, roots: PublicRoots): string {
  const abs = resolve(path);
  if (job.uploadDir !== null && abs.startsWith(`${resolve(job.uploadDir)}/`)) return uploadName(abs);
  // the output root first: it may lie under the media root (or the other way round); the longer wins
  const dirs = [...spellings(roots.outputRoot), ...spellings(roots.mediaRoot)].filter((d) => d !== '/').sort((a, b) => b.length - a.length);
  for (const dir of dirs) if (abs.startsWith(`${dir}/`)) return abs.slice(dir.length + 1);
  return basename(abs);
}

/** The job's spec with each file as the client named it (the store keeps the daemon's paths). */
export function publicSpec(job: Pick<Job, 'spec' | 'uploadDir'>, roots: PublicRoots): RenderSpec {
  const s = job.spec;
  const name = (p: string) => publicPath(p, job, roots);
  const latents = s.latents.projectionFile === undefined ? s.latents : { ...s.latents, projectionFile: name(s.latents.projectionFile) };
  return {
    ...s,
    audio: s.audio.map(name),
    latents,
    output: { ...s.output, path: name(s.output.path), debugPath: s.output.debugPath === null ? null : name(s.output.debugPath) },
  };
}

/**
 * A message in a client's terms where no job is at hand (a live session): files under the roots
 * by their names there, the roots themselves in words, any other absolute path by its last part.
 */
export function publicText(message: string, roots: PublicRoots): string {
  const folders: Array<[string, string]> = [];
  for (const dir of spellings(roots.mediaRoot)) folders.push([dir, 'the media root']);
  for (const dir of spellings(roots.outputRoot)) folders.push([dir, 'the output root']);
  let out = message;
  for (const [dir, word] of folders.sort((x, y) => y[0].length - x[0].length)) {
    if (dir === '/') continue;
    out = out.replace(new RegExp(`${escape(dir)}/`, 'g'), '').replace(new RegExp(`${escape(dir)}(?![\\w.-])`, 'g'), word);
  }
  return out.replace(ABSOLUTE, (_all, last: string) => last);
}
