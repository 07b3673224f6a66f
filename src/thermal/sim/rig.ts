/**
 * The simulated rig in real time: the plant model advanced by the wall clock, with a looping load
 * profile, load hints from renders, and sensor faults for tests. The simulated cooler drives its
 * fans and reads their tach from it; the fake nvidia-smi prints its GPUs.
 */
import { performance } from 'node:perf_hooks';
import type { FanConfig } from '../../cooler/config.ts';
import type { ZoneConfig } from '../config.ts';
import { FAN_40MM, K80_GPU, constant, createPlant, standardBenchmarkProfile, type LoadProfile, type Plant, type PlantConfig } from '../plant/index.ts';
import type { FakeGpu } from './fake-nvidia-smi.ts';

/** synthesis: each GPU draws as its synthesis worker works (see synthesis-load.ts) */
export type SimProfile = 'standard' | 'idle' | 'full' | 'synthesis';

/**
 * A GPU's share of full power (0..1) over the next `seconds` of plant time, or null: it keeps the
 * profile. A source that counts work (frames) takes the work done in them; 0 s asks for the share
 * now without taking any.
 */
export type SimActivity = (gpu: number, seconds: number) => number | null;

export interface SimRigOptions {
  plant: PlantConfig;
  profile?: SimProfile | LoadProfile;
  /** simulated seconds per real second */
  timeScale?: number;
  /** ms, monotonic */
  clock?: () => number;
}

/** What a sensor reports for a GPU instead of the plant's value (test fault injection). */
export interface SensorOverride {
  temperature?: number | null | 'unsupported';
  /** the GPU disappears from nvidia-smi's output */
  hidden?: boolean;
}

const IDLE_W = 30;
const FULL_W = 150;
/** junction to heatsink, K/W: a thermistor on the heatsink reads this much below the die */
const SINK_K_PER_W = 0.08;

function profileOf(p: SimProfile | LoadProfile): LoadProfile {
  if (typeof p !== 'string') return p;
  if (p === 'idle' || p === 'synthesis') return constant(IDLE_W);
  if (p === 'full') return constant(FULL_W);
  return standardBenchmarkProfile();
}

/** A plant for the daemon's own config: every zone GPU is cooled by all of its zone's fans. */
export function plantConfigFor(
  fans: ReadonlyArray<FanConfig>,
  zones: ReadonlyArray<Pick<ZoneConfig, 'gpus' | 'fans'>>,
  ambientC = 30,
  gpu: Partial<Pick<typeof K80_GPU, 'heatCapacityJPerK' | 'conductanceFullWPerK' | 'conductanceStillWPerK'>> = {},
): PlantConfig {
  const gpuFans = new Map<number, string[]>();
  for (const z of zones) for (const g of z.gpus) gpuFans.set(g, [...(gpuFans.get(g) ?? []), ...z.fans]);
  return {
    ambientC,
    fans: fans.map((f) => ({ ...FAN_40MM, id: f.id, maxRpm: f.maxRpm, maxDba: f.maxDba })),
    gpus: [...gpuFans].sort(([a], [b]) => a - b).map(([index, ids]) => ({ ...K80_GPU, ...gpu, index, fans: [...new Set(ids)] })),
    seed: 1,
    powerNoiseW: 1.5,
  };
}

export class SimRig {
  readonly plant: Plant;
  private readonly clock: () => number;
  private readonly timeScale: number;
  private readonly profile: LoadProfile;
  private last: number;
  private loadSince = 0;
  private readonly hints = new Map<number, { watts: number; until: number }>();
  private readonly overrides = new Map<number, SensorOverride>();
  private readonly caps = new Map<number, number>();
  /** GPUs whose load the activity or a cap set last step */
  private readonly held = new Set<number>();
  private activity: SimActivity | null = null;
  /** power limits of the simulated GPUs (the cap yielding may set), W */
  readonly limits = { defaultW: FULL_W, minW: 60, maxW: 175 };
  private readonly gpuIndices: number[];

  constructor(opts: SimRigOptions) {
    this.plant = createPlant(opts.plant);
    // not plant.gpus(): reading a GPU draws from the power-noise generator
    this.gpuIndices = opts.plant.gpus.map((g) => g.index);
    this.clock = opts.clock ?? (() => performance.now());
    this.timeScale = opts.timeScale ?? 1;
    this.profile = profileOf(opts.profile ?? 'standard');
    this.plant.setLoad('all', this.profile);
    this.last = this.clock();
  }

