/**
 * Simulated GPUs and fans (the plant), deterministic: same inputs, same outputs (the only noise,
 * on the power reading, comes from a seeded generator).
 *
 * Per GPU, first order:  C dT/dt = P(t) - G(x) (T - T_amb)
 *   x    = airflow share of the GPU's fans = sum(rpm) / sum(maxRpm)
 *   G(x) = G_still + (G_full - G_still) * x^n   (forced convection over fins: h ~ v^0.5..0.8)
 * integrated exactly over each sub-step (P and G held), so steady states match the algebra.
 * Per fan, first order: rpm -> duty * maxRpm with time constant tau; a turning fan stops below
 * its stall duty, a stopped fan only starts at or above its start duty (why kick-start exists).
 * Noise per fan L = maxDba + 50 log10(rpm / maxRpm), summed as energy.
 */
import type { LoadProfile } from './profiles.ts';

export interface GpuParams {
  index: number;
  uuid?: string;
  name?: string;
  /** heat capacity of die + heatsink, J/K */
  heatCapacityJPerK: number;
  /** conductance to ambient with the fans stopped (natural convection), W/K */
  conductanceStillWPerK: number;
  /** conductance with all its fans at full speed, W/K */
  conductanceFullWPerK: number;
  /** exponent n of the airflow share in G(x) */
  airflowExponent: number;
  /** above this the GPU throttles: power is cut to throttlePowerShare (nvidia "thermal slowdown") */
  slowdownC: number;
  throttlePowerShare: number;
  /** fan ids that blow through this GPU's heatsink */
  fans: string[];
  /** starting temperature; default ambient */
  initialC?: number;
}

export interface PlantFanParams {
  id: string;
  maxRpm: number;
  maxDba: number;
  /** a turning fan stops below this duty */
  stallDuty: number;
  /** a stopped fan starts at or above this duty */
  startDuty: number;
  /** rpm lag, s */
  rpmTauSeconds: number;
  /** tach resolution, rpm (2 pulses/rev counted over 1 s: 30 rpm) */
  tachResolutionRpm?: number;
}

export interface PlantConfig {
  ambientC: number;
  gpus: GpuParams[];
  fans: PlantFanParams[];
  /** seed of the power-reading noise */
  seed?: number;
  /** std-dev of the power reading noise, W (the heat itself is exact); default 0 */
  powerNoiseW?: number;
  /** integration sub-step, s; default 0.05 */
  maxSubstepSeconds?: number;
}

export interface GpuReading {
  index: number;
  uuid: string;
  name: string;
  /** true die temperature, C (nvidia-smi prints it rounded to a whole degree) */
  temperatureC: number;
  /** power draw as a sensor reads it, W */
  powerW: number;
  /** 0..1 */
  utilization: number;
  /** NVML clocks event reasons bitmask (0x20 SW thermal slowdown) */
  clocksEventReasons: number;
  /** airflow share of its fans, 0..1 */
  airflow: number;
}

export interface PlantFanReading {
  id: string;
  duty: number;
  /** tach reading; null when the tach is disconnected (fault) */
  rpm: number | null;
  /** true rpm (no quantisation) */
  trueRpm: number;
  noiseDba: number;
}

export type FanFault = 'stalled' | 'no-tach' | null;

export interface Plant {
  /** seconds since creation */
  readonly time: number;
  readonly ambientC: number;
  /** advance the model by dt seconds */
  step(dtSeconds: number): void;
  /** duty 0..1 (clamped) */
  setDuty(fanId: string, duty: number): void;
  /** a profile (its t=0 is now) or constant watts, for one GPU or all */
  setLoad(gpu: number | 'all', load: LoadProfile | number): void;
  setAmbient(celsius: number): void;
  /** fault injection: a blocked rotor (reads 0 rpm), or a cut tach wire (reads null) */
  setFanFault(fanId: string, fault: FanFault): void;
  gpu(index: number): GpuReading;
  gpus(): GpuReading[];
  fan(id: string): PlantFanReading;
  fans(): PlantFanReading[];
  /** all fans summed as energy, dBA (-Infinity when all stopped) */
  noiseDba(): number;
  /** analytic steady-state temperature of a GPU at constant power and airflow share */
  steadyStateC(gpu: number, watts: number, airflow: number): number;
}

/** Thermal slowdown bit of nvidia-smi clocks_event_reasons.active (NVML). */
export const SW_THERMAL_SLOWDOWN = 0x20;

/** mulberry32: tiny, seedable, good enough for sensor noise (and the benches' made-up loads) */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function conductance(g: Pick<GpuParams, 'conductanceStillWPerK' | 'conductanceFullWPerK' | 'airflowExponent'>, airflow: number): number {
  const x = Math.max(0, Math.min(1, airflow));
  return g.conductanceStillWPerK + (g.conductanceFullWPerK - g.conductanceStillWPerK) * x ** g.airflowExponent;
}

