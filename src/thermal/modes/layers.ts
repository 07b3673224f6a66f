/**
 * A zone's tunings as layers over the config file, oldest first: a mode, a saved tuning (PATCH
 * through the API or the CLI) and an autotune result are each a layer, and a setting takes its
 * value from the last layer that sets it: the last one applied wins. Switching modes takes the
 * previous mode's layer away first (its settings go back to what lies under it) and puts the new
 * one on top. Plain functions: the run-time tuning keeps the layers and saves them.
 */
import type { ZonePatch } from '../control/index.ts';
import { mergeTuning, settingPaths, withoutSettings } from '../zone-patch.ts';

export type LayerSource = { kind: 'mode'; name: string } | { kind: 'tuning' } | { kind: 'autotune' };

export interface TuningLayer {
  source: LayerSource;
  /** when it was applied (ISO); null: not known (a tuning saved before layers were kept) */
  at: string | null;
  patch: ZonePatch;
}

export interface SettingOrigin {
  source: 'config' | 'mode' | 'tuning' | 'autotune';
  /** the mode's name, for source mode */
  mode?: string;
  /** when the layer was applied */
  at?: string | null;
}

const sameKind = (a: LayerSource, b: LayerSource) => a.kind === b.kind && (a.kind !== 'mode' || (b.kind === 'mode' && a.name === b.name));

/**
 * The layers after applying a tuning or an autotune result: its settings leave the older non-mode
 * layers (no dead weight), and it merges into the top layer when that is of the same kind.
 */
export function pushTuning(layers: readonly TuningLayer[], layer: TuningLayer): TuningLayer[] {
  const set = new Set(settingPaths(layer.patch));
  const kept = layers
    .map((l) => (l.source.kind === 'mode' ? l : { ...l, patch: withoutSettings(l.patch, set) }))
    .filter((l) => Object.keys(l.patch).length > 0);
  const top = kept.at(-1);
  if (top && sameKind(top.source, layer.source)) return [...kept.slice(0, -1), { ...layer, patch: mergeTuning(top.patch, layer.patch) }];
  return [...kept, layer];
}

/** The layers after switching to a mode (null: no mode): the old mode's layer goes, the new one goes on top. */
export function switchMode(layers: readonly TuningLayer[], mode: { name: string; patch: ZonePatch; at: string } | null): TuningLayer[] {
  const rest = layers.filter((l) => l.source.kind !== 'mode');
  if (!mode || Object.keys(mode.patch).length === 0) return rest;
  return [...rest, { source: { kind: 'mode', name: mode.name }, at: mode.at, patch: mode.patch }];
}

/** Everything the layers change over the config file, as one patch. */
export function effectivePatch(layers: readonly TuningLayer[]): ZonePatch {
  return layers.reduce<ZonePatch>((acc, l) => mergeTuning(acc, l.patch), {});
}

/** Where each setting of the zone comes from: the last layer setting it, else the config file. */
export function provenance(tunables: object, layers: readonly TuningLayer[]): Record<string, SettingOrigin> {
  const out: Record<string, SettingOrigin> = {};
  for (const p of settingPaths(tunables)) out[p] = { source: 'config' };
  for (const l of layers) {
    for (const p of settingPaths(l.patch)) {
      out[p] = l.source.kind === 'mode' ? { source: 'mode', mode: l.source.name, at: l.at } : { source: l.source.kind, at: l.at };
    }
  }
  return out;
}
