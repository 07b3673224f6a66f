/**
 * A zone patch: the tunable zone settings, every key optional, nested sections key by key. One
 * shape for run-time tuning (API bodies, the state file) and modes (thermal.modes in the config).
 * Built from the zone schema it is given, so config.ts can use it without an import cycle.
 */
import { Type, TypeGuard, type TSchema, type TObject } from '@sinclair/typebox';
import type { ZonePatch } from './control/index.ts';

/** Fields of a zone that identify it rather than tune it. */
export const FIXED_ZONE_KEYS = new Set(['id', 'gpus', 'fans']);

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

export function zonePatchSchema(zone: TObject, description = 'zone settings to change; absent keys keep their value, nested sections merge key by key'): TSchema {
  const props: Record<string, TSchema> = {};
  for (const [k, v] of Object.entries(zone.properties as Record<string, TSchema>)) {
    if (FIXED_ZONE_KEYS.has(k)) continue;
    // nested sections (pid, feedForward, stall) change key by key; an empty one changes nothing
    // and was answered 200 as if it had (a client that lost its keys would never know)
    props[k] = Type.Optional(TypeGuard.IsObject(v) ? Type.Partial(v, { minProperties: 1 }) : v);
  }
  return withoutDefaults(Type.Object(props, { additionalProperties: false, minProperties: 1, description }));
}

/**
 * The patch without empty sections (`pid: {}`): daemons before the schema refused them saved them
 * as they came, and such a saved entry changes nothing, so it is read as what it always meant.
 */
export function withoutEmptySections(patch: unknown): unknown {
  if (!patch || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  return Object.fromEntries(Object.entries(patch).filter(([, v]) => !(v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0)));
}

/** Merge b into a: later wins, nested sections key by key. */
export function mergeTuning(a: ZonePatch, b: ZonePatch): ZonePatch {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && prev && typeof prev === 'object' && !Array.isArray(prev) ? { ...prev, ...v } : v;
  }
  return out as ZonePatch;
}

/** The tunable part of a zone config (what a reset goes back to). */
export function tunablesOf(zone: object): ZonePatch {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(zone)) if (!FIXED_ZONE_KEYS.has(k)) out[k] = structuredClone(v);
  return out as ZonePatch;
}

/** Each setting a patch sets, as a dotted path: `mode`, `pid.setpoint`, `curve` (lists are one setting). */
export function settingPaths(patch: object): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(patch)) {
    if (v && typeof v === 'object' && !Array.isArray(v)) for (const sub of Object.keys(v)) out.push(`${k}.${sub}`);
    else out.push(k);
  }
  return out;
}

/** The patch without these settings (dotted paths); emptied sections go. */
export function withoutSettings(patch: ZonePatch, paths: ReadonlySet<string>): ZonePatch {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(patch)) {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const kept = Object.fromEntries(Object.entries(v).filter(([sub]) => !paths.has(`${k}.${sub}`)));
      if (Object.keys(kept).length > 0) out[k] = kept;
    } else if (!paths.has(k)) out[k] = v;
  }
  return out as ZonePatch;
}
