import { link, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { bootId, holderAlive, processStart, type Holder } from './state-dir.ts';

export interface FileLockOptions {
  /** how long to wait on one live holder before giving up (a stuck process); default 30 s */
  waitMs?: number;
}

const code = (err: unknown) => (err as NodeJS.ErrnoException).code;
const readOr = (p: string) => readFile(p, 'utf8').catch((err: unknown) => {
  if (code(err) === 'ENOENT') return undefined;
  throw err;
});

/**
 * Runs `fn` holding the lock file `path`, taken in turn by every process (the daemon and the CLI
 * both saving one state file). The lock holds its holder as daemon.lock does (pid, process start,
 * boot id), and one whose process is gone (crash, SIGKILL, reboot) is taken over. It is made
 * whole in one step (a temporary file linked into place): a lock seen half written would read as
 * stale and be taken from a live holder.
 */
export async function withFileLock<T>(path: string, fn: () => Promise<T>, options: FileLockOptions = {}): Promise<T> {
  const waitMs = options.waitMs ?? 30_000;
  const id = randomUUID();
  const mine: Holder = { pid: process.pid, start: processStart(process.pid), boot: bootId(), id };
  const text = `${JSON.stringify(mine)}\n`;
  const tmp = `${path}.${id}.tmp`;
  // the state dir may not be there yet (a first save makes it, as writeFileAtomic does)
  await mkdir(dirname(path), { recursive: true });
  await writeFile(tmp, text, { mode: 0o644 });
  try {
    let seen: string | undefined;
    let since = Date.now();
    for (;;) {
      try {
        await link(tmp, path);
        break;
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
      if (holder === undefined || typeof holder.pid !== 'number' || !holderAlive(holder)) {
        await takeOver(path, found, id);
        continue;
      }
      // the wait is on one holder: a lock passed on from save to save is progress, not a stuck process
      if (found !== seen) [seen, since] = [found, Date.now()];
      else if (Date.now() - since > waitMs) {
        throw new Error(`cannot lock ${path}: held by pid ${holder.pid} for over ${waitMs / 1000} s (if that process is no gance, remove the file)`);
      }
      await sleep(5 + Math.random() * 10);
    }
  } finally {
    await rm(tmp, { force: true });
  }
  try {
    return await fn();
  } finally {
    // nobody takes a live holder's lock, so it is still this one's
    if ((await readOr(path).catch(() => undefined)) === text) await rm(path, { force: true });
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
