/**
 * Run-time tuning of the zones: what the API changes, checked (schema, then the zone rules),
 * applied bumplessly to the controllers, saved in the state directory and re-applied at start.
 * The thermal service owns one and delegates its tune/reset/mode calls here.
 *
 * A zone's tunings are layers over the config file (modes/layers.ts): a saved tuning, an autotune
 * result and a mode are each one, the last applied wins setting by setting, and the view says
 * where each setting came from. Switching modes changes every zone the old or new mode touches,
 * checked for all of them before any changes.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from 'pino';
import { BadRequestError, ConflictError, NotFoundError } from '../../api/errors.ts';
import type { ZoneConfig } from '../config.ts';
import type { ZoneController } from '../control/index.ts';
import { modePatch, type ModeConfig } from '../modes/config.ts';
import { effectivePatch, provenance, pushTuning, switchMode, type LayerSource, type SettingOrigin, type TuningLayer } from '../modes/layers.ts';
import { weakerThanConfig, zoneIssues, zoneThermistorIssues } from '../rules.ts';
import { withoutEmptySections } from '../zone-patch.ts';
import { TuningStore, mergeTuning, tunablesOf, tuningSchemaIssues, type ZoneTuning } from './tuning.ts';

/** a zone as the tuning sees it: the config file's settings and the controller running it */
export interface TunableZone {
  readonly config: ZoneConfig;
  readonly controller: ZoneController;
}

/** where a run-time change comes from: the API or CLI (tuning), or an autotune result */
export type TuningOrigin = 'tuning' | 'autotune';

export interface ActiveMode {
  name: string;
  at: string;
}

const MAX_LAYERS = 16;

export class RuntimeTuning {
  private readonly store: TuningStore | null;
  private layers: Record<string, TuningLayer[]> = {};
  private mode: ActiveMode | null = null;
  /**
   * The zones the active mode covered when it was switched to (and as each start found it since):
   * a zone the config's mode covers now and that is not in here is new to it and takes its settings
   * at start; one in here without the mode's settings had them taken away (a reset, a PUT) and is
   * left so. null: not known (a state file from before this was kept): no zone is added.
   */
  private modeCovered: string[] | null = null;
  /** the last state-file write failed: zones whose run-time tuning a restart would lose, and why */
  private unsaved: { zones: Set<string>; error: string } | null = null;
  /**
   * restore() has run: the API listens before thermal control starts (it waits on the cooler), and
   * a change saved before the saved tunings are loaded would write over them with itself alone.
   */
  private restored = false;

  constructor(
    private readonly zones: ReadonlyMap<string, TunableZone>,
    stateDir: string | undefined,
    private readonly log: Logger,
    private readonly modes: ReadonlyArray<ModeConfig> = [],
    /** the configured cooler thermistor ids a zone's ambientThermistor may name; undefined: not checked */
    private readonly thermistors?: ReadonlyArray<string>,
  ) {
    this.store = stateDir ? new TuningStore(stateDir, log) : null;
  }

  /** The zone's run-time tuning (everything its layers change over the config file), if any. */
  of(id: string): ZoneTuning | undefined {
    const l = this.layers[id];
    return l && l.length > 0 ? effectivePatch(l) : undefined;
  }

  /** Where each of the zone's settings comes from (config, mode NAME, tuning, autotune). */
  provenance(id: string): Record<string, SettingOrigin> {
    const z = this.zones.get(id);
    return z ? provenance(tunablesOf(z.config), this.layers[id] ?? []) : {};
  }

