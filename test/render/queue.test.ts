/** The job store on real SQLite files: ordering, state changes, cancel, and what survives a reopen. */
import Database from 'better-sqlite3';
import { closeSync, existsSync, openSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { JobFinishedError, JobNotFoundError, JobQueue, SCHEMA_VERSION } from '../../src/render/queue.ts';
import { spec, tempDir } from './job-helpers.ts';

const open: JobQueue[] = [];
function queue(stateDir = tempDir(), now?: () => number): JobQueue {
  const q = new JobQueue({ stateDir, ...(now ? { now } : {}) });
  open.push(q);
  return q;
}
afterEach(() => {
  for (const q of open.splice(0)) q.close();
});

describe('render job queue', () => {
  it('hands out queued jobs by priority (higher first), then first come first served', () => {
    const q = queue();
    const a = q.create({ spec: spec({ priority: 0 }) });
    const b = q.create({ spec: spec({ priority: 5 }) });
    const c = q.create({ spec: spec({ priority: 0 }) });
    const d = q.create({ spec: spec({ priority: -3 }) });
    const e = q.create({ spec: spec({ priority: 5 }) });
    expect(q.queued().map((j) => j.id)).toEqual([b.id, e.id, a.id, c.id, d.id]);
    const order: string[] = [];
    for (let j = q.claimNext(); j; j = q.claimNext()) {
      expect(j.state).toBe('running');
      expect(j.attempts).toBe(1);
      order.push(j.id);
    }
    expect(order).toEqual([b.id, e.id, a.id, c.id, d.id]);
    expect(q.counts()).toMatchObject({ queued: 0, running: 5 });
  });

  it('records progress, then done with the output; a finished job takes no more progress', () => {
    let t = 1000;
    const q = queue(tempDir(), () => t);
    const job = q.create({ spec: spec() });
    expect(job).toMatchObject({ state: 'queued', stage: 'queued', framesDone: 0, framesTotal: null, createdAt: 1000, output: null });
    expect(job.workDir).toBe(join(q.workRoot, job.id));
    t = 2000;
    q.claimNext();
    expect(q.progress(job.id, { stage: 'rendering', framesDone: 10, framesTotal: 40, fps: 5, etaSeconds: 6 })).toBe(true);
    expect(q.get(job.id)).toMatchObject({ state: 'running', stage: 'rendering', framesDone: 10, framesTotal: 40, fps: 5, etaSeconds: 6, startedAt: 2000 });
    t = 3000;
    expect(q.complete(job.id, { output: '/out/a.mp4', frames: 40 })).toBe(true);
    expect(q.get(job.id)).toMatchObject({ state: 'done', stage: 'done', framesDone: 40, framesTotal: 40, output: '/out/a.mp4', finishedAt: 3000 });
    expect(q.progress(job.id, { stage: 'rendering', framesDone: 1, framesTotal: 40, fps: 1, etaSeconds: 1 })).toBe(false);
    expect(q.fail(job.id, 'internal', 'late')).toBe(false);
    expect(q.get(job.id)!.state).toBe('done');
  });

  it('cancels queued and running jobs; a finished one is a conflict, an unknown one not found', () => {
    const q = queue();
    const first = q.create({ spec: spec() });
    const runningJob = q.create({ spec: spec() });
    const queuedJob = q.create({ spec: spec() });
    q.claimNext();
    q.claimNext();
    expect(q.cancel(first.id)).toMatchObject({ wasRunning: true, job: { state: 'cancelled', reason: 'cancelled' } });
    expect(q.cancel(queuedJob.id)).toMatchObject({ wasRunning: false, job: { state: 'cancelled' } });
    expect(q.claimNext()).toBeUndefined();
    // a cancel overtaking the runner: its late success does not turn the job into done
    expect(q.cancel(runningJob.id).wasRunning).toBe(true);
    expect(q.complete(runningJob.id, { output: '/x.mp4', frames: 1 })).toBe(false);
    expect(q.get(runningJob.id)).toMatchObject({ state: 'cancelled', output: null });
    expect(() => q.cancel(runningJob.id)).toThrow(JobFinishedError);
    expect(() => q.cancel('nope')).toThrow(JobNotFoundError);
    const failed = q.create({ spec: spec() });
    q.claimNext();
    q.fail(failed.id, 'encoder', 'ffmpeg died');
    expect(q.get(failed.id)).toMatchObject({ state: 'failed', reason: 'encoder', error: 'ffmpeg died' });
    expect(() => q.cancel(failed.id)).toThrow(/already failed/);
    const waiting = q.create({ spec: spec({ path: '/out/waiting.mp4' }) });
    const claimed = q.create({ spec: spec({ path: '/out/claimed.mp4' }) });
    q.cancel(waiting.id);
    q.create({ spec: spec({ path: '/out/queued.mp4' }) });
    expect(q.claimNext()!.id).toBe(claimed.id);
    expect(q.activeOutputs()).toEqual(new Set(['/out/claimed.mp4', '/out/queued.mp4']));
  });

  it('keeps everything across a reopen: queued order, running jobs with their workDir and progress', () => {
    const dir = tempDir();
    const q1 = new JobQueue({ stateDir: dir });
    const a = q1.create({ spec: spec({ priority: 1 }) });
    const b = q1.create({ spec: spec({ priority: 2 }) });
    const c = q1.create({ spec: spec({ priority: 1 }) });
    const running = q1.claimNext()!;
    expect(running.id).toBe(b.id);
    q1.progress(b.id, { stage: 'rendering', framesDone: 7, framesTotal: 20, fps: 3, etaSeconds: 4 });
    // no close: the process dies with the database open (WAL not checkpointed)
    const q2 = queue(dir);
    expect(q2.running()).toEqual([expect.objectContaining({ id: b.id, state: 'running', framesDone: 7, workDir: running.workDir, attempts: 1 })]);
    expect(q2.markResumed(b.id).attempts).toBe(2);
    expect(q2.queued().map((j) => j.id)).toEqual([a.id, c.id]);
    expect(q2.get(a.id)!.spec).toEqual(a.spec);
    expect(q2.schemaVersion()).toBe(SCHEMA_VERSION);
    q1.close();
  });

  it('makes work folders under render.workDir when one is given', () => {
    const root = tempDir();
    const q = new JobQueue({ stateDir: tempDir(), workRoot: root });
    open.push(q);
    const job = q.create({ spec: spec() });
    expect(job.workDir).toBe(join(root, job.id));
  });

  it('lists newest first, filtered by state and bounded', () => {
    const q = queue();
    const ids = Array.from({ length: 5 }, () => q.create({ spec: spec() }).id);
    q.claimNext();
    expect(q.list().map((j) => j.id)).toEqual([...ids].reverse());
    expect(q.list({ limit: 2 }).map((j) => j.id)).toEqual([ids[4], ids[3]]);
    expect(q.list({ state: 'running' }).map((j) => j.id)).toEqual([ids[0]]);
    expect(q.list({ state: 'done' })).toEqual([]);
  });

  it('migrates a version 1 store: its jobs made no output folders the daemon knows of; new ones keep theirs', () => {
    const dir = tempDir();
    const q1 = queue(dir);
    const old = q1.create({ spec: spec() });
    q1.close();
    // the store as version 1 left it
    const db = new Database(join(dir, 'renders.sqlite'));
    db.exec('ALTER TABLE jobs DROP COLUMN made_dirs');
    db.exec('ALTER TABLE jobs DROP COLUMN synthesis');
    db.prepare('UPDATE schema_version SET version = 1').run();
    db.close();
    const q2 = queue(dir);
    expect(q2.schemaVersion()).toBe(SCHEMA_VERSION);
    expect(q2.get(old.id)!.madeDirs).toEqual([]);
    // nor a record of what rendered them
    expect(q2.get(old.id)!.synthesis).toBeNull();
    expect(q2.create({ spec: spec(), madeDirs: ['/out/a', '/out/a/b'] }).madeDirs).toEqual(['/out/a', '/out/a/b']);
  });

  it('uses WAL and refuses a database written by a newer schema', () => {
    const dir = tempDir();
    const q = queue(dir);
    q.close();
    const db = new Database(join(dir, 'renders.sqlite'));
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.prepare('UPDATE schema_version SET version = ?').run(SCHEMA_VERSION + 1);
    db.close();
    expect(() => new JobQueue({ stateDir: dir })).toThrow(/newer than this gance knows/);
  });

  describe('a store damaged between runs is set aside and the queue starts empty (a refusal stopped the daemon, fans included, at every restart)', () => {
    /** a store of many jobs over several pages, closed (its WAL checkpointed into the file) */
    function filledStore(): { dir: string; file: string; size: number } {
      const dir = tempDir();
      const q = new JobQueue({ stateDir: dir });
      for (let k = 0; k < 200; k++) q.create({ spec: spec({ path: `/out/song-${k}.mp4` }) });
      q.close();
      const file = join(dir, 'renders.sqlite');
      return { dir, file, size: statSync(file).size };
    }
    const damages: Array<[string, (file: string, size: number) => void, RegExp]> = [
      ['truncated', (file, size) => truncateSync(file, Math.floor(size / 3)), /malformed|damaged/],
      ['its header overwritten', (file) => writeFileSync(file, Buffer.from('garbage!'.repeat(4)), { flag: 'r+' }), /not a database/],
      [
        'a page deep inside overwritten (opens, fails the first query that reaches it)',
        (file) => {
          const fd = openSync(file, 'r+');
          writeSync(fd, Buffer.alloc(3000, 0xff), 0, 3000, 4096 * 6 + 100);
          closeSync(fd);
        },
        /damaged/,
      ],
    ];
    for (const [what, damage, reason] of damages) {
      it(what, () => {
        const { dir, file, size } = filledStore();
        damage(file, size);
        const q = queue(dir, () => Date.parse('2026-12-03T12:00:00.000Z'));
        expect(q.setAside?.path).toBe(`${file}.bad-2026-12-03T12-00-00-000Z`);
        expect(q.setAside?.reason).toMatch(reason);
        expect(q.setAside?.reason).toContain(file);
        expect(existsSync(q.setAside!.path)).toBe(true);
        // the new store works
        expect(q.counts()).toEqual({ queued: 0, running: 0, done: 0, failed: 0, cancelled: 0 });
        const job = q.create({ spec: spec({ path: '/out/after.mp4' }) });
        expect(q.claimNext()?.id).toBe(job.id);
      });
    }

    it('a sound store is not set aside', () => {
      const { dir } = filledStore();
      const q = queue(dir);
      expect(q.setAside).toBeNull();
      expect(q.counts().queued).toBe(200);
    });
  });
});
