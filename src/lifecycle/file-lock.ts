import { readFileSync, rmSync } from 'node:fs';
import { chmod, link, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * The project's one way of taking a lock file: daemon.lock (one daemon per state directory) and
 * withFileLock (saves of one state file taking turns) both take theirs here.
 */

export interface Holder {
  pid: number;
  /** the process's start time in clock ticks since boot (/proc/PID/stat, field 22): a reused pid has another */
  start?: string;
  /** /proc/sys/kernel/random/boot_id: a lock from before a reboot names no process at all */
  boot?: string;
  /** this lock among others of the same process (a daemon made again in one process) */
  id?: string;
}

const readSyncOr = (p: string): string | undefined => {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return undefined;
  }
};

/** Start time of a process (Linux), undefined where /proc does not say (another OS, a hidden process). */
export function processStart(pid: number): string | undefined {
  const stat = readSyncOr(`/proc/${pid}/stat`);
  // the command name (field 2) may hold spaces and parentheses: count from the last ')'
  return stat?.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

export const bootId = () => readSyncOr('/proc/sys/kernel/random/boot_id')?.trim();

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

const code = (err: unknown) => (err as NodeJS.ErrnoException).code;
const readOr = (p: string) =>
  readFile(p, 'utf8').catch((err: unknown) => {
    if (code(err) === 'ENOENT') return undefined;
    throw new Error(`cannot read ${p}: ${code(err) ?? (err as Error).message}`);
  });

/** This process's claim on one lock file, written whole beside it before any attempt. */
export interface LockClaim {
  readonly path: string;
  /** the lock file's content once it is ours */
  readonly text: string;
  readonly id: string;
  readonly tmp: string;
}

export async function writeClaim(path: string): Promise<LockClaim> {
  const id = randomUUID();
  const text = `${JSON.stringify({ pid: process.pid, start: processStart(process.pid), boot: bootId(), id } satisfies Holder)}\n`;
  const tmp = `${path}.${id}.tmp`;
  await writeFile(tmp, text);
  // readable by any user who can reach the folder (an operator's check, a root-run daemon's lock
  // read by the service): it holds only a pid. Set on the file linked into place, whatever the umask.
  await chmod(tmp, 0o644);
  return { path, text, id, tmp };
}

/**
 * One attempt at the lock: null once it is this claim's, else the live holder and the lock as read.
 * The lock is made whole in one step (the claim's file linked into place): one created first and
 * written after was caught empty by a process starting at the same instant, read as stale and
 * taken by both. A lock whose process is gone, or that is no lock at all, is taken over; with
 * `retakeOwn`, so is one of this very process (a daemon made anew in one process).
 */
export async function attemptLock(claim: LockClaim, options: { retakeOwn?: boolean } = {}): Promise<{ holder: Holder; found: string } | null> {
  const { path } = claim;
  for (;;) {
    try {
      await link(claim.tmp, path);
      return null;
    } catch (err) {
      if (code(err) !== 'EEXIST') throw new Error(`cannot lock ${path}: ${code(err) ?? (err as Error).message}`);
    }
    const found = await readOr(path);
    if (found === undefined) continue; // released in between
    let holder: Holder | undefined;
    try {
      holder = JSON.parse(found) as Holder;
    } catch {
      holder = undefined;
    }
    if (holder !== undefined && typeof holder.pid === 'number' && !(options.retakeOwn && holder.pid === process.pid) && holderAlive(holder)) return { holder, found };
    await takeOver(path, found, claim.id);
  }
}

/** Removes the lock when it is still this claim's (nobody takes a live holder's lock). Synchronous: also run at process exit. */
export function releaseSync(claim: Pick<LockClaim, 'path' | 'text'>): void {
  if (readSyncOr(claim.path) === claim.text) rmSync(claim.path, { force: true });
}

export interface FileLockOptions {
  /** how long to wait on one live holder before giving up (a stuck process); default 30 s */
  waitMs?: number;
}

/**
 * Runs `fn` holding the lock file `path`, taken in turn by every process (the daemon and the CLI
 * both saving one state file). The lock holds its holder as daemon.lock does (pid, process start,
 * boot id), and one whose process is gone (crash, SIGKILL, reboot) is taken over.
 */
export async function withFileLock<T>(path: string, fn: () => Promise<T>, options: FileLockOptions = {}): Promise<T> {
  const waitMs = options.waitMs ?? 30_000;
  // the state dir may not be there yet (a first save makes it, as writeFileAtomic does)
  await mkdir(dirname(path), { recursive: true });
  const claim = await writeClaim(path);
  try {
    let seen: string | undefined;
    let since = Date.now();
    for (;;) {
      const held = await attemptLock(claim);
      if (held === null) break;
      // the wait is on one holder: a lock passed on from save to save is progress, not a stuck process
      if (held.found !== seen) [seen, since] = [held.found, Date.now()];
      else if (Date.now() - since > waitMs) {
        throw new Error(`cannot lock ${path}: held by pid ${held.holder.pid} for over ${waitMs / 1000} s (if that process is no gance, remove the file)`);
      }
      await sleep(5 + Math.random() * 10);
    }
  } finally {
    await rm(claim.tmp, { force: true });
  }
  try {
    return await fn();
  } finally {
    if ((await readOr(path).catch(() => undefined)) === claim.text) await rm(path, { force: true });
  }
}

/**
 * Removes the stale lock `found`. Moved aside first and checked: another process may have taken
 * it over and made its own lock between the read and here; that one goes back into place.
 */
async function takeOver(path: string, found: string, id: string): Promise<void> {
  const aside = `${path}.${id}.stale`;
  try {
    await rename(path, aside);
  } catch (err) {
    if (code(err) === 'ENOENT') return;
    throw err;
  }
  if ((await readOr(aside)) !== found) await link(aside, path).catch(() => undefined);
  await rm(aside, { force: true });
}
