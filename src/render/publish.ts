/**
 * Putting a finished file (or PNG folder) in place without replacing what someone else put there
 * while the render ran. rename(2) replaces a file at the target silently; link(2) fails with
 * EEXIST instead, so a file is linked to its final name and its temporary name unlinked after.
 * A folder is renamed: rename(2) onto a folder that is not empty, or onto a file, fails too (onto
 * an empty one it succeeds, which replaces nothing). `replace` (gance render --force) renames over.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { copyFile, link, lstat, readdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';

/** Codes that mean "something is at the target" from link(2), rename(2) of a folder and copyfile with COPYFILE_EXCL. */
const TAKEN = new Set(['EEXIST', 'ENOTEMPTY', 'ENOTDIR', 'EISDIR']);
/** link(2) refused by the file system itself (FAT and exFAT cards, some network shares): copy without replacing instead */
const NO_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EMLINK']);

const code = (err: unknown) => (err as NodeJS.ErrnoException).code ?? '';

/**
 * Moves `tmp` to `final` (same folder, so the same file system). Resolves false, leaving `tmp`
 * where it is, when something is already at `final`.
 */
export async function place(tmp: string, final: string, opts: { replace: boolean; folder: boolean }): Promise<boolean> {
  if (opts.replace) {
    await rename(tmp, final);
    return true;
  }
  if (opts.folder) {
    try {
      await rename(tmp, final);
      return true;
    } catch (err) {
      if (TAKEN.has(code(err))) return false;
      throw err;
    }
  }
  try {
    await link(tmp, final);
  } catch (err) {
    if (TAKEN.has(code(err))) return false;
    if (!NO_LINKS.has(code(err))) throw err;
    try {
      await copyFile(tmp, final, constants.COPYFILE_EXCL);
    } catch (err2) {
      if (TAKEN.has(code(err2))) return false;
      throw err2;
    }
  }
  await unlink(tmp);
  return true;
}

/** A free name beside `final` for the finished output when `final` was taken: song.mp4 -> song.kept-1a2b3c4d.mp4. */
export function keptName(final: string): string {
  const ext = extname(final);
  const stem = basename(final, ext);
  return join(dirname(final), `${stem}.kept-${randomBytes(4).toString('hex')}${ext}`);
}

/** temporary names this process is writing now (see removeStaleTemps) */
const inUse = new Set<string>();

/**
 * A temporary name beside `final` for this process to write before place(): `.NAME.tmp-PID-XXXXXXXX`.
 * It counts as in use until releaseTemp (removeStaleTemps leaves it alone).
 */
export function tempName(final: string): string {
  const name = join(dirname(final), `.${basename(final)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  inUse.add(name);
  return name;
}

export function releaseTemp(name: string): void {
  inUse.delete(name);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return code(err) === 'EPERM';
  }
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Removes temporary names of `final` (tempName's, and the run config's `.NAME.tmp-PID`) that no
 * running render will place any more: their process is gone (a daemon killed while it muxed
 * leaves one the size of the output in the output folder, and its orphaned ffmpeg may even finish
 * it), or it is this process's pid from an earlier life (a container's daemon is often pid 1
 * every time) and not in use here. A live process's stay: a `gance render` of the same name.
 * Returns what was removed.
 */
export async function removeStaleTemps(final: string): Promise<string[]> {
  const dir = dirname(final);
  const pattern = new RegExp(`^\\.${escape(basename(final))}\\.tmp-(\\d+)(?:-[0-9a-f]+)?$`);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const n of names) {
    const m = pattern.exec(n);
    if (!m) continue;
    const pid = Number(m[1]);
    const path = join(dir, n);
    if (pid === process.pid ? inUse.has(path) : alive(pid)) continue;
    await rm(path, { recursive: true, force: true });
    removed.push(path);
  }
  return removed;
}

/** Thrown by the run config's placement: the caller keeps the output elsewhere and says why. */
export class TakenError extends Error {
  constructor(readonly path: string) {
    super(`${path}: already exists`);
    this.name = 'TakenError';
  }
}

/** placedRecord's file in the render's work folder */
export const PLACING_FILE = 'placing.json';

interface Identity {
  dev: number;
  ino: number;
  // with the inode: a freed one given to a new file at the same name is not taken for it
  size: number;
  mtimeMs: number;
}

/**
 * What a render placed or is placing, kept in its work folder: each final name with the identity
 * (device, inode, size, mtime) of the file linked or renamed there, both of which keep it. A render killed
 * between a placement's steps (or after the last, before its work folder was cleared) left files
 * at its names that were checked free when it began: run again, it tells its own (`own`) from
 * one someone put there, and finishes the placement instead of failing as if it were someone's.
 * A copy (a file system without links) has another inode and is not recognised.
 */
export async function placedRecord(workDir: string, fingerprint: string): Promise<{ own: Set<string>; note(final: string, tmp: string): Promise<void> }> {
  const path = join(workDir, PLACING_FILE);
  let placed: Record<string, Identity> = {};
  try {
    const saved = JSON.parse(await readFile(path, 'utf8')) as { fingerprint?: unknown; placed?: Record<string, Identity> };
    // another render's (the same work folder given to another spec): not this one's files
    if (saved.fingerprint === fingerprint && typeof saved.placed === 'object' && saved.placed !== null) placed = saved.placed;
  } catch {
    placed = {};
  }
  const own = new Set<string>();
  for (const [final, id] of Object.entries(placed)) {
    const s = await lstat(final).catch(() => null);
    if (s !== null && s.dev === id.dev && s.ino === id.ino && s.size === id.size && s.mtimeMs === id.mtimeMs) own.add(final);
  }
  return {
    own,
    /** before `tmp` is placed at `final`: from here a kill leaves it recognisable */
    async note(final, tmp) {
      const s = await lstat(tmp);
      placed = { ...placed, [final]: { dev: s.dev, ino: s.ino, size: s.size, mtimeMs: s.mtimeMs } };
      // a name clearWorkDir knows (segments.ts OWN_TEMPS): a kill before the rename leaves it
      const next = join(workDir, `.${PLACING_FILE}.tmp`);
      await writeFile(next, `${JSON.stringify({ fingerprint, placed }, null, 2)}\n`);
      await rename(next, path);
    },
  };
}
