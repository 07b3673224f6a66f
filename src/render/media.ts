/**
 * Paths an API request names: audio and projection files under `render.mediaRoot`, outputs under
 * `render.outputRoot`. A request never reads or writes outside them: `..` is refused outright
 * (400), a path that lands outside the root, directly or through a symlink, is forbidden (403),
 * and a file that is not there is unprocessable (422). Errors name the field.
 */
import { ClientError } from '../api/errors.ts';
import { mkdirSync, realpathSync, rmdirSync, statSync } from 'node:fs';
import { lstat, realpath, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, normalize, relative, resolve, sep } from 'node:path';

export class RequestPathError extends ClientError {
  override readonly name = 'RequestPathError';
  constructor(
    statusCode: 400 | 403 | 409 | 422,
    readonly field: string,
    message: string,
  ) {
    super(statusCode, `${field}: ${message}`);
  }
}

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

function checkShape(path: string, field: string): void {
  if (path.includes('\0')) throw new RequestPathError(400, field, 'contains a NUL byte');
  if (path.split(/[\\/]/).includes('..')) throw new RequestPathError(400, field, `"${path}": ".." is not allowed in paths`);
}

async function realRoot(root: string, what: string, field: string): Promise<string> {
  try {
    return await realpath(root);
  } catch {
    // where it is, is the operator's to know (the log, `gance config check`), not a client's
    throw new RequestPathError(422, field, `the daemon's ${what} does not exist`);
  }
}

/**
 * A file under the media root, as its real path. Relative paths are taken from the root. `fifo`
 * also lets a named pipe through (a live session reads its audio as a stream).
 */
export async function resolveMediaFile(root: string, path: string, field: string, opts: { fifo?: boolean } = {}): Promise<string> {
  checkShape(path, field);
  const rootReal = await realRoot(root, 'render.mediaRoot', field);
  const lexical = isAbsolute(path) ? resolve(path) : resolve(rootReal, path);
  if (!inside(resolve(root), lexical) && !inside(rootReal, lexical)) throw new RequestPathError(403, field, `"${path}" is outside the media root`);
  let real: string;
  try {
    real = await realpath(lexical);
  } catch {
    throw new RequestPathError(422, field, `"${path}" does not exist under the media root`);
  }
  if (!inside(rootReal, real)) throw new RequestPathError(403, field, `"${path}" leads outside the media root (symlink)`);
  const st = await stat(real);
  if (!st.isFile() && !(opts.fifo && st.isFIFO())) throw new RequestPathError(422, field, `"${path}" is not a file`);
  return real;
}

/**
 * Longest file name (bytes) an output may have: a render writes beside it under longer names of
 * its own (`.NAME.tmp-PID-XXXXXXXX`, `NAME.kept-XXXXXXXX.mp4`), and most file systems stop at 255.
 */
export const OUTPUT_NAME_MAX_BYTES = 200;

/** Longest folder name most file systems take (NAME_MAX): a longer one is refused before anything is made. */
const FOLDER_NAME_MAX_BYTES = 255;

/**
 * Where an output named `name` goes under the output root. Refuses names that climb out, absolute
 * names, a folder in it that leads out through a symlink or is a file, and a name whose file is
 * already there (it belongs to someone). Nothing is made here, the output root itself included: a
 * request refused after this check must leave nothing behind, so the folders it needs are made
 * by makeOutputFolders once the request is accepted.
 */
export async function resolveOutputPath(root: string, name: string, field: string): Promise<string> {
  checkShape(name, field);
  if (isAbsolute(name)) throw new RequestPathError(400, field, `"${name}" must be a name under the output root, not an absolute path`);
  // an output root not made yet is made with the first accepted output's folders
  const rootReal = await realOrFuture(root);
  const target = resolve(rootReal, name);
  if (target === rootReal) throw new RequestPathError(400, field, 'names the output root itself');
  const file = basename(target);
  const bytes = Buffer.byteLength(file);
  if (bytes > OUTPUT_NAME_MAX_BYTES) throw new RequestPathError(400, field, `file name "${file.slice(0, 40)}..." is ${bytes} bytes; at most ${OUTPUT_NAME_MAX_BYTES} (the render writes longer names of its own beside it)`);
  let parent = rootReal;
  const parts = relative(rootReal, dirname(target)).split(sep).filter((p) => p !== '');
  for (const [k, part] of parts.entries()) {
    const next = join(parent, part);
    const st = await lstat(next).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return null;
      if (err.code === 'ENAMETOOLONG') throw new RequestPathError(400, field, `"${name}": a folder name in it is too long for the file system`);
      throw new RequestPathError(422, field, `"${name}": its folder cannot be checked under the output root (${err.code ?? err.message})`);
    });
    if (st === null) {
      // the rest is to be made (makeOutputFolders): nothing there can exist yet
      const rest = parts.slice(k);
      if (rest.some((p) => Buffer.byteLength(p) > FOLDER_NAME_MAX_BYTES)) throw new RequestPathError(400, field, `"${name}": a folder name in it is too long for the file system`);
      return join(parent, ...rest, file);
    }
    parent = await checkedFolder(next, rootReal, name, field);
  }
  const out = join(parent, file);
  if (await stat(out).then(() => true, () => false)) throw new RequestPathError(409, field, `"${name}" already exists under the output root`);
  return out;
}

