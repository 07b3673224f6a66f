import { accessSync, constants, mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { attemptLock, releaseSync, writeClaim, type Holder } from './file-lock.ts';
import { fsCause } from './fs-cause.ts';

/**
 * The daemon's state directory made and checked before anything starts: the tunings, what the
 * zones learned, fan figures and the render queue live there, and a path that cannot hold them
 * failed later and vaguely (the render queue's "EEXIST: file already exists, mkdir" or SQLite's
 * "unable to open database file", while the subsystems were built). Throws one line naming
 * stateDir, the path and why.
 */
export function ensureStateDir(dir: string): void {
  const fail = (why: string): never => {
    throw new Error(`stateDir: cannot use ${dir}: ${why}`);
  };
  try {
    mkdirSync(dir, { recursive: true });
    if (!statSync(dir).isDirectory()) fail('is a file, not a directory');
    accessSync(dir, constants.R_OK | constants.W_OK | constants.X_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === undefined) throw err;
    if (code === 'EEXIST') fail('is a file, not a directory');
    if (code === 'ENOTDIR') fail('a part of the path is a file, not a directory');
    if (code === 'EACCES' || code === 'EPERM') fail('permission denied (the daemon user must be able to write there)');
    if (code === 'EROFS') fail('read-only file system');
    fail(code);
  }
}

export const LOCK_FILE = 'daemon.lock';


export interface StateDirLock {
  readonly path: string;
  /** removes the lock file when it is still this process's; idempotent */
  release(): void;
}

/** every way out, crashes included, ends in process exit: one listener for every lock held */
const held = new Set<() => void>();
process.on('exit', () => {
  for (const release of [...held]) release();
});

/**
 * One daemon per state directory. Two on the same one (a second started by hand beside the
 * service, on another port) each rewrote the tunings, learned rigs and render queue from their own
 * memory: the first's saved tuning was gone at its next start. Taken right after ensureStateDir,
 * before anything reads or writes there; a lock whose process is gone (crash, SIGKILL, reboot) is
 * taken over. The same process may take it again (a daemon made anew in one process, as tests do).
 */
export async function lockStateDir(dir: string): Promise<StateDirLock> {
  const path = join(dir, LOCK_FILE);
  let live: Holder | undefined;
  const claim = await writeClaim(path).catch((err: unknown) => {
    throw new Error(`stateDir: cannot lock ${path}: ${fsCause(err)}`, { cause: err });
  });
  try {
    live = (await attemptLock(claim, { retakeOwn: true }))?.holder;
  } catch (err) {
    throw new Error(`stateDir: ${(err as Error).message}`);
  } finally {
    rmSync(claim.tmp, { force: true });
  }
  if (live !== undefined) {
    throw new Error(`stateDir: ${dir} is in use by another gance daemon (pid ${live.pid}); stop it first, or give this one a stateDir of its own (no such daemon running: remove ${path})`);
  }
  const release = () => {
    if (held.delete(release)) releaseSync(claim);
  };
  held.add(release);
  return { path, release };
}
