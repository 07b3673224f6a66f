/**
 * Rules across thermal fields that a schema cannot say. One home for them: config load
 * (`gance config check` and the daemon), the API's PATCH/PUT and the state-file reload at boot
 * all call these, so a setting one path refuses cannot come in through another.
 *
 * Each issue is one line, `field: what is expected`, the field relative to what was checked
 * (callers prefix `thermal.zones[1].` or `thermal.`).
 */
import type { ThermalConfig, ZoneConfig } from './config.ts';
import { yieldIssues } from './yield/config.ts';
import { modePatch, modesOf } from './modes/config.ts';
import { mergeTuning, tunablesOf } from './zone-patch.ts';
import type { ZonePatch } from './control/index.ts';

/** degrees below criticalCelsius a GPU must fall before the critical alarm clears */
export const CRITICAL_CLEAR_K = 3;

/** a sensor sample may be missed once before the zone counts as stale */
export const STALE_SAMPLES = 2;

/** an intake air reading outside this range is a broken or misplaced thermistor: not used */
export const AMBIENT_PLAUSIBLE_C = { min: -20, max: 60 } as const;

export function plausibleAmbient(celsius: number | null | undefined): celsius is number {
  return typeof celsius === 'number' && celsius >= AMBIENT_PLAUSIBLE_C.min && celsius <= AMBIENT_PLAUSIBLE_C.max;
}

/** the learned duty per watt stays within these multiples of the configured feedForward.dutyPerWatt */
export const LEARNED_DUTY_PER_WATT_FACTOR = { min: 0.5, max: 2 } as const;

/** Rules across one zone's fields (a complete zone: the config's, or the config's with a tuning over it). */
export function zoneIssues(zone: ZoneConfig): string[] {
  const issues: string[] = [];
  if (zone.minDuty > zone.maxDuty) issues.push(`minDuty: must be <= maxDuty (${zone.maxDuty})`);
  if (zone.stopBelowDuty > zone.minDuty) issues.push(`stopBelowDuty: must be <= minDuty (${zone.minDuty})`);
  // Holding a setpoint within the critical alarm's clearing band would latch full fans at every
  // touch of critical and release them only below the setpoint: the zone would pump.
  const highest = zone.criticalCelsius - CRITICAL_CLEAR_K;
  if (!(zone.pid.setpoint <= highest)) issues.push(`pid.setpoint: must be at most criticalCelsius - ${CRITICAL_CLEAR_K} (${highest}), got ${zone.pid.setpoint}`);
  const ff = zone.feedForward;
  if (!(ff.referenceAmbientCelsius < ff.referenceSetpointCelsius)) {
    issues.push(`feedForward.referenceAmbientCelsius: must be below feedForward.referenceSetpointCelsius (${ff.referenceSetpointCelsius}), got ${ff.referenceAmbientCelsius}`);
  }
  if (zone.curve.length < 2) issues.push(`curve: must have at least 2 points, got ${zone.curve.length}`);
  for (let k = 1; k < zone.curve.length; k++) {
    const [t0] = zone.curve[k - 1]!;
    const [t1] = zone.curve[k]!;
    if (!(t1 > t0)) issues.push(`curve[${k}]: temperatures must increase (${t1} after ${t0})`);
  }
  // A falling curve slows the fans as the GPU heats: control would push it up to critical, and
  // hysteresis (degrees to fall before the duty follows down) assumes a rising curve. A NaN is
  // the schema's to refuse (and the controller's failsafe's, which its tests reach through here).
  for (let k = 1; k < zone.curve.length; k++) {
    const [t0, d0] = zone.curve[k - 1]!;
    const [t1, d1] = zone.curve[k]!;
    if (d1 < d0) issues.push(`curve[${k}]: duties must not fall as the temperature rises (${d1} at ${t1} C after ${d0} at ${t0} C)`);
  }
  return issues;
}

/**
 * Keys every plain object has (constructor, toString, __proto__): the zone id keys records across
 * the service, the view and the state files, and a lookup of a zone with no entry found the
 * inherited function instead (GET /v1/thermal and /metrics answered 500).
 */
const OBJECT_KEYS = new Set(Object.getOwnPropertyNames(Object.prototype));

