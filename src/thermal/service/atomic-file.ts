import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

/** per path (resolved), the write in progress in this process */
const inProgress = new Map<string, Promise<void>>();

/**
 * Writes `body` to `path` so that a reader sees the old file or the whole new one, never part of
 * it: a temp file beside it, flushed, renamed over. A failed write (a full disk) leaves no temp
 * file behind and throws. Writes to one path take turns within the process: the temp name is
 * the process's own (pid), and two writes at once through it mixed their bodies and the later
 * rename failed (ENOENT).
 */
export function writeFileAtomic(path: string, body: string): Promise<void> {
  const key = resolve(path);
  const write = () => writeNow(path, body);
  const next = (inProgress.get(key) ?? Promise.resolve()).then(write, write);
  inProgress.set(key, next);
  const done = () => {
    if (inProgress.get(key) === next) inProgress.delete(key);
  };
  next.then(done, done);
  return next;
}

async function writeNow(path: string, body: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    const fh = await open(tmp, 'w', 0o644);
    try {
      await fh.writeFile(body);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}
