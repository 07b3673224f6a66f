/**
 * Run-time tuning: the zone settings changed through the API, kept in the state directory so a
 * restart keeps them. The file holds only what was changed; it is applied over the config file.
 */
import { readFile, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { Logger } from 'pino';
import { formatSchemaErrors } from '../../config/errors.ts';
import { LIMITS, ZoneConfig } from '../config.ts';
import type { ZonePatch } from '../control/index.ts';
import { withoutEmptySections, zonePatchSchema } from '../zone-patch.ts';
import { writeFileAtomic } from './atomic-file.ts';

export { withoutDefaults, mergeTuning, tunablesOf } from '../zone-patch.ts';

/** Every tunable zone key, optional; the same schema validates API bodies and the state file. */
export const ZoneTuning = zonePatchSchema(ZoneConfig);
export type ZoneTuning = ZonePatch;
const checkTuning = TypeCompiler.Compile(ZoneTuning);
/** a zone id as the config schema allows it: a key that is not one cannot name a zone */
const ZONE_ID = new RegExp(`^[A-Za-z0-9_.-]{1,${LIMITS.id}}$`);

/** Schema problems of a tuning, one line each (`pid.setpoint: must be a finite number, got -Infinity`); empty: valid. */
export function tuningSchemaIssues(t: unknown): string[] {
  return checkTuning.Check(t) ? [] : formatSchemaErrors(checkTuning.Errors(t));
}

export interface TuningFile {
  version: 1;
  /** per zone, everything its tunings change over the config file (what older daemons read) */
  zones: Record<string, ZoneTuning>;
  /** per zone, the tunings as layers with where each came from (modes/layers.ts); checked by the reader */
  layers?: Record<string, unknown>;
  /** the mode applied last and not cleared */
  mode?: unknown;
}

/** what the file holds besides the zones, as read (unchecked) */
export type TuningExtras = Pick<TuningFile, 'layers' | 'mode'>;

export const TUNING_FILE = 'thermal-tuning.json';

/** A state file bigger than this is not ours (a tuning for 16 zones is a few kB). */
export const MAX_TUNING_FILE_BYTES = 1 << 20;

/** Problems with one saved zone entry, one line each (`pid.kp: must be >= 0`); empty: usable. */
export type EntryCheck = (zone: string, tuning: ZoneTuning) => string[];

export class TuningStore {
  readonly path: string;
  private writing: Promise<void> = Promise.resolve();
  /** the layers and mode of the file last loaded */
  extras: TuningExtras = {};

  constructor(
    private readonly dir: string,
    private readonly log: Logger,
  ) {
    this.path = join(dir, TUNING_FILE);
  }

  /**
   * The saved tuning per zone (its layers and mode in `extras` afterwards). A missing file is no tuning. A file that cannot be read as a whole
   * (not JSON, wrong shape, too big) is set aside (renamed with a .bad suffix) and the config
   * file's values apply. An entry that breaks the schema or `check` (the zone rules) is set
   * aside alone: it goes to a .bad file, a warning names it, and the other zones keep theirs.
   */
  async load(check: EntryCheck = () => []): Promise<Record<string, ZoneTuning>> {
    this.extras = {};
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
    this.extras = { layers: doc.layers, mode: doc.mode };
    const zones: Record<string, ZoneTuning> = {};
    const bad: Record<string, { tuning: unknown; problems: string[] }> = {};
    for (const [id, saved] of Object.entries(doc.zones)) {
      const t = withoutEmptySections(saved);
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
    await this.save(good, this.extras).catch((err: unknown) => this.log.error({ err, path: this.path }, `cannot rewrite ${this.path} without the set-aside entries`));
  }

  /** Atomic: written to a temp file, flushed, renamed over the old one. Writes are serialised. */
  save(zones: Record<string, ZoneTuning>, extras: TuningExtras = {}): Promise<void> {
    const body = `${JSON.stringify({ version: 1, zones, ...extras } satisfies TuningFile, null, 2)}\n`;
    const next = this.writing.then(() => writeFileAtomic(this.path, body));
    this.writing = next.catch(() => {});
    return next;
  }
}