  /** Steps the plant up to now. Cheap; every reader calls it. */
  advance(): void {
    const now = this.clock();
    const dt = ((now - this.last) / 1000) * this.timeScale;
    this.last = now;
    if (dt <= 0) return;
    // Step in pieces so a profile's loop point and hint expiry land where they belong; each piece
    // draws the load worked out for it (the synthesis work done over those seconds).
    let left = Math.min(dt, 3600);
    while (left > 0) {
      const h = Math.min(left, 1);
      this.applyLoad(h);
      this.plant.step(h);
      left -= h;
    }
    this.applyLoad(0);
  }

  /** A render says this much power per GPU is coming for this long (simulated GPUs then draw it). */
  hint(gpus: number[], watts: number, seconds: number): void {
    this.advance();
    const known = new Set(this.plant.gpus().map((x) => x.index));
    for (const g of gpus) if (known.has(g)) this.hints.set(g, { watts, until: this.plant.time + seconds });
    this.applyLoad(0);
  }

  /** a power limit below the default caps the GPU's power; null lifts it */
  setPowerCap(gpu: number, watts: number | null): void {
    this.advance();
    if (watts === null) this.caps.delete(gpu);
    else this.caps.set(gpu, watts);
    this.applyLoad(0);
  }

  powerCap(gpu: number): number | null {
    return this.caps.get(gpu) ?? null;
  }

  /** GPUs whose `activity` (0..1) is a number draw idle + (full - idle) x activity instead of the profile */
  setActivity(activity: SimActivity | null): void {
    this.advance();
    this.activity = activity;
    this.applyLoad(0);
  }

  override(gpu: number, o: SensorOverride | null): void {
    if (o) this.overrides.set(gpu, o);
    else this.overrides.delete(gpu);
  }

  /** GPU values as the fake nvidia-smi prints them (sensor faults applied). */
  gpuReadings(): FakeGpu[] {
    this.advance();
    return this.plant
      .gpus()
      .filter((g) => !this.overrides.get(g.index)?.hidden)
      .map((g) => {
        const o = this.overrides.get(g.index);
        return {
          index: g.index,
          uuid: g.uuid,
          name: g.name,
          temperature: o && 'temperature' in o ? o.temperature! : g.temperatureC,
          power: g.powerW,
          utilization: Math.round(g.utilization * 100),
          reasons: g.clocksEventReasons | (g.utilization === 0 ? 0x1 : 0),
          powerLimit: this.caps.get(g.index) ?? FULL_W,
        };
      });
  }

  /** Heatsink temperature of a GPU, as a thermistor on it reads (null if there is no such GPU). */
  heatsinkC(gpu: number): number | null {
    this.advance();
    try {
      const g = this.plant.gpu(gpu);
      return g.temperatureC - SINK_K_PER_W * g.powerW;
    } catch {
      return null;
    }
  }

  /** the loads from now on; `seconds`: the plant is about to be stepped that long with them (0: a change between steps) */
  private applyLoad(seconds: number): void {
    const t = this.plant.time;
    if (t - this.loadSince >= this.profile.durationSeconds) {
      this.loadSince = t;
      this.plant.setLoad('all', this.profile);
    }
    for (const [g, h] of this.hints) {
      if (t >= h.until) {
        this.hints.delete(g);
        this.restoreProfile(g);
      } else if (this.profile.at(t - this.loadSince).watts < h.watts) {
        this.plant.setLoad(g, h.watts);
      } else this.restoreProfile(g);
    }
    if (!this.activity && this.caps.size === 0 && this.held.size === 0) return;
    // worked out here, held for the piece (at most 1 s): the synthesis load and power caps
    for (const g of this.gpuIndices) {
      const a = this.activity?.(g, seconds) ?? null;
      const cap = this.caps.get(g);
      if (a === null && cap === undefined) {
        if (this.held.delete(g) && !this.hints.has(g)) this.restoreProfile(g);
        continue;
      }
      this.held.add(g);
      const h = this.hints.get(g);
      let w = a !== null ? IDLE_W + (FULL_W - IDLE_W) * Math.max(0, Math.min(1, a)) : this.profile.at(t - this.loadSince).watts;
      if (a === null && h && h.watts > w) w = h.watts;
      this.plant.setLoad(g, cap === undefined ? w : Math.min(w, cap));
    }
  }

  private restoreProfile(g: number): void {
    // setLoad(profile) starts a profile at "now"; shift it so it stays in phase with the others
    const offset = this.plant.time - this.loadSince;
    const base = this.profile;
    this.plant.setLoad(g, { ...base, durationSeconds: base.durationSeconds, segments: base.segments, hints: base.hints, at: (t: number) => base.at(t + offset) });
  }
}