  /** The mode applied last (and not cleared since), and the modes the config defines. */
  modeState(): { active: ActiveMode | null; modes: ReadonlyArray<ModeConfig> } {
    return { active: this.mode, modes: this.modes };
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
   * the API (a bad entry is set aside alone), applied over the config file, with its layers when
   * they are whole and agree with it (else it counts as one tuning of unknown time).
   */
  async restore(): Promise<void> {
    try {
      await this.load();
    } finally {
      this.restored = true;
    }
  }

  private async load(): Promise<void> {
    if (!this.store) return;
    const path = this.store.path;
    const tuned = await this.store.load((id, t) => {
      const z = this.zones.get(id);
      return z ? this.issues(tunedConfig(z, t)) : [];
    });
    const savedLayers = (this.store.extras.layers ?? {}) as Record<string, unknown>;
    this.layers = {};
    for (const [id, t] of Object.entries(tuned)) {
      const layers = checkedLayers(savedLayers[id]);
      if (layers && isDeepStrictEqual(effectivePatch(layers), t)) this.layers[id] = layers;
      else {
        if (savedLayers[id] !== undefined) this.log.warn({ zone: id, path }, `${path}: the tuning layers of zone "${id}" do not match its tuning: kept as one tuning (where each setting came from is lost)`);
        this.layers[id] = [{ source: { kind: 'tuning' }, at: null, patch: t }];
      }
    }
    const m = this.store.extras.mode as Partial<ActiveMode> | null | undefined;
    this.mode = m && typeof m.name === 'string' && typeof m.at === 'string' && m.name.length <= 64 ? { name: m.name, at: m.at } : null;
    const covered = (m as { zones?: unknown } | null | undefined)?.zones;
    this.modeCovered = this.mode && Array.isArray(covered) && covered.length <= 64 && covered.every((z) => typeof z === 'string') ? (covered as string[]) : null;
    const followed = this.followModeDefinitions();
    for (const [id, layers] of Object.entries(this.layers)) {
      const t = effectivePatch(layers);
      const z = this.zones.get(id);
      if (!z) {
        this.log.warn({ zone: id, path }, `saved tuning for zone "${id}", which the config no longer has: kept, not applied`);
        continue;
      }
      try {
        this.apply(z, t);
        this.log.info({ zone: id, tuning: t, mode: this.mode?.name ?? null, path }, `re-applied run-time tuning of zone "${id}" over the config file`);
        this.warnIfWeaker(z, 're-applied at start from the state file');
      } catch (err) {
        this.log.error({ zone: id, err: (err as Error).message }, `saved tuning of zone "${id}" does not fit the config any more; using the config file`);
        delete this.layers[id];
      }
    }
    if (followed.save) await this.persist(followed.zones);
  }

  /**
   * At start, each saved mode layer takes the settings its mode has in the config now: a mode
   * edited in the config and the daemon restarted would otherwise go on running the old
   * settings under the mode's name while GET /mode shows the new ones. A mode gone from the
   * config goes, tunings stay; one whose new settings break a zone rule with the tunings there
   * goes from every zone (checked whole, as a switch is). A zone the active mode covers now and did
   * not when it was switched to takes its settings on top. Returns the zones whose layers changed,
   * and whether the state file must be written (those, or the mode's coverage to record).
   */
  private followModeDefinitions(): { zones: string[]; save: boolean } {
    const plan = new Map<string, TuningLayer[]>();
    const broken: string[] = [];
    const isMode = (l: TuningLayer) => l.source.kind === 'mode';
    for (const [id, layers] of Object.entries(this.layers)) {
      const z = this.zones.get(id);
      if (!z || !layers.some(isMode)) continue;
      let changed = false;
      const next = layers.flatMap((l): TuningLayer[] => {
        if (l.source.kind !== 'mode') return [l];
        const name = l.source.name;
        const def = this.modes.find((m) => m.name === name);
        const patch = def ? modePatch(def, id) : {};
        if (def && isDeepStrictEqual(patch, l.patch)) return [l];
        changed = true;
        if (def) this.log.info({ zone: id, mode: name, before: l.patch, now: patch }, `mode "${name}" is defined differently in the config now: zone "${id}" takes its settings as they are there`);
        return Object.keys(patch).length > 0 ? [{ ...l, patch }] : [];
      });
      if (!changed) continue;
      plan.set(id, next);
      for (const issue of this.issues(tunedConfig(z, effectivePatch(next)))) broken.push(`zone "${id}": ${issue}`);
    }
    // The active mode edited to cover a zone it did not: that zone takes its settings now, on top
    // (as a switch would have put them), not only at the next switch.
    const activeDef = this.mode ? this.modes.find((m) => m.name === this.mode!.name) : undefined;
    if (this.mode && activeDef && this.modeCovered) {
      for (const [id, z] of this.zones) {
        const patch = modePatch(activeDef, id);
        if (Object.keys(patch).length === 0 || this.modeCovered.includes(id)) continue;
        const layers = plan.get(id) ?? this.layers[id] ?? [];
        if (layers.some(isMode)) continue;
        const next = [...layers, { source: { kind: 'mode', name: activeDef.name } as LayerSource, at: this.mode.at, patch }];
        plan.set(id, next);
        this.log.info({ zone: id, mode: activeDef.name, now: patch }, `mode "${activeDef.name}" covers zone "${id}" in the config now: the zone takes its settings`);
        for (const issue of this.issues(tunedConfig(z, effectivePatch(next)))) broken.push(`zone "${id}": ${issue}`);
      }
    }
    const active = this.mode?.name;
    const gone = active !== undefined && !this.modes.some((m) => m.name === active);
    if (broken.length) {
      for (const [id, layers] of Object.entries(this.layers)) if (this.zones.has(id) && layers.some(isMode)) plan.set(id, layers.filter((l) => !isMode(l)));
      // a zone the mode newly covers has its planned layer only
      for (const [id, layers] of plan) plan.set(id, layers.filter((l) => !isMode(l)));
    }
    for (const [id, layers] of plan) {
      if (layers.length) this.layers[id] = layers;
      else delete this.layers[id];
    }
    if (active !== undefined && (gone || broken.length)) {
      const why = gone ? 'is no longer in thermal.modes' : `breaks a zone rule as the config now defines it (${broken.join('; ')})`;
      this.log.warn({ mode: active, zones: [...plan.keys()] }, `mode "${active}" ${why}: its settings are dropped (zones ${[...plan.keys()].join(', ') || 'none'}) and no mode is active`);
      this.mode = null;
    }
    const covering = this.coverage();
    const save = plan.size > 0 || !isDeepStrictEqual(covering, this.modeCovered);
    this.modeCovered = covering;
    return { zones: [...plan.keys()], save };
  }

  /**
   * Changes a zone's settings now (bumpless) and saves them. `replace`: the zone's earlier
   * tunings (a mode's included) are dropped first, then the patch applies over the config file.
   * Throws NotFoundError, BadRequestError (schema or a rule across fields).
   *
   * A failed save does not undo the change: an operator turning the fans up on a full disk must
   * get the cooling. It resolves `persisted: false` instead, logs the error and the zone shows a
   * tuning-not-saved alarm until a later save succeeds.
   */
  async tune(id: string, patch: ZoneTuning, mode: 'merge' | 'replace', origin: TuningOrigin = 'tuning'): Promise<{ persisted: boolean }> {
    this.mustBeRestored();
    const z = this.zone(id);
    // The API's schema already ran; in-process callers get the same check (finite, in range, bounded).
    const schema = tuningSchemaIssues(patch);
    if (schema.length) throw new BadRequestError(schema.join('; '));
    const layer: TuningLayer = { source: { kind: origin } as LayerSource, at: new Date().toISOString(), patch };
    const next = mode === 'replace' ? [layer] : pushTuning(this.layers[id] ?? [], layer);
    if (next.length > MAX_LAYERS) throw new BadRequestError(`zone "${id}" has ${MAX_LAYERS} tuning layers; PUT the zone to start again from the config file`);
    try {
      this.apply(z, effectivePatch(next));
    } catch (err) {
      throw new BadRequestError((err as Error).message);
    }
    this.layers[id] = next;
    this.log.info({ zone: id, patch, mode, origin }, `zone "${id}" tuned at run time${origin === 'autotune' ? ' (autotune result)' : ''}`);
    this.warnIfWeaker(z, 'tuned at run time');
    return { persisted: await this.persist([id]) };
  }

  /**
   * Back to the config file's values for a zone; forgets its saved tuning (a mode's layer included,
   * unless `keepMode`: then the zone keeps the active mode's settings over the config file, as a
   * tuning experiment giving the zone back needs).
   */
  async reset(id: string, keepMode = false): Promise<{ persisted: boolean }> {
    this.mustBeRestored();
    const z = this.zone(id);
    const kept = keepMode ? (this.layers[id] ?? []).filter((l) => l.source.kind === 'mode') : [];
    this.apply(z, effectivePatch(kept));
    if (kept.length) this.layers[id] = kept;
    else delete this.layers[id];
    this.log.info({ zone: id, keepMode }, kept.length ? `zone "${id}" back to the config file's settings under its mode` : `zone "${id}" back to the config file's settings`);
    return { persisted: await this.persist([id]) };
  }

  /**
   * Switches every zone to a mode (null: no mode): the previous mode's settings go, the new
   * mode's go on top of each zone's tunings. All zones are checked before any changes: a mode
   * that breaks a zone rule with the tunings under it is refused whole (400 naming the zone).
   */
  async applyMode(name: string | null): Promise<{ persisted: boolean }> {
    this.mustBeRestored();
    const mode = name === null ? null : this.modes.find((m) => m.name === name);
    if (name !== null && !mode) throw new NotFoundError(`no mode "${name}" (modes: ${this.modes.map((m) => m.name).join(', ') || 'none in thermal.modes'})`);
    const at = new Date().toISOString();
    const plan: { id: string; z: TunableZone; layers: TuningLayer[] }[] = [];
    const issues: string[] = [];
    for (const [id, z] of this.zones) {
      const layers = switchMode(this.layers[id] ?? [], mode ? { name: mode.name, patch: modePatch(mode, id), at } : null);
      if (isDeepStrictEqual(layers, this.layers[id] ?? [])) continue;
      for (const issue of this.issues(tunedConfig(z, effectivePatch(layers)))) issues.push(`zone "${id}": ${issue}`);
      plan.push({ id, z, layers });
    }
    if (issues.length) throw new BadRequestError(`mode "${name}" does not fit the zones as tuned now: ${issues.join('; ')}`);
    for (const p of plan) {
      this.apply(p.z, effectivePatch(p.layers));
      if (p.layers.length) this.layers[p.id] = p.layers;
      else delete this.layers[p.id];
      this.warnIfWeaker(p.z, name === null ? 'with the mode cleared' : `in mode "${name}"`);
    }
    const before = this.mode?.name ?? null;
    this.mode = mode ? { name: mode.name, at } : null;
    this.modeCovered = this.coverage();
    const said = name !== null ? `thermal mode "${name}" applied (zones ${plan.map((p) => p.id).join(', ') || 'unchanged'})` : before !== null ? `thermal mode "${before}" cleared` : 'no thermal mode was active: nothing to clear';
    this.log.info({ mode: name, before, zones: plan.map((p) => p.id) }, said);
    return { persisted: await this.persist(plan.map((p) => p.id)) };
  }

  /** the zones the active mode, as the config defines it, sets anything on (null: no active mode, or one the config lacks) */
  private coverage(): string[] | null {
    const def = this.mode ? this.modes.find((m) => m.name === this.mode!.name) : undefined;
    return def ? [...this.zones.keys()].filter((id) => Object.keys(modePatch(def, id)).length > 0) : null;
  }

  /** the rules a zone with its tunings must pass: config load's (the zone rules, its thermistor) */
  private issues(zone: ZoneConfig): string[] {
    return [...zoneIssues(zone), ...(this.thermistors ? zoneThermistorIssues(zone, this.thermistors) : [])];
  }

  /**
   * The zone's settings become the config file's with `tuning` over it: the same rules as config
   * load checked before anything changes, then the controller takes them bumplessly.
   */
  private apply(z: TunableZone, tuning: ZoneTuning): void {
    const issues = this.issues(tunedConfig(z, tuning));
    if (issues.length) throw new Error(issues.join('; '));
    z.controller.update(tunablesOf(tunedConfig(z, tuning)));
  }

  private mustBeRestored(): void {
    if (!this.restored) throw new ConflictError('thermal control is starting: its saved tunings are not loaded yet; try again once GET /readyz lists it ready');
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
    this.log.warn({ zone: id, weaker: notes, tuning: this.of(id) }, `zone "${id}" ${how} with weaker cooling than the config file: ${notes.join('; ')}`);
  }

  /** Saves every zone's tuning; false (logged, alarmed) when the write failed. */
  private async persist(ids: string[]): Promise<boolean> {
    if (!this.store) return true;
    const path = this.store.path;
    const zones = Object.fromEntries(Object.entries(this.layers).map(([id, l]) => [id, effectivePatch(l)]));
    try {
      await this.store.save(zones, { layers: this.layers, mode: this.mode ? { ...this.mode, zones: this.modeCovered ?? [] } : null });
      if (this.unsaved) this.log.info({ path, zones: [...this.unsaved.zones] }, `run-time tuning saved to ${path} again`);
      this.unsaved = null;
      return true;
    } catch (err) {
      const error = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      this.unsaved = { zones: new Set([...(this.unsaved?.zones ?? []), ...ids]), error: `${path}: ${error}` };
      this.log.error({ err, zones: ids, path }, `zone${ids.length === 1 ? '' : 's'} ${ids.map((i) => `"${i}"`).join(', ')}: run-time tuning applied but NOT saved to ${path} (${(err as Error).message}); a restart would go back to the last saved settings`);
      return false;
    }
  }
}

/** Saved layers as they must be (each source known, each patch valid), or null. */
function checkedLayers(v: unknown): TuningLayer[] | null {
  if (!Array.isArray(v) || v.length > MAX_LAYERS) return null;
  const out: TuningLayer[] = [];
  for (const l of v as Partial<TuningLayer>[]) {
    const s = l?.source as Partial<{ kind: string; name: unknown }> | undefined;
    const sourceOk = s && (s.kind === 'tuning' || s.kind === 'autotune' || (s.kind === 'mode' && typeof s.name === 'string' && s.name.length > 0 && s.name.length <= 64));
    const patch = withoutEmptySections(l.patch);
    if (!sourceOk || !(l.at === null || typeof l.at === 'string') || tuningSchemaIssues(patch).length > 0) return null;
    out.push({ source: s.kind === 'mode' ? { kind: 'mode', name: s.name as string } : ({ kind: s.kind } as LayerSource), at: l.at ?? null, patch: patch as ZoneTuning });
  }
  return out;
}

/** the config file's zone with a tuning over it */
function tunedConfig(z: TunableZone, t: ZoneTuning): ZoneConfig {
  return { ...z.config, ...(mergeTuning(tunablesOf(z.config), t) as Partial<ZoneConfig>) } as ZoneConfig;
}
