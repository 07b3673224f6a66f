/**
 * thermal.modes: named sets of zone settings switched as one ("stage-quiet", "studio-render").
 * A mode is a tuning like any other: applied over the config file, the last one applied wins
 * setting by setting, and switching to another mode first takes the previous mode's settings away.
 */
import { Type, type TSchema } from '@sinclair/typebox';
import type { ZonePatch } from '../control/index.ts';
import { mergeTuning } from '../zone-patch.ts';

export const MODE_LIMITS = { modes: 32, description: 500 } as const;

export function modesSchema(zonePatch: TSchema, idLength: number) {
  const Mode = Type.Object(
    {
      name: Type.String({ minLength: 1, maxLength: idLength, pattern: '^[A-Za-z0-9_.-]+$', description: 'what the API and CLI call it (gance thermal mode NAME)' }),
      description: Type.Optional(Type.String({ maxLength: MODE_LIMITS.description })),
      all: Type.Optional({ ...zonePatch, description: 'settings for every zone (a zone entry under zones wins over these)' }),
      zones: Type.Record(Type.String({ minLength: 1, maxLength: idLength }), zonePatch, { default: {}, maxProperties: 16, description: 'settings per zone id (thermal.zones[].id)' }),
    },
    { additionalProperties: false },
  );
  return Type.Array(Mode, { maxItems: MODE_LIMITS.modes, default: [], description: 'named sets of zone settings, switched as one with PUT /v1/thermal/mode or `gance thermal mode NAME`' });
}

export interface ModeConfig {
  name: string;
  description?: string;
  all?: ZonePatch;
  zones: Record<string, ZonePatch>;
}

/** the config's modes with their patches typed (the schema builds them from the zone schema) */
export function modesOf(config: { modes?: unknown }): ModeConfig[] {
  return (config.modes ?? []) as ModeConfig[];
}

/** what a mode sets on one zone: `all`, then the zone's own entry; empty: nothing */
export function modePatch(mode: ModeConfig, zone: string): ZonePatch {
  return mergeTuning(mode.all ?? {}, mode.zones[zone] ?? {});
}
