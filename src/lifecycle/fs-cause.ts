/**
 * What the file system said, in words: node's code alone ("ENOSPC") was all a lock error or a failed
 * folder showed. One table for the lock (file-lock.ts, state-dir.ts) and the render's folders
 * (render/disk.ts, which words a few its own way).
 */
export const FS_CAUSES: Readonly<Record<string, string>> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is used up',
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ENOENT: 'no such file or folder',
  ENOTDIR: 'a file is in the way where a folder should be',
};

/** Why the file system refused, in words with its code ("no space left on the device (ENOSPC)"), else node's message. */
export function fsCause(err: unknown): string {
  const c = (err as NodeJS.ErrnoException | undefined)?.code;
  const words = c === undefined ? undefined : FS_CAUSES[c];
  return words === undefined ? (err as Error).message : `${words} (${c})`;
}
