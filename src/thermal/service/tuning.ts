/**
 * Run-time tuning: the zone settings changed through the API, kept in the state directory so a
 * restart keeps them. The file holds only what was changed; it is applied over the config file.
 */
import { readFile, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Type, type TSchema } from '@sinclair/typebox';
import { TypeGuard } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { Logger } from 'pino';
import { formatSchemaErrors } from '../../config/errors.ts';
import { LIMITS, ZoneConfig } from '../config.ts';
import type { ZonePatch } from '../control/index.ts';
import { writeFileAtomic } from './atomic-file.ts';

/** Fields of a zone that identify it rather than tune it. */
const FIXED = new Set(['id', 'gpus', 'fans']);

/** A schema with every `default` removed: in a patch, an absent key means "leave it". */
export function withoutDefaults<T extends TSchema>(schema: T): T {
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') {
      const out: Record<string | symbol, unknown> = {};
      for (const k of Reflect.ownKeys(v)) if (k !== 'default') out[k] = walk((v as Record<string | symbol, unknown>)[k]);
      return out;
    }
    return v;
  };
  return walk(schema) as T;
}

function tuningSchema(): TSchema {
  const props: Record<string, TSchema> = {};
  for (const [k, v] of Object.entries(ZoneConfig.properties as Record<string, TSchema>)) {
    if (FIXED.has(k)) continue;
    // nested sections (pid, feedForward, stall) change key by key
    props[k] = Type.Optional(TypeGuard.IsObject(v) ? Type.Partial(v) : v);
  }
  return withoutDefaults(
    Type.Object(props, {
      additionalProperties: false,
      minProperties: 1,
      description: 'zone settings to change; absent keys keep their value, nested sections merge key by key',
    }),
  );
}

/** Every tunable zone key, optional; the same schema validates API bodies and the state file. */
export const ZoneTuning = tuningSchema();
export type ZoneTuning = ZonePatch;
const checkTuning = TypeCompiler.Compile(ZoneTuning);
/** a zone id as the config schema allows it: a key that is not one cannot name a zone */
const ZONE_ID = new RegExp(`^[A-Za-z0-9_.-]{1,${LIMITS.id}}$`);

/** Schema problems of a tuning, one line each (`pid.setpoint: must be a finite number, got -Infinity`); empty: valid. */
export function tuningSchemaIssues(t: unknown): string[] {
  return checkTuning.Check(t) ? [] : formatSchemaErrors(checkTuning.Errors(t));
}

/** Merge b into a: later wins, nested sections key by key. */
export function mergeTuning(a: ZoneTuning, b: ZoneTuning): ZoneTuning {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && prev && typeof prev === 'object' && !Array.isArray(prev) ? { ...prev, ...v } : v;
  }
  return out as ZoneTuning;
}

/** The tunable part of a zone config (what a reset goes back to). */
export function tunablesOf(zone: ZoneConfig): ZoneTuning {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(zone)) if (!FIXED.has(k)) out[k] = structuredClone(v);
  return out as ZoneTuning;
}

export interface TuningFile {
  version: 1;
  zones: Record<string, ZoneTuning>;
}

export const TUNING_FILE = 'thermal-tuning.json';

/** A state file bigger than this is not ours (a tuning for 16 zones is a few kB). */
export const MAX_TUNING_FILE_BYTES = 1 << 20;

/** Problems with one saved zone entry, one line each (`pid.kp: must be >= 0`); empty: usable. */
export type EntryCheck = (zone: string, tuning: ZoneTuning) => string[];