/**
 * The refusal of such a name for any id that keys a record (zones; fans and thermistors key the
 * duties, rpm, held duties and history by id; mode names), or null when the id is fine.
 */
export function reservedIdIssue(field: string, id: string): string | null {
  return OBJECT_KEYS.has(id) ? `${field}: "${id}" is a name every JavaScript object has; choose another` : null;
}

/**
 * Values the history may hold: a day at 1 s of the default rig (2 zones, 2 GPUs, 6 fans), about
 * 100 MB in samples. The history is kept in memory and GET /history answers from it: a day at 50 ms
 * was accepted and grew to about 2 GB.
 */
export const HISTORY_MAX_VALUES = 864_000;

function historyIssues(config: ThermalConfig): string[] {
  const { seconds, intervalMs } = config.history;
  const zones = config.zones.length;
  const gpus = new Set(config.zones.flatMap((z) => z.gpus)).size;
  const fans = config.zones.reduce((n, z) => n + z.fans.length, 0);
  const perSample = zones + gpus + fans;
  // one sample per control tick at most
  const every = Math.max(intervalMs, config.periodMs);
  const samples = Math.ceil((seconds * 1000) / every);
  if (samples * perSample <= HISTORY_MAX_VALUES) return [];
  const minInterval = Math.ceil((seconds * 1000 * perSample) / HISTORY_MAX_VALUES);
  const maxSeconds = Math.floor(((HISTORY_MAX_VALUES / perSample) * every) / 1000);
  return [
    `history.intervalMs: ${seconds} s at one sample per ${every} ms holds ${samples} samples of ${perSample} values (${zones} zones, ${gpus} GPUs, ${fans} fans): ` +
      `at most ${HISTORY_MAX_VALUES} values (about 100 MB); raise history.intervalMs to at least ${minInterval} or lower history.seconds to at most ${maxSeconds}`,
  ];
}

/** Rules of the thermal section as a whole, each zone's included (`zones[1].pid.setpoint: ...`). */
export function thermalIssues(config: ThermalConfig): string[] {
  const issues: string[] = [];
  const s = config.sensors;
  // A sample arrives every intervalMs: a stale limit closer than that leaves the zone in
  // permanent failsafe while everything else looks healthy.
  const staleMin = STALE_SAMPLES * s.intervalMs;
  if (s.staleAfterMs < staleMin) issues.push(`sensors.staleAfterMs: must be >= ${STALE_SAMPLES} x sensors.intervalMs (${staleMin}), got ${s.staleAfterMs}`);
  if (s.silentAfterMs !== undefined && s.silentAfterMs < staleMin) {
    issues.push(`sensors.silentAfterMs: must be >= ${STALE_SAMPLES} x sensors.intervalMs (${staleMin}), got ${s.silentAfterMs}`);
  }
  if (s.restartMinMs > s.restartMaxMs) issues.push(`sensors.restartMinMs: must be <= sensors.restartMaxMs (${s.restartMaxMs}), got ${s.restartMinMs}`);
  if (config.history.intervalMs > config.history.seconds * 1000) {
    issues.push(`history.intervalMs: must be <= history.seconds x 1000 (${config.history.seconds * 1000}), got ${config.history.intervalMs}`);
  }
  issues.push(...historyIssues(config));
  issues.push(...yieldIssues(config.yield));
  const mm = config.music.model;
  if (!(mm.conductanceFullWPerK > mm.conductanceStillWPerK)) {
    issues.push(`music.model.conductanceFullWPerK: must be above music.model.conductanceStillWPerK (${mm.conductanceStillWPerK}), got ${mm.conductanceFullWPerK}`);
  }
  const ids = new Set<string>();
  config.zones.forEach((zone, z) => {
    if (ids.has(zone.id)) issues.push(`zones[${z}].id: duplicate zone id "${zone.id}"`);
    const reserved = reservedIdIssue(`zones[${z}].id`, zone.id);
    if (reserved) issues.push(reserved);
    ids.add(zone.id);
    for (const issue of zoneIssues(zone)) issues.push(`zones[${z}].${issue}`);
  });
  issues.push(...modeIssues(config));
  return issues;
}

/**
 * Each mode: a unique name, zone entries naming configured zones, and every zone it changes
 * passing the zone rules with the mode applied over the config file (as switching to it would).
 */
