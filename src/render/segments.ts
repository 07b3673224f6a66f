/**
 * The render's folder (workDir): segments that end at fixed frame multiples, each an independent
 * encode written under a temporary name and renamed once ffmpeg has finished it, so a segment
 * under its own name is complete. A state file holds the fingerprint of what the segments were
 * made from; a run with another fingerprint starts afresh rather than join unrelated frames.
 */
import { readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { PLACING_FILE } from './publish.ts';
import { RenderFailure } from './types.ts';
import { join } from 'node:path';
import type { RenderOutput } from './spec.ts';
import { SYNTHESIS_FILE } from './synthesis-record.ts';

export const STATE_FILE = 'render-state.json';
export const LOCK_FILE = 'render.lock';
const SEGMENT = /^segment-(\d{6})\.(mp4|png)$/;
const TEMP = /^\.segment-\d{6}\.(mp4|png)\.tmp/;

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
    if (SEGMENT.test(name) || TEMP.test(name) || name === STATE_FILE || name === SYNTHESIS_FILE || name === LOCK_FILE || name === 'segments.ffconcat' || name === `.${PLACING_FILE}.tmp`) await rm(join(dir, name), { recursive: true, force: true });
  }
  // last: a kill before here leaves the render's own placed files recognisable (publish.ts placedRecord)
  await rm(join(dir, PLACING_FILE), { force: true });
}

/** work folders this process renders in (a pid in the lock file cannot tell two renders of one daemon apart) */
const held = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

let bootId: string | null | undefined;

/**
 * Which process `pid` is, beyond its number: the boot and its start time (Linux /proc; null
 * elsewhere). After a power loss the pid in a lock names whatever process has it in the new boot,
 * often a live one (the daemon starts at about the same point of every boot), and the resumed
 * render failed as "in use by another render"; within a boot a pid is reused after a kill too.
 */
function processIdentity(pid: number): string | null {
  try {
    bootId ??= readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the fields after the command name (which may hold spaces and parentheses): state is field 3, starttime 22
    const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    return start === undefined ? null : `${bootId} ${start}`;
  } catch {
    bootId ??= null;
    return null;
  }
}

/**
 * One render at a time in a work folder: a second would delete the first's segment in progress
 * and interleave its own. The lock names the process (its pid, then its identity where known);
 * one left by a process that is gone (killed, or the machine restarted) is taken over. Returns
 * the release.
 */
export async function lockWorkDir(dir: string): Promise<() => Promise<void>> {
  await mkdir(dir, { recursive: true });
  const lock = join(dir, LOCK_FILE);
  if (held.has(dir)) throw new RenderFailure('bad-input', `work folder ${dir}: another render of this process is using it`);
  for (let attempt = 0; ; attempt++) {
    try {
      const me = processIdentity(process.pid);
      await writeFile(lock, `${process.pid}\n${me === null ? '' : `${me}\n`}`, { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw err;
      const [first, who] = (await readFile(lock, 'utf8').catch(() => '')).split('\n').map((l) => l.trim());
      const pid = Number(first);
      // a lock without an identity (an older gance, no /proc) goes by the pid alone
      const same = (): boolean => !who || processIdentity(pid) === who;
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid) && same()) throw new RenderFailure('bad-input', `work folder ${dir}: in use by another render (process ${pid})`);
      await rm(lock, { force: true });
    }
  }
  held.add(dir);
  return async () => {
    held.delete(dir);
    await rm(lock, { force: true });
  };
}
