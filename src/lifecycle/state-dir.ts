import { accessSync, chmodSync, constants, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';

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

export interface Holder {
  pid: number;
  /** the process's start time in clock ticks since boot (/proc/PID/stat, field 22): a reused pid has another */
  start?: string;
  /** /proc/sys/kernel/random/boot_id: a lock from before a reboot names no process at all */
  boot?: string;
  /** this lock among others of the same process (a daemon made again in one process) */
  id?: string;
}

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

const readOr = (p: string): string | undefined => {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return undefined;
  }
};

/** Start time of a process (Linux), undefined where /proc does not say (another OS, a hidden process). */
export function processStart(pid: number): string | undefined {
  const stat = readOr(`/proc/${pid}/stat`);
  // the command name (field 2) may hold spaces and parentheses: count from the last ')'
  return stat?.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

export const bootId = () => readOr('/proc/sys/kernel/random/boot_id')?.trim();

/** whether the process that wrote a lock is still there (false: a crash, SIGKILL or reboot left the lock) */
export function holderAlive(h: Holder): boolean {
  const boot = bootId();
  if (h.boot !== undefined && boot !== undefined && h.boot !== boot) return false;
  try {
    process.kill(h.pid, 0);
  } catch (err) {
    // EPERM: a process of another user (the service's, seen from an operator's shell) is there
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  const start = processStart(h.pid);
  return h.start === undefined || start === undefined || start === h.start;
}

/**
 * One daemon per state directory. Two on the same one (a second started by hand beside the
 * service, on another port) each rewrote the tunings, learned rigs and render queue from their own
 * memory: the first's saved tuning was gone at its next start. Taken right after ensureStateDir,
 * before anything reads or writes there; a lock whose process is gone (crash, SIGKILL, reboot) is
 * taken over. The same process may take it again (a daemon made anew in one process, as tests do).
 */
export function lockStateDir(dir: string): StateDirLock {
  const path = join(dir, LOCK_FILE);
  const mine: Holder = { pid: process.pid, start: processStart(process.pid), boot: bootId(), id: randomUUID() };
  const text = `${JSON.stringify(mine)}\n`;
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(path, text, { flag: 'wx' });
      // readable by any user who can reach the folder (an operator's check, a root-run daemon's lock read by the service); it holds only a pid
      chmodSync(path, 0o644);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 2) throw new Error(`stateDir: cannot lock ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const found = readOr(path);
    if (found === undefined) {
      if (!existsSync(path)) continue; // released in between
      throw new Error(`stateDir: cannot read ${path} (another daemon's lock?): remove it if no gance daemon uses ${dir}`);
    }
    let holder: Holder | undefined;
    try {
      holder = JSON.parse(found) as Holder;
    } catch {
      holder = undefined; // cut short by a crash while it was written: nobody holds it
    }
    if (holder !== undefined && typeof holder.pid === 'number' && holder.pid !== process.pid && holderAlive(holder)) {
      throw new Error(`stateDir: ${dir} is in use by another gance daemon (pid ${holder.pid}); stop it first, or give this one a stateDir of its own (no such daemon running: remove ${path})`);
    }
    // stale, or this process's own: replace it, unless it changed since it was read (another start took it)
    if (readOr(path) !== found) continue;
    rmSync(path, { force: true });
  }
  const release = () => {
    if (!held.delete(release)) return;
    if (readOr(path) === text) rmSync(path, { force: true });
  };
  held.add(release);
  return { path, release };
}