export function modeIssues(config: Pick<ThermalConfig, 'zones' | 'modes'>): string[] {
  const issues: string[] = [];
  const names = new Set<string>();
  const zoneIds = config.zones.map((z) => z.id);
  modesOf(config).forEach((m, i) => {
    if (names.has(m.name)) issues.push(`modes[${i}].name: duplicate mode name "${m.name}"`);
    const reserved = reservedIdIssue(`modes[${i}].name`, m.name);
    if (reserved) issues.push(reserved);
    names.add(m.name);
    for (const id of Object.keys(m.zones)) {
      if (!zoneIds.includes(id)) issues.push(`modes[${i}].zones.${id}: unknown zone "${id}" (zones: ${zoneIds.join(', ')})`);
    }
    for (const zone of config.zones) {
      const patch = modePatch(m, zone.id);
      if (Object.keys(patch).length === 0) continue;
      const applied = { ...zone, ...(mergeTuning(tunablesOf(zone), patch) as Partial<ZoneConfig>) } as ZoneConfig;
      for (const issue of zoneIssues(applied)) issues.push(`modes[${i}].zones.${zone.id}.${issue}`);
    }
  });
  return issues;
}

/**
 * Each zone's feedForward.ambientThermistor must name a configured cooler thermistor, and so must
 * every mode setting one (config load; the zone itself falls back to ambientCelsius with an alarm
 * when the reading is missing).
 */
export function ambientThermistorIssues(config: ThermalConfig, thermistorIds: ReadonlyArray<string>): string[] {
  const issues: string[] = [];
  config.zones.forEach((zone, z) => {
    for (const issue of zoneThermistorIssues(zone, thermistorIds)) issues.push(`zones[${z}].${issue}`);
  });
  modesOf(config).forEach((m, i) => {
    const patches: Array<[string, ZonePatch | undefined]> = [['all', m.all], ...Object.entries(m.zones).map(([id, p]): [string, ZonePatch] => [`zones.${id}`, p])];
    for (const [where, patch] of patches) {
      const id = patch?.feedForward?.ambientThermistor;
      if (id !== undefined && !thermistorIds.includes(id)) issues.push(`modes[${i}].${where}.${unknownThermistor(id, thermistorIds)}`);
    }
  });
  return issues;
}

/** The zone's ambientThermistor against the configured ones (config load, and each run-time tuning). */
export function zoneThermistorIssues(zone: ZoneConfig, thermistorIds: ReadonlyArray<string>): string[] {
  const id = zone.feedForward.ambientThermistor;
  return id !== undefined && !thermistorIds.includes(id) ? [unknownThermistor(id, thermistorIds)] : [];
}

const unknownThermistor = (id: string, ids: ReadonlyArray<string>) => `feedForward.ambientThermistor: unknown thermistor "${id}" (cooler.thermistors has: ${ids.length ? ids.join(', ') : 'none'})`;

/**
 * What a valid run-time tuning gives up against the config file: a later critical backstop, a
 * lower ceiling, open-loop fans. Allowed (an operator may mean it), but said loudly: logged at
 * warn when applied or re-applied at boot, and listed in the zone's API view.
 */
export function weakerThanConfig(file: ZoneConfig, now: ZoneConfig): string[] {
  const notes: string[] = [];
  if (now.criticalCelsius > file.criticalCelsius) notes.push(`criticalCelsius ${now.criticalCelsius} over the config file's ${file.criticalCelsius}: the critical backstop comes later`);
  if (now.maxDuty < file.maxDuty) notes.push(`maxDuty ${now.maxDuty} under the config file's ${file.maxDuty}: the fans cannot reach full under control`);
  if (now.mode === 'fixed' && (file.mode !== 'fixed' || now.fixedDuty < file.fixedDuty)) {
    notes.push(`mode fixed at fixedDuty ${now.fixedDuty}: the fans do not follow the temperature; only criticalCelsius (${now.criticalCelsius}) raises them`);
  }
  if (now.pid.setpoint > file.pid.setpoint + 10) notes.push(`pid.setpoint ${now.pid.setpoint} more than 10 C over the config file's ${file.pid.setpoint}`);
  return notes;
}
