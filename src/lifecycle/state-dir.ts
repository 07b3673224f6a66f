import { accessSync, constants, mkdirSync, statSync } from 'node:fs';

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
