/**
 * Tracks announced to the thermal service, routed to the zones whose GPUs they load: one noise
 * budget per zone (budget.ts), each following the newest track announced for any of its GPUs.
 * A source's end ('load-end') or a newer track replaces it. Clock: the service's, in seconds.
 */
import type { AllocFan } from '../control/allocation.ts';
import type { ZoneBudget } from '../control/types.ts';
import { NoiseBudget, type BudgetStep, type BudgetZone } from './budget.ts';
import type { MusicConfig } from './config.ts';

export interface MusicAnnouncement {
  gpus: number[];
  source: string;
  /** per track second at the listener, dBA (loudness.ts) */
  levelsDba: number[];
  /** where the track is now, s (a resumed render starts further on; negative: starts later) */
  positionSeconds: number;
  loop?: boolean;
}

interface ZoneMusic {
  gpus: ReadonlyArray<number>;
  budget: NoiseBudget;
  source: string | null;
  last: BudgetStep | null;
}

const MAX_TRACK_SECONDS = 24 * 3600;

export class MusicRouter {
  private readonly zones = new Map<string, ZoneMusic>();

  constructor(
    readonly config: MusicConfig,
    zones: ReadonlyArray<{ id: string; gpus: ReadonlyArray<number>; fans: ReadonlyArray<AllocFan> }>,
  ) {
    for (const z of zones) this.zones.set(z.id, { gpus: z.gpus, budget: new NoiseBudget(z.fans, config), source: null, last: null });
  }

  /** the rig's thermal time constant at full airflow, s (the model's) */
  get timeConstantFullS(): number {
    return this.zones.values().next().value?.budget.timeConstantFullS ?? 0;
  }

  /** Throws with the field named for an announcement that cannot be used; returns the zones it reached. */
  announce(a: MusicAnnouncement, nowS: number): string[] {
    if (!Array.isArray(a.gpus) || !a.gpus.every((g) => Number.isInteger(g))) throw new Error('music: gpus must be a list of GPU indices');
    if (!Array.isArray(a.levelsDba) || a.levelsDba.length < 1 || a.levelsDba.length > MAX_TRACK_SECONDS || !a.levelsDba.every((l) => Number.isFinite(l) && l >= -20 && l <= 150)) {
      throw new Error(`music: levelsDba must hold 1..${MAX_TRACK_SECONDS} levels in -20..150 dBA`);
    }
    if (!Number.isFinite(a.positionSeconds)) throw new Error('music: positionSeconds must be a number');
    const reached: string[] = [];
    for (const [id, z] of this.zones) {
      if (!z.gpus.some((g) => a.gpus.includes(g))) continue;
      z.budget.set({ levelsDba: a.levelsDba, positionS: a.positionSeconds, anchorS: nowS, rate: 1, loop: a.loop === true });
      z.source = a.source;
      reached.push(id);
    }
    return reached;
  }

  position(source: string, positionSeconds: number, nowS: number): void {
    for (const z of this.zones.values()) if (z.source === source) z.budget.position(positionSeconds, nowS);
  }

  end(source: string): void {
    for (const z of this.zones.values()) {
      if (z.source !== source) continue;
      z.budget.set(null);
      z.source = null;
      z.last = null;
    }
  }

  /** this step's bounds for a zone; null (no budget) when music is off or no track is on */
  step(zoneId: string, nowS: number, o: { temperature: number; watts: number; ambientC: number; duty?: number | undefined; zone: BudgetZone }): ZoneBudget | null {
    const z = this.zones.get(zoneId);
    if (!z || !this.config.enabled) return null;
    z.last = z.budget.step({ nowS, ...o });
    return z.last ? { cap: z.last.cap, floor: z.last.floor } : null;
  }

  /** what the API shows */
  view(zoneId: string): { source: string | null; last: BudgetStep | null } | null {
    const z = this.zones.get(zoneId);
    return z ? { source: z.source, last: z.last } : null;
  }
}
