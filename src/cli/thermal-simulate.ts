/**
 * `gance thermal simulate`'s engine: the real zone controllers against the plant, offline. Loaded
 * by the command's action only (src/cli/thermal.ts defines the command).
 */
import type { Config } from '../config/schema.ts';
import type { ZoneConfig } from '../thermal/config.ts';
import { countReversals, createZoneController, type ZonePatch } from '../thermal/control/index.ts';
import { constant, createPlant, standardBenchmarkProfile, type LoadProfile } from '../thermal/plant/index.ts';
import { plantConfigFor } from '../thermal/sim/rig.ts';
import { fmt, pct, table } from './thermal.ts';

export interface SimulateOptions {
  config: Config;
  profile: 'standard' | 'idle' | 'full';
  patch?: ZonePatch;
  /** seconds of simulated time; default the profile's length */
  seconds?: number;
  /** print a timeline row every this many simulated seconds (0: none) */
  every?: number;
  out?: (line: string) => void;
  /** every control step of every zone (charts and CSV beside them) */
  record?: (zone: string, row: { t: number; temperature: number; setpoint: number; duty: number; rpm: number | null }) => void;
}

export interface SimulateZoneResult {
  zone: string;
  peakC: number;
  secondsAtOrAboveCritical: number;
  secondsAboveSetpointPlus3: number;
  /** null: every fan stood still the whole run (silence has no finite level in dB) */
  meanDba: number | null;
  /** null: as meanDba */
  peakDba: number | null;
  reversalsPerMinute: number;
  failsafeSteps: number;
}

/** A level for people: "off" where the fans stood still (no finite dB level), else one decimal. */
export const dbaText = (l: number | null): string => (l === null ? 'off' : fmt(l, 1));

function loadProfile(name: SimulateOptions['profile']): LoadProfile {
  return name === 'standard' ? standardBenchmarkProfile() : constant(name === 'full' ? 150 : 30, 1800);
}

/**
 * The real zone controllers against the plant, stepped at the configured loop period with
 * simulated time (no waiting). Sensors read like nvidia-smi: whole degrees.
 */
export function simulate(opts: SimulateOptions): { seconds: number; zones: SimulateZoneResult[] } {
  const { config } = opts;
  const out = opts.out ?? (() => {});
  const zones: ZoneConfig[] = config.thermal.zones.map((z) => ({ ...z }));
  const plant = createPlant(plantConfigFor(config.cooler.fans, zones, config.thermal.sensors.simulation.ambientC));
  const profile = loadProfile(opts.profile);
  plant.setLoad('all', profile);
  const controllers = zones.map((z) => {
    const c = createZoneController(z, config.cooler.fans);
    if (opts.patch) c.update(opts.patch);
    return c;
  });
  for (const f of config.cooler.fans) plant.setDuty(f.id, 1);
  const dt = config.thermal.periodMs / 1000;
  const total = opts.seconds ?? profile.durationSeconds;
  const steps = Math.round(total / dt);
  const warmup = Math.min(120, total / 4);
  const acc = zones.map(() => ({ peak: -Infinity, crit: 0, above: 0, energy: 0, peakDba: -Infinity, duties: [] as { t: number; duty: number }[], failsafe: 0 }));
  const every = opts.every ?? 0;
  if (every > 0) out(table(['T', ...zones.flatMap((z) => [`${z.id} W`, `${z.id} C`, `${z.id} DUTY`, `${z.id} dBA`])], []));
  for (let k = 0; k < steps; k++) {
    const t = k * dt;
    const hint = profile.hints.find((h) => t >= h.at && t < h.at + h.seconds);
    const row: string[] = [`${t.toFixed(0)} s`];
    zones.forEach((z, i) => {
      const gpus = z.gpus.map((g) => plant.gpu(g));
      const res = controllers[i]!.step({
        now: t,
        temps: gpus.map((g) => Math.round(g.temperatureC)),
        powerW: gpus.map((g) => g.powerW),
        loadHintW: hint?.watts,
        fanRpm: Object.fromEntries(z.fans.map((f) => [f, plant.fan(f).rpm])),
      });
      for (const [f, d] of Object.entries(res.fanDuties)) plant.setDuty(f, d);
      const a = acc[i]!;
      const trueT = Math.max(...gpus.map((g) => g.temperatureC));
      a.peak = Math.max(a.peak, trueT);
      if (trueT >= z.criticalCelsius) a.crit += dt;
      if (trueT > res.setpoint + 3) a.above += dt;
      if (res.failsafe) a.failsafe += 1;
      a.duties.push({ t, duty: res.duty });
      if (opts.record) {
        const rpms = z.fans.map((f) => plant.fan(f).rpm).filter((r): r is number => r !== null);
        opts.record(z.id, { t, temperature: trueT, setpoint: res.setpoint, duty: res.duty, rpm: rpms.length ? rpms.reduce((x, r) => x + r, 0) / rpms.length : null });
      }
      // stopped fans have no level (-Infinity dB): they add no energy and no peak, and read "off"
      const e = z.fans.reduce((sum, f) => sum + (Number.isFinite(plant.fan(f).noiseDba) ? 10 ** (plant.fan(f).noiseDba / 10) : 0), 0);
      const l = e > 0 ? 10 * Math.log10(e) : null;
      a.energy += e * dt;
      if (l !== null) a.peakDba = Math.max(a.peakDba, l);
      if (every > 0 && k % Math.round(every / dt) === 0) row.push(fmt(gpus[0]!.powerW, 0), fmt(trueT, 1), pct(res.duty), dbaText(l));
    });
    if (row.length > 1) out(row.join('  '));
    // (rows are space-joined, not padded: a long timeline streams)
    plant.step(dt);
  }
  return {
    seconds: total,
    zones: zones.map((z, i) => {
      const a = acc[i]!;
      const minutes = Math.max(1e-9, (total - warmup) / 60);
      return {
        zone: z.id,
        peakC: Number(a.peak.toFixed(2)),
        secondsAtOrAboveCritical: Number(a.crit.toFixed(1)),
        secondsAboveSetpointPlus3: Number(a.above.toFixed(1)),
        meanDba: a.energy > 0 ? Number((10 * Math.log10(a.energy / total)).toFixed(2)) : null,
        peakDba: Number.isFinite(a.peakDba) ? Number(a.peakDba.toFixed(2)) : null,
        reversalsPerMinute: Number((countReversals(a.duties, { deadband: 0.02, from: warmup }) / minutes).toFixed(3)),
        failsafeSteps: a.failsafe,
      };
    }),
  };
}
