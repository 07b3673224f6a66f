/**
 * The render's folder (workDir): segments that end at fixed frame multiples, each an independent
 * encode written under a temporary name and renamed once ffmpeg has finished it, so a segment
 * under its own name is complete. A state file holds the fingerprint of what the segments were
 * made from; a run with another fingerprint starts afresh rather than join unrelated frames.
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { PLACING_FILE } from './publish.ts';
import { RenderFailure } from './types.ts';
import { join, resolve } from 'node:path';
import { attemptLock, releaseSync, writeClaim, type Held, type LockFormat } from '../lifecycle/file-lock.ts';
import type { RenderOutput } from './spec.ts';
import { SYNTHESIS_FILE } from './synthesis-record.ts';

export const STATE_FILE = 'render-state.json';
export const LOCK_FILE = 'render.lock';
const SEGMENT = /^segment-(\d{6})\.(mp4|png)$/;
const TEMP = /^\.segment-\d{6}\.(mp4|png)\.tmp/;
/**
 * The temp names the render's own files are written under before a rename (here, synthesis-record.ts,
 * publish.ts): a run killed between the two leaves one, which nothing else removes, and the folder
 * could not be removed after the render that completes it.
 */
const OWN_TEMPS = new Set([STATE_FILE, SYNTHESIS_FILE, PLACING_FILE].map((f) => `.${f}.tmp`));

export interface SegmentPlan {
  frames: number;
  segmentFrames: number;
  format: RenderOutput['format'];
}

export const segmentCount = (p: SegmentPlan) => Math.ceil(p.frames / p.segmentFrames);
export const segmentName = (k: number, format: RenderOutput['format']) => `segment-${String(k).padStart(6, '0')}.${format}`;
export const segmentRange = (p: SegmentPlan, k: number): [number, number] => [k * p.segmentFrames, Math.min(p.frames, (k + 1) * p.segmentFrames)];

interface State {
  version: 1;
  fingerprint: string;
  frames: number;
  segmentFrames: number;
  format: RenderOutput['format'];
}

/**
 * Opens a workDir for a render: leftovers of an interrupted encode are removed, segments of a
 * different render too. Returns how many segments are already complete (from the first on).
 */