export class TuningStore {
  readonly path: string;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly dir: string,
    private readonly log: Logger,
  ) {
    this.path = join(dir, TUNING_FILE);
  }

  /**
   * The saved tuning per zone. A missing file is no tuning. A file that cannot be read as a whole
   * (not JSON, wrong shape, too big) is set aside (renamed with a .bad suffix) and the config
   * file's values apply. An entry that breaks the schema or `check` (the zone rules) is set
   * aside alone: it goes to a .bad file, a warning names it, and the other zones keep theirs.
   */
  async load(check: EntryCheck = () => []): Promise<Record<string, ZoneTuning>> {
    let text: string;
    try {
      const { size } = await stat(this.path);
      if (size > MAX_TUNING_FILE_BYTES) return await this.setAsideWhole(`${size} bytes, more than the ${MAX_TUNING_FILE_BYTES} a tuning file can be`);
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
      this.log.error({ err, path: this.path }, `cannot read ${this.path}; using the config file's thermal settings`);
      return {};
    }
    let doc: Partial<TuningFile>;
    try {
      doc = JSON.parse(text) as Partial<TuningFile>;
    } catch (err) {
      return this.setAsideWhole(`not JSON: ${(err as Error).message}`);
    }
    if (!doc || typeof doc !== 'object' || doc.version !== 1 || !doc.zones || typeof doc.zones !== 'object' || Array.isArray(doc.zones)) {
      return this.setAsideWhole('expected {"version": 1, "zones": {...}}');
    }
    const zones: Record<string, ZoneTuning> = {};
    const bad: Record<string, { tuning: unknown; problems: string[] }> = {};
    for (const [id, t] of Object.entries(doc.zones)) {
      const schema = ZONE_ID.test(id) ? tuningSchemaIssues(t) : [`(root): the zone id must match ${ZONE_ID.source}`];
      const problems = schema.length > 0 ? schema : check(id, t as ZoneTuning);
      if (problems.length === 0) zones[id] = t as ZoneTuning;
      else bad[id] = { tuning: t, problems };
    }
    if (Object.keys(bad).length > 0) await this.setAsideEntries(bad, zones);
    return zones;
  }

  private async setAsideWhole(problem: string): Promise<Record<string, ZoneTuning>> {
    const to = `${this.path}.bad-${Date.now()}`;
    await rename(this.path, to).catch(() => {});
    this.log.error({ path: this.path, problem, movedTo: to }, `${this.path}: ${problem}; moved aside to ${to}; using the config file's thermal settings`);
    return {};
  }

  /** The bad entries to a .bad file, the good ones rewritten alone (the next save would drop the bad ones silently). */
  private async setAsideEntries(bad: Record<string, { tuning: unknown; problems: string[] }>, good: Record<string, ZoneTuning>): Promise<void> {
    const to = `${this.path}.bad-${Date.now()}`;
    const body = `${JSON.stringify({ version: 1, zones: Object.fromEntries(Object.entries(bad).map(([id, b]) => [id, b.tuning])) }, null, 2)}\n`;
    const written = await writeFileAtomic(to, body).then(
      () => true,
      (err: unknown) => {
        this.log.error({ err, path: to }, `cannot write the set-aside tuning to ${to}`);
        return false;
      },
    );
    for (const [key, b] of Object.entries(bad)) {
      // a key can be anything the file holds: shortened so a hostile one cannot flood the log
      const id = key.length > LIMITS.id ? `${key.slice(0, LIMITS.id - 3)}...` : key;
      this.log.warn(
        { zone: id, problems: b.problems, path: this.path, movedTo: written ? to : null },
        `${this.path}: saved tuning of zone "${id}" set aside (${b.problems.map((p) => `zones.${id}${p.startsWith('(root)') ? p.slice('(root)'.length) : `.${p}`}`).join('; ')})${written ? `; moved to ${to}` : ''}; zone "${id}" uses the config file's settings, the other zones keep theirs`,
      );
    }
    await this.save(good).catch((err: unknown) => this.log.error({ err, path: this.path }, `cannot rewrite ${this.path} without the set-aside entries`));
  }

  /** Atomic: written to a temp file, flushed, renamed over the old one. Writes are serialised. */
  save(zones: Record<string, ZoneTuning>): Promise<void> {
    const body = `${JSON.stringify({ version: 1, zones } satisfies TuningFile, null, 2)}\n`;
    const next = this.writing.then(() => writeFileAtomic(this.path, body));
    this.writing = next.catch(() => {});
    return next;
  }
}