/** Where `path` is or would be once made: the real path of its deepest existing folder, the rest appended. */
async function realOrFuture(path: string): Promise<string> {
  const tail: string[] = [];
  for (let at = resolve(path); ; at = dirname(at)) {
    const real = await realpath(at).catch(() => null);
    if (real !== null) return join(real, ...tail);
    if (dirname(at) === at) return resolve(path);
    tail.unshift(basename(at));
  }
}

/** `path`, an existing entry under the root, as the real folder it is; refused when it leads out or is not a folder. */
async function checkedFolder(path: string, rootReal: string, name: string, field: string): Promise<string> {
  let real: string;
  try {
    real = await realpath(path);
  } catch {
    // a symlink whose far end is not there: where it leads is not the client's to learn
    throw new RequestPathError(403, field, `"${name}" leads outside the output root (symlink)`);
  }
  if (!inside(rootReal, real)) throw new RequestPathError(403, field, `"${name}" leads outside the output root (symlink)`);
  if (!(await stat(real)).isDirectory()) throw new RequestPathError(409, field, `"${name}": ${relative(rootReal, path)} is a file under the output root, not a folder`);
  return real;
}

/** whose a claimed output is, for refuseClaimed: a render's, a live recording's */
export const RENDER_CLAIM = { is: 'the output of a render that is queued or running', under: 'an output of a render that is queued or running' };
/** one of several files a render writes (a debug video, a run config): "an output" either way */
export const RENDER_CLAIM_ANY = { ...RENDER_CLAIM, is: RENDER_CLAIM.under };
export const LIVE_CLAIM = { is: 'recorded by a live session that is running', under: 'recorded by a live session that is running' };

/**
 * 409 when `path` (resolveOutputPath's) is one of the `claimed` outputs, or lies under one:
 * `song.mp4/x.mp4` while a queued render will write song.mp4 made song.mp4 a folder at once, and
 * that render failed. `owner` says whose it is: `"NAME" is ${owner.is}`, `lies under X, ${owner.under}`.
 */
export function refuseClaimed(path: string, name: string, claimed: ReadonlySet<string>, field: string, owner: { is: string; under: string }): void {
  if (claimed.has(path)) throw new RequestPathError(409, field, `"${name}" is ${owner.is}`);
  for (let up = '..', at = dirname(path); at !== dirname(at); up = join(up, '..'), at = dirname(at)) {
    // the client's own name for it: as many folders up from what they sent
    if (claimed.has(at)) throw new RequestPathError(409, field, `"${name}" lies under ${normalize(join(name, up))}, ${owner.under}`);
  }
}

/** An accepted output: its path (resolveOutputPath's), the field that named it and the client's name for it. */
export interface OutputFolder {
  path: string;
  field: string;
  name: string;
}

/**
 * Makes the folders of accepted outputs (`resolveOutputPath`'s paths, each with the field that
 * named it), one at a time, each checked to be inside the root first: a symlink put under the
 * root meanwhile that leads out gets nothing made at its far end. Synchronous on purpose: with no
 * await between this, the caller's last checks and its taking the request, no other request can
 * come between them; and when one fails, the folders this call made (and only those: still empty,
 * nobody else could have used them yet) are removed again before the refusal. Returns the
 * folders it made, outermost first, for a caller whose start fails later to undo the same way.
 */
export function makeOutputFolders(root: string, outputs: readonly OutputFolder[]): string[] {
  const made: string[] = [];
  try {
    if (outputs.length === 0) return made;
    let first: string | undefined;
    try {
      first = mkdirSync(root, { recursive: true });
    } catch (err) {
      throw new RequestPathError(422, outputs[0]!.field, `the daemon's render.outputRoot cannot be made (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    // the folders that made, outermost first (undone like the others); mkdir names the first one
    // as the root was given, relative ones relative
    if (first !== undefined) {
      const top = resolve(first);
      const chain: string[] = [];
      for (let d = resolve(root); d.startsWith(top); d = dirname(d)) chain.unshift(d);
      made.push(...chain);
    }
    for (const o of outputs) {
      const rootReal = realpathSync(root);
      let parent = rootReal;
      for (const part of relative(rootReal, dirname(o.path)).split(sep).filter((p) => p !== '')) {
        const next = join(parent, part);
        try {
          mkdirSync(next);
          made.push(next);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code ?? '';
          if (code === 'ENAMETOOLONG') throw new RequestPathError(400, o.field, `"${o.name}": a folder name in it is too long for the file system`);
          if (code !== 'EEXIST') throw new RequestPathError(422, o.field, `"${o.name}": its folder cannot be made under the output root (${code || (err as Error).message})`);
        }
        let real: string;
        try {
          real = realpathSync(next);
        } catch {
          throw new RequestPathError(403, o.field, `"${o.name}" leads outside the output root (symlink)`);
        }
        if (!inside(rootReal, real)) throw new RequestPathError(403, o.field, `"${o.name}" leads outside the output root (symlink)`);
        if (!statSync(real).isDirectory()) throw new RequestPathError(409, o.field, `"${o.name}": ${relative(rootReal, next)} is a file under the output root, not a folder`);
        parent = real;
      }
    }
    return made;
  } catch (err) {
    for (const dir of made.reverse()) {
      try {
        rmdirSync(dir);
      } catch {
        // not empty after all: then it is not only this request's to remove
      }
    }
    throw err;
  }
}