export async function openWorkDir(dir: string, plan: SegmentPlan, fingerprint: string): Promise<{ complete: number; discarded: number }> {
  await mkdir(dir, { recursive: true });
  const state: State = { version: 1, fingerprint, frames: plan.frames, segmentFrames: plan.segmentFrames, format: plan.format };
  let previous: State | null = null;
  try {
    previous = JSON.parse(await readFile(join(dir, STATE_FILE), 'utf8')) as State;
  } catch {
    previous = null;
  }
  const same = previous !== null && previous.fingerprint === fingerprint && previous.frames === plan.frames && previous.segmentFrames === plan.segmentFrames && previous.format === plan.format;
  const names = await readdir(dir);
  let discarded = 0;
  for (const name of names) {
    if (TEMP.test(name) || (!same && SEGMENT.test(name))) {
      await rm(join(dir, name), { recursive: true, force: true });
      if (SEGMENT.test(name)) discarded++;
    }
  }
  if (!same) {
    // a name clearWorkDir knows (OWN_TEMPS): a kill before the rename leaves it
    const tmp = join(dir, `.${STATE_FILE}.tmp`);
    await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`);
    await rename(tmp, join(dir, STATE_FILE));
  }
  const have = new Set((await readdir(dir)).filter((n) => SEGMENT.test(n)));
  let complete = 0;
  while (complete < segmentCount(plan) && have.has(segmentName(complete, plan.format))) complete++;
  return { complete, discarded };
}

/**
 * What a workDir holds from an earlier run, read before the audio is analysed again (the analysis
 * decides whether the segments still fit: openWorkDir): the frames of its complete segments from
 * the first on, and the frames of the whole render. null: nothing to resume from.
 */
export async function readCheckpoint(dir: string): Promise<{ framesDone: number; frames: number } | null> {
  let state: State;
  let names: string[];
  try {
    state = JSON.parse(await readFile(join(dir, STATE_FILE), 'utf8')) as State;
    names = await readdir(dir);
  } catch {
    return null;
  }
  if (!Number.isInteger(state.frames) || state.frames < 1 || !Number.isInteger(state.segmentFrames) || state.segmentFrames < 1 || (state.format !== 'mp4' && state.format !== 'png')) return null;
  const plan: SegmentPlan = { frames: state.frames, segmentFrames: state.segmentFrames, format: state.format };
  const have = new Set(names);
  let complete = 0;
  while (complete < segmentCount(plan) && have.has(segmentName(complete, plan.format))) complete++;
  return { framesDone: Math.min(complete * plan.segmentFrames, plan.frames), frames: plan.frames };
}

/** Removes what this module put in a workDir (after a render that completed, or one that cannot resume). */
export async function clearWorkDir(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (SEGMENT.test(name) || TEMP.test(name) || OWN_TEMPS.has(name) || name === STATE_FILE || name === SYNTHESIS_FILE || name === LOCK_FILE || name === 'segments.ffconcat') await rm(join(dir, name), { recursive: true, force: true });
  }
  // last: a kill before here leaves the render's own placed files recognisable (publish.ts placedRecord)
  await rm(join(dir, PLACING_FILE), { force: true });
}

/** work folders this process renders in (a pid in the lock file cannot tell two renders of one daemon apart) */
const held = new Set<string>();

/**
 * render.lock's lines, as older gances write and read them: the pid, then "BOOT_ID START" where
 * /proc tells them (empty elsewhere), then the lock's own id, which older gances ignore. The id
 * makes each lock's content its own: a stale lock is removed under a guard named after it
 * (file-lock.ts), and without /proc two lives of one pid would write the same content.
 */
export const renderLockFormat: LockFormat = {
  write: (h) => `${h.pid}\n${h.boot !== undefined && h.start !== undefined ? `${h.boot} ${h.start}` : ''}\n${h.id}\n`,
  read(text) {
    const [first = '', who = '', id = ''] = text.split('\n').map((l) => l.trim());
    const pid = Number(first);
    if (first === '' || !Number.isInteger(pid)) return undefined;
    // a lock without an identity (an older gance, no /proc) goes by the pid alone
    if (who === '') return { pid, ...(id === '' ? {} : { id }) };
    const [boot, start, ...rest] = who.split(' ');
    // an identity that is not one matches no process: the lock is stale, as older gances judged it
    if (boot === undefined || start === undefined || rest.length > 0) return undefined;
    return { pid, boot, start, ...(id === '' ? {} : { id }) };
  },
};

/**
 * One render at a time in a work folder: a second would delete the first's segment in progress
 * and interleave its own. The lock names the process (its pid, then its boot and start time where
 * known; renderLockFormat), made whole in one step and taken over, when its process is gone
 * (killed, or the machine restarted), by one contender only: file-lock.ts. Returns the release.
 */
export async function lockWorkDir(dir: string): Promise<() => Promise<void>> {
  const key = resolve(dir);
  if (held.has(key)) throw new RenderFailure('bad-input', `work folder ${dir}: another render of this process is using it`);
  // before the first await: two renders of this process starting at once both passed the check
  // otherwise, and each takes a lock naming this process for its own leftover (retakeOwn)
  held.add(key);
  try {
    await mkdir(dir, { recursive: true });
    const claim = await writeClaim(join(dir, LOCK_FILE), renderLockFormat);
    let busy: Held | null;
    try {
      busy = await attemptLock(claim, { retakeOwn: true });
    } finally {
      await rm(claim.tmp, { force: true });
    }
    if (busy !== null) throw new RenderFailure('bad-input', `work folder ${dir}: in use by another render (process ${busy.holder.pid})`);
    return async () => {
      held.delete(key);
      releaseSync(claim);
    };
  } catch (err) {
    held.delete(key);
    throw err;
  }
}
