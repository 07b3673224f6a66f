/**
 * The render job store: one SQLite file in the state directory (WAL, so a reader never blocks the
 * scheduler's writes and a crash loses at most the last uncommitted progress update). It holds
 * every job's spec, state and progress; the scheduler decides what runs, this only records it.
 *
 * States: queued -> running -> done | failed | cancelled, and queued -> cancelled. A job found
 * `running` when the store opens was interrupted (crash, SIGKILL, power loss, or a clean stop
 * that paused it): it stays running and keeps its workDir, so the runner continues after its
 * last finished segment.
 */
import { ConflictError, InsufficientStorageError, NotFoundError } from '../api/errors.ts';
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { RenderSpec } from './spec.ts';
import type { JobSynthesis } from './synthesis-record.ts';
import type { RenderFailureReason, RenderProgress, RenderStage } from './types.ts';

import { FINISHED_STATES, JOB_STATES, type JobState } from './states.ts';

export { FINISHED_STATES, JOB_STATES, type JobState } from './states.ts';

export interface Job {
  id: string;
  state: JobState;
  spec: RenderSpec;
  priority: number;
  stage: RenderStage;
  framesDone: number;
  framesTotal: number | null;
  fps: number | null;
  etaSeconds: number | null;
  /** failure reason code (failed, cancelled) */
  reason: RenderFailureReason | null;
  error: string | null;
  /**
   * the finished file, set only once it is complete and in place; for a render that failed
   * because its output name was taken at the end, the finished file kept under another name
   */
  output: string | null;
  workDir: string;
  /** uploaded audio kept for this job (removed once it is finished) */
  uploadDir: string | null;
  /** folders under the output root made when it was accepted, outermost first (removed if it does not finish, while empty) */
  madeDirs: string[];
  /** times the runner was started for it (more than 1: resumed) */
  attempts: number;
  /** what renders it (running) or rendered it (done); null before its networks loaded */
  synthesis: JobSynthesis | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  updatedAt: number;
}

interface Row {
  seq: number;
  id: string;
  state: JobState;
  spec: string;
  priority: number;
  stage: RenderStage;
  frames_done: number;
  frames_total: number | null;
  fps: number | null;
  eta_seconds: number | null;
  reason: RenderFailureReason | null;
  error: string | null;
  output: string | null;
  work_dir: string;
  upload_dir: string | null;
  made_dirs: string;
  synthesis: string | null;
  attempts: number;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  updated_at: number;
}

