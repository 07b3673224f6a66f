import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { chmod, link, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { fsCause } from './fs-cause.ts';

/**
 * The project's one way of taking a lock file: daemon.lock (one daemon per state directory),
 * withFileLock (saves of one state file taking turns) and render.lock (one render per work folder)
 * all take theirs here.
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

/**
 * Test seam: awaited before each change this module makes to a lock on disk, so that a test can
 * hold one contender between two of its steps and force an interleaving (file-lock.test.ts).
 */
export const lockTestHooks: { beforeChange?: (op: 'link' | 'unlink', path: string) => Promise<void> } = {};
const beforeChange = async (op: 'link' | 'unlink', path: string) => {
  await lockTestHooks.beforeChange?.(op, path);
};

const code = (err: unknown) => (err as NodeJS.ErrnoException).code;

/** `what` failed, its cause in words; the code kept on the error for callers that judge by it (render/disk.ts) */
function fsError(what: string, err: unknown): Error {
  const e: NodeJS.ErrnoException = new Error(`${what}: ${fsCause(err)}`, { cause: err });
  const c = code(err);
  if (c !== undefined) e.code = c;
  return e;
}

const readOr = (p: string) =>
  readFile(p, 'utf8').catch((err: unknown) => {
    if (code(err) === 'ENOENT') return undefined;
    throw fsError(`cannot read ${p}`, err);
  });

/**
 * How one kind of lock file spells its holder. Locks of one kind are all read and written in that
 * kind's format (their takeover guards too); render.lock keeps the lines older gances read.
 */
export interface LockFormat {
  write(holder: Holder & { id: string }): string;
  /** the holder a lock names; undefined for one that names none (not a lock of this kind), taken over */
  read(text: string): Holder | undefined;
}

/** daemon.lock's and withFileLock's: the holder as one JSON line */
export const jsonLockFormat: LockFormat = {
  write: (holder) => `${JSON.stringify(holder)}\n`,
  read(text) {
    try {
      const holder = JSON.parse(text) as Holder | null;
      return typeof holder === 'object' && holder !== null ? holder : undefined;
    } catch {
      return undefined;
    }
  },
};

/** This process's claim on one lock file, written whole beside it before any attempt. */
export interface LockClaim {
  readonly path: string;
  /** the lock file's content once it is ours */
  readonly text: string;
  readonly id: string;
  readonly tmp: string;
  readonly format: LockFormat;
}

export async function writeClaim(path: string, format: LockFormat = jsonLockFormat): Promise<LockClaim> {
  const id = randomUUID();
  const text = format.write({ pid: process.pid, start: processStart(process.pid), boot: bootId(), id });
  const tmp = `${path}.${id}.tmp`;
  await writeFile(tmp, text);
  // readable by any user who can reach the folder (an operator's check, a root-run daemon's lock
  // read by the service): it holds only a pid. Set on the file linked into place, whatever the umask.
  await chmod(tmp, 0o644);
  return { path, text, id, tmp, format };
}

export interface Held {
  /** the live process holding the lock, or taking it over from a dead one this very moment */
  holder: Holder;
  /** the lock file's content as read */
  found: string;
}

/** how long one attempt waits on another process's takeover of a stale lock before naming that process */
const TAKEOVER_SETTLE_MS = 2000;

/**
 * One attempt at the lock: null once it is this claim's, else the live holder and the lock as read.
 * The lock is made whole in one step (the claim's file linked into place): one created first and
 * written after was caught empty by a process starting at the same instant, read as stale and
 * taken by both. A lock whose process is gone, or that is no lock at all, is taken over; with
 * `retakeOwn`, so is one of this very process (a daemon made anew in one process).
 */
export async function attemptLock(claim: LockClaim, options: { retakeOwn?: boolean } = {}): Promise<Held | null> {
  const held = await attemptAt(claim.path, claim, options.retakeOwn === true);
  if (held === null) await removeLeftovers(claim);
  return held;
}

/** `path`: the claim's lock, or the guard on taking over a stale one (the same claim file linked there) */
async function attemptAt(path: string, claim: LockClaim, retakeOwn: boolean): Promise<Held | null> {
  let settleBy: number | undefined;
  for (;;) {
    await beforeChange('link', path);
    try {
      await link(claim.tmp, path);
      return null;
    } catch (err) {
      if (code(err) !== 'EEXIST') throw fsError(`cannot lock ${path}`, err);
    }
    const found = await readOr(path);
    if (found === undefined) continue; // released in between
    const holder = claim.format.read(found);
    // pid 0 or -1 is no process: kill(pid, 0) would succeed on a whole group and never let the lock go
    const named = holder !== undefined && Number.isInteger(holder.pid) && holder.pid > 0;
    if (named && !(retakeOwn && holder.pid === process.pid) && holderAlive(holder)) return { holder, found };
    const busy = await removeStale(path, found, claim);
    if (busy === undefined) continue;
    // a takeover is a few file operations: wait for it rather than name a process that may lose
    // the lock it freed, but not on one that hangs halfway
    settleBy ??= Date.now() + TAKEOVER_SETTLE_MS;
    if (Date.now() > settleBy) return { holder: busy.holder, found };
    await sleep(1 + Math.random() * 4);
  }
}

/**
 * Removes the stale lock `found` from `path`, unless another process is removing it this moment
 * (that one is returned) or has done so.
 *
 * POSIX has no "unlink this name if it still holds that file". Read, judge stale and unlink let a
 * slower contender remove the lock a faster one had just made over the same stale one; moving it
 * aside, checking and linking it back left a moment with no lock at all (a third came in and the
 * link back failed: two holders) or put back a lock its holder had released meanwhile (held by
 * nobody, waited on by all). So a stale lock is unlinked by one process only: the one whose claim
 * is linked to a guard named after that lock's content, checking under it that the content is
 * still in place. Only a lock's holder or the holder of its guard unlinks it, and a live lock never
 * reads as a stale one (each holds a fresh id), so nothing comes between that check and the
 * unlink. A guard whose process died holding it is stale like any lock, taken over through a guard
 * of its own.
 *
 * Hand-written rather than proper-lockfile: that one judges a lock by an mtime a timer keeps
 * fresh, not by the holder's pid, start and boot that daemon.lock names, and its stale takeover
 * has the same race (moxystudio/node-proper-lockfile#121).
 */
async function removeStale(path: string, found: string, claim: LockClaim): Promise<Held | undefined> {
  const guard = `${path}.${createHash('sha256').update(found).digest('hex').slice(0, 16)}.takeover`;
  const busy = await attemptAt(guard, claim, false);
  if (busy !== null) return busy;
  try {
    if ((await readOr(path)) === found) {
      await beforeChange('unlink', path);
      await rm(path, { force: true });
    }
  } finally {
    await beforeChange('unlink', guard);
    await rm(guard, { force: true });
  }
  return undefined;
}

/**
 * How long a leftover that names no holder (a claim cut short by a crash as it was written) may be
 * there before it counts as stale: withFileLock's wait on one holder before it calls it stuck. A
 * claim is written whole in one write; only a process that hangs takes this long over it.
 */
const STUCK_MS = 30_000;

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Tells the lock's own names beside lock file `path`: a claim (writeClaim), a takeover guard (removeStale, of a guard too) */
function leftoverKinds(path: string): (name: string) => 'claim' | 'guard' | undefined {
  const b = escape(basename(path));
  const claim = new RegExp(`^${b}\\.${UUID}\\.tmp$`);
  const guard = new RegExp(`^${b}(?:\\.[0-9a-f]{16}\\.takeover)+$`);
  return (name) => (claim.test(name) ? 'claim' : guard.test(name) ? 'guard' : undefined);
}

/**
 * Whether a claim or guard (content `text`, changed last at `mtimeMs`) is a dead process's: the
 * process it names is gone, or it names none and is older than STUCK_MS. A live process's is its
 * own to remove, and it does.
 */
function leftoverStale(format: LockFormat, text: string, mtimeMs: number): boolean {
  const holder = format.read(text);
  if (holder !== undefined && Number.isInteger(holder.pid) && holder.pid > 0) return !holderAlive(holder);
  return Date.now() - mtimeMs > STUCK_MS;
}

/**
 * Claims and takeover guards beside the lock that a crashed process left (each is removed by its
 * writer otherwise): nothing reads them, but they stayed for good, and a work folder holding one
 * could not be removed after its render (render/segments.ts). Run holding the lock. A claim's name
 * is its own (a fresh id): nobody links another file there, so a dead one is simply removed; a
 * guard's is shared by every contender for one stale lock, so a dead one is taken over as a stale
 * lock is (removeStale), never unlinked under a contender that took it meanwhile. Best effort:
 * what cannot be read or removed now is left for the next.
 */
async function removeLeftovers(claim: LockClaim): Promise<void> {
  const { claims, guards } = leftovers(claim);
  removeDeadClaims(claims, claim.format);
  for (const path of guards) {
    try {
      const [found, s] = await Promise.all([readOr(path), stat(path)]);
      if (found !== undefined && leftoverStale(claim.format, found, s.mtimeMs)) await removeStale(path, found, claim);
    } catch {
      // gone meanwhile, or not ours to read: the next acquire looks again
    }
  }
}

/** The lock's own names beside it, by kind (this claim's own file left out); none when the folder does not list */
function leftovers(claim: Pick<LockClaim, 'path'> & { tmp?: string }): { claims: string[]; guards: string[] } {
  const dir = dirname(claim.path);
  const kindOf = leftoverKinds(claim.path);
  const out = { claims: [] as string[], guards: [] as string[] };
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names) {
    const kind = kindOf(name);
    const path = join(dir, name);
    if (kind !== undefined && path !== claim.tmp) out[kind === 'claim' ? 'claims' : 'guards'].push(path);
  }
  return out;
}

/** Removes the claims whose process is gone. Synchronous: also run at process exit. Guards wait for an acquire, which has a claim to take them over with. */
function removeDeadClaims(paths: string[], format: LockFormat): void {
  for (const path of paths) {
    try {
      const found = readSyncOr(path);
      if (found !== undefined && leftoverStale(format, found, statSync(path).mtimeMs)) rmSync(path, { force: true });
    } catch {
      // gone meanwhile: nothing to do
    }
  }
}

/** Removes the lock when it is still this claim's (nobody takes a live holder's lock), and claims crashed processes left beside it. Synchronous: also run at process exit. */
export function releaseSync(claim: Pick<LockClaim, 'path' | 'text' | 'format'>): void {
  if (readSyncOr(claim.path) !== claim.text) return;
  removeDeadClaims(leftovers(claim).claims, claim.format);
  rmSync(claim.path, { force: true });
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
  const waitMs = options.waitMs ?? STUCK_MS;
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
    if ((await readOr(path).catch(() => undefined)) === claim.text) {
      removeDeadClaims(leftovers(claim).claims, claim.format);
      await rm(path, { force: true });
    }
  }
}
