/**
 * Disk space: an upper bound of bytes per frame before the render starts, and measured sizes while
 * it runs. A render that will not fit fails at once as 'no-space' instead of filling the disk.
 */
import { stat, statfs } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { EncodeSettings } from './encode-args.ts';
import { FS_CAUSES } from '../lifecycle/fs-cause.ts';
import { RenderFailure } from './types.ts';

/**
 * Bytes per frame no encode of these settings should exceed: PNG at worst stores the raw pixels
 * (plus filter bytes and zlib's framing); x264 at crf 0 needs about 12 bits a pixel for 4:2:0 noise,
 * half as many every 6 crf steps.
 */
export function frameBytesBound(e: Pick<EncodeSettings, 'format' | 'outWidth' | 'outHeight' | 'crf' | 'pixelFormat'>): number {
  const px = e.outWidth * e.outHeight;
  if (e.format === 'png') return Math.ceil(px * 3 * 1.01) + e.outHeight + 1024;
  const chroma = e.pixelFormat === 'yuv422p' ? 16 / 12 : 1;
  const bits = Math.max(0.5, 12 * 2 ** (-e.crf / 6)) * chroma;
  return Math.ceil((px * bits) / 8) + 1024;
}

export const MB = 1024 * 1024;
const mb = (b: number) => `${(b / MB).toFixed(1)} MB`;

/** Free bytes for an unprivileged writer, and the device (to tell whether two folders share one). */
export async function freeSpace(dir: string): Promise<{ free: number; dev: number }> {
  const [s, st] = await Promise.all([statfs(dir), stat(dir)]);
  return { free: s.bavail * s.bsize, dev: st.dev };
}

export interface SpaceNeed {
  dir: string;
  bytes: number;
  what: string;
}

/** Each folder's needs (summed where folders share a file system) against its free space. */
export async function checkSpace(needs: SpaceNeed[]): Promise<void> {
  const byDev = new Map<number, { free: number; dir: string; bytes: number; what: string[] }>();
  for (const n of needs) {
    const { free, dev } = await freeSpace(n.dir).catch((err: unknown) => {
      // the output's folder removed while the render ran: the render cannot be put there, not a fault of its own
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && n.what === 'output') throw new RenderFailure('bad-input', `output folder ${n.dir}: is no longer there (removed while the render ran)`, { cause: err });
      throw err;
    });
    const e = byDev.get(dev) ?? { free, dir: n.dir, bytes: 0, what: [] };
    e.bytes += n.bytes;
    e.what.push(`${n.what} ~${mb(n.bytes)}`);
    byDev.set(dev, e);
  }
  for (const e of byDev.values()) {
    if (e.bytes > e.free) throw new RenderFailure('no-space', `not enough disk space in ${e.dir}: the render needs about ${mb(e.bytes)} (${e.what.join(', ')}), ${mb(e.free)} is free`);
  }
}

/** ENOSPC from our own writes, as the render's failure. */
export function asNoSpace(err: unknown, what: string): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return new RenderFailure('no-space', `${what}: no space left on the device`, { cause: err });
  return err;
}

/** What the disk said, in words, for the errors a folder that cannot be made or written gives. */
const FOLDER_CAUSES: Record<string, string> = {
  ...FS_CAUSES,
  EACCES: "permission denied (the daemon's user may not write there)",
  EPERM: "permission denied (the daemon's user may not write there)",
  ENOENT: 'a folder above it is missing',
  EEXIST: 'a file is in the way where a folder should be',
};

/**
 * The render's work folder (render.workDir, else stateDir/renders) that cannot be made or written,
 * as a storage failure naming it, the folder the disk refused and why. It was `internal` with
 * node's words alone, which the API shortens to "EACCES: permission denied, mkdir 'renders'".
 */
export function asWorkFolderFailure(err: unknown, workDir: string): unknown {
  const e = err as NodeJS.ErrnoException | undefined;
  const cause = e?.code === undefined ? undefined : FOLDER_CAUSES[e.code];
  if (cause === undefined) return err;
  // node names the folder it was asked for, not the one refused: that is the nearest one there
  let there = resolve(typeof e!.path === 'string' ? e!.path : workDir);
  while (!existsSync(there) && dirname(there) !== there) there = dirname(there);
  const at = e!.code !== 'ENOENT' && there !== resolve(workDir) ? ` at ${there}` : '';
  return new RenderFailure('no-space', `cannot make or write ${workDir} (work folders go in render.workDir, or stateDir/renders when it is unset): ${cause}${at}`, { cause: err });
}