/** Each entry takes the schema from version i to i+1; never edit one that has shipped, append. */
const MIGRATIONS: string[] = [
  `CREATE TABLE jobs (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     id TEXT NOT NULL UNIQUE,
     state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed', 'cancelled')),
     spec TEXT NOT NULL,
     priority INTEGER NOT NULL,
     stage TEXT NOT NULL,
     frames_done INTEGER NOT NULL DEFAULT 0,
     frames_total INTEGER,
     fps REAL,
     eta_seconds REAL,
     reason TEXT,
     error TEXT,
     output TEXT,
     work_dir TEXT NOT NULL,
     upload_dir TEXT,
     attempts INTEGER NOT NULL DEFAULT 0,
     created_at INTEGER NOT NULL,
     started_at INTEGER,
     finished_at INTEGER,
     updated_at INTEGER NOT NULL
   );
   CREATE INDEX jobs_pick ON jobs (state, priority DESC, seq);`,
  // a JSON array of paths; jobs stored before made none the daemon knows of
  `ALTER TABLE jobs ADD COLUMN made_dirs TEXT NOT NULL DEFAULT '[]';`,
  // JSON (synthesis-record.ts JobSynthesis); jobs stored before have none
  `ALTER TABLE jobs ADD COLUMN synthesis TEXT;`,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

export interface QueueOptions {
  /** the database file is `renders.sqlite` in here; work folders go under `renders/` unless workRoot says */
  stateDir: string;
  /** where each job's work folder is made (render.workDir) */
  workRoot?: string;
  now?: () => number;
}

export interface NewJob {
  spec: RenderSpec;
  /** set when the API chose the id first (uploads are stored under it) */
  id?: string;
  uploadDir?: string | null;
  /** the output folders its acceptance made (makeOutputFolders), outermost first */
  madeDirs?: readonly string[];
}

export class JobNotFoundError extends NotFoundError {
  constructor(id: string) {
    super(`no render "${id}"`);
  }
}

export class JobFinishedError extends ConflictError {
  constructor(job: Job) {
    super(`render "${job.id}" is already ${job.state}`);
  }
}

/**
 * A write the store refused because of the disk under it: a full stateDir answered POST
 * /v1/renders with a bare 500 ("internal error") while the log said SQLITE_FULL.
 */
export function storageError(err: unknown, file: string, what: string): unknown {
  const code = (err as { code?: unknown })?.code;
  if (typeof code !== 'string') return err;
  const why =
    code === 'SQLITE_FULL' ? 'the disk is full' : code.startsWith('SQLITE_READONLY') ? 'it is read-only' : code.startsWith('SQLITE_IOERR') ? `the disk refused the write (${code})` : undefined;
  return why === undefined ? err : new InsufficientStorageError(`${what}: the render queue (${file}, in stateDir) cannot be written: ${why}`, { cause: err });
}

export function newJobId(): string {
  return randomBytes(6).toString('hex');
}

/** The store's file does not read as a job store (the message says why). */
class CorruptStoreError extends Error {}

const CORRUPT_CODES = new Set(['SQLITE_CORRUPT', 'SQLITE_NOTADB']);

/** Opens, checks and migrates the store in `file`; a file that does not read throws CorruptStoreError. */
function openStore(file: string): Database.Database {
  let db: Database.Database | undefined;
  try {
    db = new Database(file);
    db.pragma('journal_mode = WAL');
    // FULL: a job marked done must survive the power loss that follows
    db.pragma('synchronous = FULL');
    db.pragma('busy_timeout = 5000');
    // a damaged page deep in the file opens fine and fails the first query that reaches it (a 500
    // on GET /v1/renders, a scheduler that cannot start): found here instead, in a file of a few MB
    const check = db.pragma('quick_check', { simple: true });
    if (check !== 'ok') throw new CorruptStoreError(`${file}: damaged (${String(check)})`);
    migrate(db, file);
    return db;
  } catch (err) {
    db?.close();
    if (err instanceof CorruptStoreError) throw err;
    const code = (err as { code?: string }).code ?? '';
    if (CORRUPT_CODES.has(code)) throw new CorruptStoreError(`${file}: ${(err as Error).message}`, { cause: err });
    // the file is named: better-sqlite3's own words ("unable to open database file") do not
    if (err instanceof Error && !err.message.startsWith(file)) err.message = `${file}: ${err.message}`;
    throw err;
  }
}

function migrate(db: Database.Database, file: string): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
  const row = db.prepare('SELECT version FROM schema_version').get() as { version: number } | undefined;
  const from = row?.version ?? 0;
  if (from > MIGRATIONS.length) {
    throw new Error(`${file}: schema version ${from} is newer than this gance knows (${MIGRATIONS.length}); refusing to touch it`);
  }
  const apply = db.transaction(() => {
    for (let v = from; v < MIGRATIONS.length; v++) db.exec(MIGRATIONS[v]!);
    db.prepare('DELETE FROM schema_version').run();
    db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(MIGRATIONS.length);
  });
  apply();
}

export class JobQueue {
  readonly file: string;
  readonly workRoot: string;
  /** the store found damaged at open and moved here (the queue started empty), with why; the daemon logs it */
  readonly setAside: { path: string; reason: string } | null = null;
  private readonly db: Database.Database;
  private readonly now: () => number;

  constructor(opts: QueueOptions) {
    mkdirSync(opts.stateDir, { recursive: true });
    this.file = join(opts.stateDir, 'renders.sqlite');
    this.workRoot = opts.workRoot ?? join(opts.stateDir, 'renders');
    this.now = opts.now ?? Date.now;
    try {
      this.db = openStore(this.file);
    } catch (err) {
      if (!(err instanceof CorruptStoreError)) throw err;
      // A store that does not read (a crash or a full disk mid-write, a bad sector, a truncated
      // copy) would stop every start, and with it the fan control: under systemd's Restart=always a
      // crash loop. It is set aside, kept for whoever wants to look, and the queue starts empty.
      const aside = `${this.file}.bad-${new Date(this.now()).toISOString().replace(/[:.]/g, '-')}`;
      for (const ext of ['', '-wal', '-shm']) {
        try {
          renameSync(this.file + ext, aside + ext);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        }
      }
      this.setAside = { path: aside, reason: err.message };
      this.db = openStore(this.file);
    }
  }

