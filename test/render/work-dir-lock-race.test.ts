/**
 * The work folder's lock against another process taking it at the worst moment. This process's
 * lockWorkDir is held at one step by a wrapper of node:fs/promises (so the interleaving does not
 * depend on the implementation having test hooks), while a real process takes the lock.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LOCK_FILE, lockWorkDir } from '../../src/render/segments.ts';
import { tempDir } from './job-helpers.ts';

/** where this process's next lockWorkDir stops: after reading the lock, or after creating it */
const hold = vi.hoisted(() => ({
  at: undefined as 'after-read' | 'after-create' | undefined,
  judged: false,
  reached: () => {},
  gate: Promise.resolve(),
}));

vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  const isLock = (p: unknown) => typeof p === 'string' && basename(p) === 'render.lock';
  const stop = async () => {
    hold.at = undefined;
    hold.reached();
    await hold.gate;
  };
  // 'after-read': the first change to anything once the lock was read (and judged)
  const change =
    <A extends unknown[], R>(f: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      if (hold.at === 'after-read' && hold.judged) await stop();
      return f(...args);
    };
  return {
    ...fs,
    readFile: (async (...args: Parameters<typeof fs.readFile>) => {
      const text = await fs.readFile(...args);
      if (hold.at === 'after-read' && isLock(args[0])) hold.judged = true;
      return text;
    }) as typeof fs.readFile,
    rm: change(fs.rm),
    unlink: change(fs.unlink),
    rename: change(fs.rename),
    link: async (from: string, to: string) => {
      if (hold.at === 'after-read' && hold.judged) await stop();
      await fs.link(from, to);
      if (hold.at === 'after-create' && isLock(to)) await stop();
    },
    // as writeFile does it: the file is created (open) and written in two steps
    writeFile: (async (...args: Parameters<typeof fs.writeFile>) => {
      const [path, data, options] = args;
      if (hold.at === 'after-read' && hold.judged) await stop();
      const flag = typeof options === 'object' && options !== null ? options.flag : undefined;
      if (hold.at !== 'after-create' || !isLock(path) || flag !== 'wx') return fs.writeFile(...args);
      const file = await fs.open(path as string, 'wx');
      try {
        await stop();
        await file.writeFile(data as string);
      } finally {
        await file.close();
      }
    }) as typeof fs.writeFile,
  };
});

/** arms the hold; resolves `reached` when this process's lockWorkDir stops there */
function holdAt(at: 'after-read' | 'after-create') {
  let open!: () => void;
  const reached = new Promise<void>((resolve) => {
    Object.assign(hold, { at, judged: false, reached: resolve, gate: new Promise<void>((go) => (open = go)) });
  });
  return { reached, open };
}

const children: ChildProcess[] = [];
afterEach(() => {
  Object.assign(hold, { at: undefined, judged: false });
  for (const c of children.splice(0)) c.kill();
});

/** another process taking the lock of `dir`: what it said, and its release (stdin closed) */
function contender(dir: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'work-dir-lock-contender.ts'), dir], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  const said = createInterface({ input: child.stdout! })[Symbol.asyncIterator]().next().then((r) => r.value as string);
  return { pid: child.pid!, said, release: () => (child.stdin!.end(), once(child, 'exit')) };
}

const outcome = (p: Promise<() => Promise<void>>) => p.then((release) => ({ release, err: undefined }), (err: Error) => ({ release: undefined, err }));

describe('work folder lock, another process at the worst moment', () => {
  it('two that judged one stale lock at once: one gets in, the other is refused naming it', { timeout: 30_000 }, async () => {
    const dir = tempDir();
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    writeFileSync(join(dir, LOCK_FILE), `${dead}\n`);
    const h = holdAt('after-read');
    const mine = outcome(lockWorkDir(dir));
    // this one has read the dead process's lock and is about to act on it; the other takes it now
    await h.reached;
    const other = contender(dir);
    expect(await other.said).toBe('in');
    h.open();
    const { release, err } = await mine;
    await release?.();
    expect(err?.message).toBe(`work folder ${dir}: in use by another render (process ${other.pid})`);
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8').split('\n')[0]).toBe(String(other.pid));
    await other.release();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('one that starts while another is taking the lock never finds it empty: it is refused naming the other', { timeout: 30_000 }, async () => {
    const dir = tempDir();
    const h = holdAt('after-create');
    const mine = outcome(lockWorkDir(dir));
    // render.lock is there, this one not yet through taking it
    await h.reached;
    const other = contender(dir);
    const said = await other.said;
    h.open();
    const { release, err } = await mine;
    expect(said).toBe(`refused work folder ${dir}: in use by another render (process ${process.pid})`);
    expect(err).toBeUndefined();
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8').split('\n')[0]).toBe(String(process.pid));
    await release!();
    expect(readdirSync(dir)).toEqual([]);
  });
});
