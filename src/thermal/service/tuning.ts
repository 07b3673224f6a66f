/**
 * Run-time tuning: the zone settings changed through the API, kept in the state directory so a
 * restart keeps them. The file holds only what was changed; it is applied over the config file.
 */
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { Type, type TSchema } from '@sinclair/typebox';
import { TypeGuard } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { Logger } from 'pino';
import { ZoneConfig } from '../config.ts';
import type { ZonePatch } from '../control/index.ts';

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
   * The saved tuning per zone. A missing file is no tuning; a damaged one is set aside (renamed
   * with a .bad suffix, so nothing is lost) and the config file's values apply.
   */
  async load(): Promise<Record<string, ZoneTuning>> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
      this.log.error({ err, path: this.path }, `cannot read ${this.path}; using the config file's thermal settings`);
      return {};
    }
    const problems: string[] = [];
    const zones: Record<string, ZoneTuning> = {};
    try {
      const doc = JSON.parse(text) as Partial<TuningFile>;
      if (doc.version !== 1 || !doc.zones || typeof doc.zones !== 'object') problems.push('expected {"version": 1, "zones": {...}}');
      else {
        for (const [id, t] of Object.entries(doc.zones)) {
          if (checkTuning.Check(t)) zones[id] = t as ZoneTuning;
          else {
            const e = checkTuning.Errors(t).First();
            problems.push(`zones.${id}${e?.path.replaceAll('/', '.') ?? ''}: ${e?.message ?? 'invalid'}`);
          }
        }
      }
    } catch (err) {
      problems.push(`not JSON: ${(err as Error).message}`);
    }
    if (problems.length > 0) {
      const bad = `${this.path}.bad-${Date.now()}`;
      await rename(this.path, bad).catch(() => {});
      this.log.error({ path: this.path, problems, movedTo: bad }, `${this.path}: ${problems.join('; ')}; moved aside to ${bad}`);
    }
    // entries that were valid still apply (they are saved again with the next change)
    return zones;
  }

  /** Atomic: written to a temp file, flushed, renamed over the old one. Writes are serialised. */
  save(zones: Record<string, ZoneTuning>): Promise<void> {
    const body = `${JSON.stringify({ version: 1, zones } satisfies TuningFile, null, 2)}\n`;
    const next = this.writing.then(async () => {
      await mkdir(this.dir, { recursive: true });
      const tmp = `${this.path}.${process.pid}.tmp`;
      const fh = await open(tmp, 'w', 0o644);
      try {
        await fh.writeFile(body);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, this.path);
    });
    this.writing = next.catch(() => {});
    return next;
  }
}