export function createPlant(config: PlantConfig): Plant {
  let ambient = config.ambientC;
  let time = 0;
  const substep = config.maxSubstepSeconds ?? 0.05;
  const random = rng(config.seed ?? 1);
  const gauss = () => {
    const u = Math.max(1e-12, random());
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  };

  const fanById = new Map<string, { p: PlantFanParams; duty: number; rpm: number; fault: FanFault }>();
  for (const p of config.fans) {
    if (fanById.has(p.id)) throw new Error(`plant: duplicate fan id "${p.id}"`);
    fanById.set(p.id, { p, duty: 0, rpm: 0, fault: null });
  }
  const gpus = config.gpus.map((p) => {
    for (const f of p.fans) if (!fanById.has(f)) throw new Error(`plant: gpu ${p.index} names unknown fan "${f}"`);
    return { p, t: p.initialC ?? ambient, load: null as null | { profile: LoadProfile | null; watts: number; since: number }, heatW: 0 };
  });
  const gpuByIndex = (i: number) => {
    const g = gpus.find((x) => x.p.index === i);
    if (!g) throw new Error(`plant: no gpu ${i} (have ${gpus.map((x) => x.p.index).join(', ')})`);
    return g;
  };
  const fanOf = (id: string) => {
    const f = fanById.get(id);
    if (!f) throw new Error(`plant: unknown fan "${id}"`);
    return f;
  };
  const airflow = (g: (typeof gpus)[number]) => {
    let rpm = 0;
    let max = 0;
    for (const id of g.p.fans) {
      const f = fanById.get(id)!;
      rpm += f.rpm;
      max += f.p.maxRpm;
    }
    return max > 0 ? rpm / max : 0;
  };
  const demand = (g: (typeof gpus)[number], t: number) => {
    if (!g.load) return { watts: 0, utilization: 0 };
    if (g.load.profile) return g.load.profile.at(t - g.load.since);
    return { watts: g.load.watts, utilization: Math.max(0, Math.min(1, (g.load.watts - 30) / 120)) };
  };
  const throttled = (g: (typeof gpus)[number]) => g.t >= g.p.slowdownC;
  const heat = (g: (typeof gpus)[number], t: number) => demand(g, t).watts * (throttled(g) ? g.p.throttlePowerShare : 1);

  const fanLevel = (f: { p: PlantFanParams; rpm: number }) => (f.rpm > 1 ? f.p.maxDba + 50 * Math.log10(f.rpm / f.p.maxRpm) : -Infinity);

  const advance = (dt: number) => {
    for (const f of fanById.values()) {
      const turning = f.rpm > 0.02 * f.p.maxRpm;
      let target = f.duty * f.p.maxRpm;
      if (f.fault === 'stalled') target = 0;
      else if (turning ? f.duty < f.p.stallDuty : f.duty < f.p.startDuty) target = 0;
      const a = f.p.rpmTauSeconds > 0 ? 1 - Math.exp(-dt / f.p.rpmTauSeconds) : 1;
      f.rpm += a * (target - f.rpm);
      if (f.fault === 'stalled') f.rpm = 0;
    }
    for (const g of gpus) {
      const G = conductance(g.p, airflow(g));
      const P = heat(g, time);
      g.heatW = P;
      const tInf = ambient + P / G;
      g.t = tInf + (g.t - tInf) * Math.exp((-G * dt) / g.p.heatCapacityJPerK);
    }
    time += dt;
  };

  const readGpu = (g: (typeof gpus)[number]): GpuReading => {
    const d = demand(g, time);
    const noise = config.powerNoiseW ? config.powerNoiseW * gauss() : 0;
    return {
      index: g.p.index,
      uuid: g.p.uuid ?? `GPU-5143a8e0-0000-4000-8000-${String(g.p.index).padStart(12, '0')}`,
      name: g.p.name ?? 'Tesla K80 (simulated)',
      temperatureC: g.t,
      powerW: Math.max(0, heat(g, time) + noise),
      utilization: d.utilization,
      clocksEventReasons: throttled(g) ? SW_THERMAL_SLOWDOWN : 0,
      airflow: airflow(g),
    };
  };
  const readFan = (f: { p: PlantFanParams; duty: number; rpm: number; fault: FanFault }): PlantFanReading => {
    const res = f.p.tachResolutionRpm ?? 30;
    return {
      id: f.p.id,
      duty: f.duty,
      rpm: f.fault === 'no-tach' ? null : Math.round(f.rpm / res) * res,
      trueRpm: f.rpm,
      noiseDba: fanLevel(f),
    };
  };

  return {
    get time() {
      return time;
    },
    get ambientC() {
      return ambient;
    },
    step(dtSeconds) {
      if (!(dtSeconds >= 0) || !Number.isFinite(dtSeconds)) throw new Error(`plant.step: dtSeconds must be a finite number >= 0, got ${dtSeconds}`);
      let left = dtSeconds;
      while (left > 1e-12) {
        const h = Math.min(substep, left);
        advance(h);
        left -= h;
      }
    },
    setDuty(fanId, duty) {
      if (!Number.isFinite(duty)) throw new Error(`plant.setDuty: fan "${fanId}": duty must be a number in 0..1, got ${duty}`);
      fanOf(fanId).duty = Math.max(0, Math.min(1, duty));
    },
    setLoad(gpu, load) {
      const targets = gpu === 'all' ? gpus : [gpuByIndex(gpu)];
      for (const g of targets) {
        g.load = typeof load === 'number' ? { profile: null, watts: Math.max(0, load), since: time } : { profile: load, watts: 0, since: time };
      }
    },
    setAmbient(c) {
      ambient = c;
    },
    setFanFault(fanId, fault) {
      fanOf(fanId).fault = fault;
    },
    gpu: (i) => readGpu(gpuByIndex(i)),
    gpus: () => gpus.map(readGpu),
    fan: (id) => readFan(fanOf(id)),
    fans: () => [...fanById.values()].map(readFan),
    noiseDba() {
      let e = 0;
      for (const f of fanById.values()) {
        const l = fanLevel(f);
        if (Number.isFinite(l)) e += 10 ** (l / 10);
      }
      return e > 0 ? 10 * Math.log10(e) : -Infinity;
    },
    steadyStateC(gpu, watts, x) {
      return ambient + watts / conductance(gpuByIndex(gpu).p, x);
    },
  };
}
