/**
 * Run-time tuning of the zones: what the API changes, checked (schema, then the zone rules),
 * applied bumplessly to the controllers, saved in the state directory and re-applied at start.
 * The thermal service owns one and delegates its tune/reset calls here.
 */
import type { Logger } from 'pino';
import { BadRequestError, NotFoundError } from '../../api/errors.ts';
import type { ZoneConfig } from '../config.ts';
import type { ZoneController } from '../control/index.ts';
import { weakerThanConfig, zoneIssues } from '../rules.ts';
import { TuningStore, mergeTuning, tunablesOf, tuningSchemaIssues, type ZoneTuning } from './tuning.ts';

/** a zone as the tuning sees it: the config file's settings and the controller running it */
export interface TunableZone {
  readonly config: ZoneConfig;
  readonly controller: ZoneController;
}

export class RuntimeTuning {
  private readonly store: TuningStore | null;
  private tuned: Record<string, ZoneTuning> = {};
  /** the last state-file write failed: zones whose run-time tuning a restart would lose, and why */
  private unsaved: { zones: Set<string>; error: string } | null = null;

  constructor(
    private readonly zones: ReadonlyMap<string, TunableZone>,
    stateDir: string | undefined,
    private readonly log: Logger,
  ) {
    this.store = stateDir ? new TuningStore(stateDir, log) : null;
  }

  /** The zone's saved run-time tuning (what it changes over the config file), if any. */
  of(id: string): ZoneTuning | undefined {
    return this.tuned[id];
  }

  /** Why the zone's tuning in effect is not in the state file, or null when it is. */
  unsavedError(id: string): string | null {
    return this.unsaved?.zones.has(id) ? this.unsaved.error : null;
  }

  /** What the zone's settings in effect give up against the config file (empty: nothing). */
  warnings(id: string): string[] {
    const z = this.zones.get(id);
    return z ? weakerThanConfig(z.config, z.controller.state().config) : [];
  }

  /**
   * At start: the saved tuning, each entry checked with the same zone rules as config load and
   * the API (a bad entry is set aside alone), applied over the config file.
   */
  async restore(): Promise<void> {
    if (!this.store) return;
    const path = this.store.path;
    this.tuned = await this.store.load((id, t) => {
      const z = this.zones.get(id);
      return z ? zoneIssues(tunedConfig(z, t)) : [];
    });
    for (const [id, t] of Object.entries(this.tuned)) {
      const z = this.zones.get(id);
      if (!z) {
        this.log.warn({ zone: id, path }, `saved tuning for zone "${id}", which the config no longer has: kept, not applied`);
        continue;
      }
      try {
        apply(z, t);
        this.log.info({ zone: id, tuning: t, path }, `re-applied run-time tuning of zone "${id}" over the config file`);
        this.warnIfWeaker(z, 're-applied at start from the state file');
      } catch (err) {
        this.log.error({ zone: id, err: (err as Error).message }, `saved tuning of zone "${id}" does not fit the config any more; using the config file`);
        delete this.tuned[id];
      }
    }
  }

  /**
   * Changes a zone's settings now (bumpless) and saves them. `replace`: the zone goes back to the
   * config file's values first, then the patch applies. Throws NotFoundError, BadRequestError
   * (schema or a rule across fields).
   *
   * A failed save does not undo the change: an operator turning the fans up on a full disk must
   * get the cooling. It resolves `persisted: false` instead, logs the error and the zone shows a
   * tuning-not-saved alarm until a later save succeeds.
   */
  async tune(id: string, patch: ZoneTuning, mode: 'merge' | 'replace'): Promise<{ persisted: boolean }> {
    const z = this.zone(id);
    // The API's schema already ran; in-process callers get the same check (finite, in range, bounded).
    const schema = tuningSchemaIssues(patch);
    if (schema.length) throw new BadRequestError(schema.join('; '));
    const base = mode === 'replace' ? tunablesOf(z.config) : {};
    const stored = mode === 'replace' ? patch : mergeTuning(this.tuned[id] ?? {}, patch);
    try {
      apply(z, mergeTuning(base, patch));
    } catch (err) {
      throw new BadRequestError((err as Error).message);
    }
    this.tuned[id] = stored;
    this.log.info({ zone: id, patch, mode }, `zone "${id}" tuned at run time`);
    this.warnIfWeaker(z, 'tuned at run time');
    return { persisted: await this.persist(id) };
  }

  /** Back to the config file's values for a zone; forgets its saved tuning. */
  async reset(id: string): Promise<{ persisted: boolean }> {
    const z = this.zone(id);
    apply(z, tunablesOf(z.config));
    delete this.tuned[id];
    this.log.info({ zone: id }, `zone "${id}" back to the config file's settings`);
    return { persisted: await this.persist(id) };
  }

  private zone(id: string): TunableZone {
    const z = this.zones.get(id);
    if (!z) throw new NotFoundError(`no zone "${id}" (zones: ${[...this.zones.keys()].join(', ')})`);
    return z;
  }

  private warnIfWeaker(z: TunableZone, how: string): void {
    const notes = weakerThanConfig(z.config, z.controller.state().config);
    if (notes.length === 0) return;
    const id = z.config.id;
    this.log.warn({ zone: id, weaker: notes, tuning: this.tuned[id] }, `zone "${id}" ${how} with weaker cooling than the config file: ${notes.join('; ')}`);
  }

  /** Saves every zone's tuning; false (logged, alarmed) when the write failed. */
  private async persist(id: string): Promise<boolean> {
    if (!this.store) return true;
    const path = this.store.path;
    try {
      await this.store.save(this.tuned);
      if (this.unsaved) this.log.info({ path, zones: [...this.unsaved.zones] }, `run-time tuning saved to ${path} again`);
      this.unsaved = null;
      return true;
    } catch (err) {
      const error = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      this.unsaved = { zones: new Set([...(this.unsaved?.zones ?? []), id]), error: `${path}: ${error}` };
      this.log.error({ err, zone: id, path }, `zone "${id}": run-time tuning applied but NOT saved to ${path} (${(err as Error).message}); a restart would go back to the last saved settings`);
      return false;
    }
  }
}

/** the config file's zone with a tuning over it */
function tunedConfig(z: TunableZone, t: ZoneTuning): ZoneConfig {
  return { ...z.config, ...(mergeTuning(tunablesOf(z.config), t) as Partial<ZoneConfig>) } as ZoneConfig;
}

/** Rules across fields (the same ones config load applies), checked before anything changes. */
function apply(z: TunableZone, patch: ZoneTuning): void {
  const now = z.controller.state().config;
  const next = { ...now, ...(mergeTuning(tunablesOf(now), patch) as Partial<ZoneConfig>) } as ZoneConfig;
  const issues = zoneIssues(next);
  if (issues.length) throw new Error(issues.join('; '));
  z.controller.update(patch);
}