  schemaVersion(): number {
    return (this.db.prepare('SELECT version FROM schema_version').get() as { version: number }).version;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  create(input: NewJob): Job {
    const id = input.id ?? newJobId();
    const t = this.now();
    try {
      this.db
        .prepare(
          `INSERT INTO jobs (id, state, spec, priority, stage, work_dir, upload_dir, made_dirs, created_at, updated_at)
           VALUES (?, 'queued', ?, ?, 'queued', ?, ?, ?, ?, ?)`,
        )
        .run(id, JSON.stringify(input.spec), input.spec.priority, join(this.workRoot, id), input.uploadDir ?? null, JSON.stringify(input.madeDirs ?? []), t, t);
    } catch (err) {
      throw storageError(err, this.file, 'not queued');
    }
    return this.get(id)!;
  }

  get(id: string): Job | undefined {
    const row = this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as Row | undefined;
    return row && toJob(row);
  }

  require(id: string): Job {
    const job = this.get(id);
    if (!job) throw new JobNotFoundError(id);
    return job;
  }

  /** Newest first; `state` filters. */
  list(opts: { state?: JobState; limit?: number } = {}): Job[] {
    const limit = opts.limit ?? 100;
    const rows = (
      opts.state
        ? this.db.prepare('SELECT * FROM jobs WHERE state = ? ORDER BY seq DESC LIMIT ?').all(opts.state, limit)
        : this.db.prepare('SELECT * FROM jobs ORDER BY seq DESC LIMIT ?').all(limit)
    ) as Row[];
    return rows.map(toJob);
  }

  /** Jobs in the order the scheduler takes them: highest priority first, then first come. */
  queued(): Job[] {
    return (this.db.prepare("SELECT * FROM jobs WHERE state = 'queued' ORDER BY priority DESC, seq ASC").all() as Row[]).map(toJob);
  }

  /** Jobs left running: interrupted, to be resumed (oldest start first). */
  running(): Job[] {
    return (this.db.prepare("SELECT * FROM jobs WHERE state = 'running' ORDER BY started_at ASC, seq ASC").all() as Row[]).map(toJob);
  }

  /** Output paths of queued and running jobs (two renders must not write one file). */
  /** The files queued and running jobs will write: outputs and debug videos. */
  activeOutputs(): Set<string> {
    const rows = this.db
      .prepare("SELECT json_extract(spec, '$.output.path') AS path, json_extract(spec, '$.output.debugPath') AS debug FROM jobs WHERE state IN ('queued', 'running')")
      .all() as Array<{ path: string; debug: string | null }>;
    return new Set(rows.flatMap((r) => (r.debug ? [r.path, r.debug] : [r.path])));
  }

  /** Upload folders of queued and running jobs (the others' were removed when they ended, or should have been). */
  activeUploads(): Set<string> {
    const rows = this.db.prepare("SELECT upload_dir AS dir FROM jobs WHERE state IN ('queued', 'running') AND upload_dir IS NOT NULL").all() as Array<{ dir: string }>;
    return new Set(rows.map((r) => r.dir));
  }

  /** Jobs waiting to run (the index jobs_pick answers it without reading the specs). */
  queuedCount(): number {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM jobs WHERE state = 'queued'").get() as { n: number }).n;
  }

  counts(): Record<JobState, number> {
    const out = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>;
    for (const r of this.db.prepare('SELECT state, COUNT(*) AS n FROM jobs GROUP BY state').all() as Array<{ state: JobState; n: number }>) out[r.state] = r.n;
    return out;
  }

  /** Takes the next queued job and marks it running, in one transaction (two schedulers cannot both get it). */
  claimNext(): Job | undefined {
    return this.db.transaction(() => {
      const row = this.db.prepare("SELECT id FROM jobs WHERE state = 'queued' ORDER BY priority DESC, seq ASC LIMIT 1").get() as { id: string } | undefined;
      if (!row) return undefined;
      const t = this.now();
      this.db.prepare("UPDATE jobs SET state = 'running', started_at = ?, attempts = attempts + 1, updated_at = ? WHERE id = ?").run(t, t, row.id);
      return this.get(row.id);
    })();
  }

  /** A running job the runner starts again (resume after a restart). */
  markResumed(id: string): Job {
    const t = this.now();
    this.db.prepare("UPDATE jobs SET attempts = attempts + 1, updated_at = ? WHERE id = ? AND state = 'running'").run(t, id);
    return this.require(id);
  }

  /** Progress of a running job; ignored once it has finished (a cancel may overtake the runner). */
  progress(id: string, p: RenderProgress): boolean {
    const r = this.db
      .prepare("UPDATE jobs SET stage = ?, frames_done = ?, frames_total = ?, fps = ?, eta_seconds = ?, updated_at = ? WHERE id = ? AND state = 'running'")
      .run(p.stage, p.framesDone, p.framesTotal, p.fps, p.etaSeconds, this.now(), id);
    return r.changes === 1;
  }

  /**
   * The runner finished it: the output is complete and in place. Only a running job can become
   * done (a job cancelled meanwhile stays cancelled).
   */
  complete(id: string, result: { output: string; frames: number; synthesis?: JobSynthesis }): boolean {
    const t = this.now();
    const r = this.db
      .prepare(
        `UPDATE jobs SET state = 'done', stage = 'done', output = ?, frames_done = ?, frames_total = ?, eta_seconds = 0,
         reason = NULL, error = NULL, synthesis = COALESCE(?, synthesis), finished_at = ?, updated_at = ? WHERE id = ? AND state = 'running'`,
      )
      .run(result.output, result.frames, result.frames, result.synthesis === undefined ? null : JSON.stringify(result.synthesis), t, t, id);
    return r.changes === 1;
  }

  /** What renders a running job, once its networks are loaded (false: it is not running). */
  setSynthesis(id: string, synthesis: JobSynthesis): boolean {
    const r = this.db.prepare("UPDATE jobs SET synthesis = ?, updated_at = ? WHERE id = ? AND state = 'running'").run(JSON.stringify(synthesis), this.now(), id);
    return r.changes === 1;
  }

  /** `kept`: the finished output kept under another name (its own was taken), downloadable still */
  fail(id: string, reason: RenderFailureReason, error: string, kept: string | null = null): boolean {
    const t = this.now();
    const r = this.db
      .prepare("UPDATE jobs SET state = 'failed', reason = ?, error = ?, output = ?, eta_seconds = NULL, finished_at = ?, updated_at = ? WHERE id = ? AND state = 'running'")
      .run(reason, error, kept, t, t, id);
    return r.changes === 1;
  }

  /** Queued or running -> cancelled; a finished job throws JobFinishedError, an unknown one JobNotFoundError. */
  cancel(id: string): { job: Job; wasRunning: boolean } {
    try {
      return this.cancelStored(id);
    } catch (err) {
      throw storageError(err, this.file, 'not cancelled');
    }
  }

  private cancelStored(id: string): { job: Job; wasRunning: boolean } {
    return this.db.transaction(() => {
      const job = this.require(id);
      if (FINISHED_STATES.includes(job.state)) throw new JobFinishedError(job);
      const t = this.now();
      this.db
        .prepare("UPDATE jobs SET state = 'cancelled', reason = 'cancelled', error = 'cancelled by request', eta_seconds = NULL, finished_at = ?, updated_at = ? WHERE id = ?")
        .run(t, t, id);
      return { job: this.require(id), wasRunning: job.state === 'running' };
    })();
  }
}

function toJob(r: Row): Job {
  return {
    id: r.id,
    state: r.state,
    spec: JSON.parse(r.spec) as RenderSpec,
    priority: r.priority,
    stage: r.stage,
    framesDone: r.frames_done,
    framesTotal: r.frames_total,
    fps: r.fps,
    etaSeconds: r.eta_seconds,
    reason: r.reason,
    error: r.error,
    output: r.output,
    workDir: r.work_dir,
    uploadDir: r.upload_dir,
    madeDirs: JSON.parse(r.made_dirs) as string[],
    synthesis: r.synthesis === null ? null : (JSON.parse(r.synthesis) as JobSynthesis),
    attempts: r.attempts,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    updatedAt: r.updated_at,
  };
}
