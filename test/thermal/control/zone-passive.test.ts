/**
 * Stopping the fans under a light load that the heatsink holds passively (issue 14: a 40 W load
 * on a heatsink that carries it has no need of fans at minDuty). On the plant: the identified rig
 * (still-air conductance measured with the fans stopped) decides, with hysteresis.
 */
import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { ZoneConfig } from '../../../src/thermal/config.ts';
import { countReversals, createZoneController } from '../../../src/thermal/control/index.ts';
import { bursts, createPlant, fanConfigsFor, k80Rig, profile, type LoadSegment, type PlantConfig } from '../../../src/thermal/plant/index.ts';

const SETPOINT = 72;
const IDLE_S = 300;
const HEAVY_S = 600;

/** a K80 board whose heatsink sheds 2 W/K with the fans stopped (30 C air: 55 W settles at 57.5 C, 100 W at 80 C) */
function rig(): PlantConfig {
  const base = k80Rig({ gpus: 1, fansPerGpu: 3, ambientC: 30, seed: 7, powerNoiseW: 0.5 });
  return { ...base, gpus: base.gpus.map((g) => ({ ...g, conductanceStillWPerK: 2, conductanceFullWPerK: 6 })) };
}

interface Trace {
  t: number;
  duty: number;
  stopped: boolean;
  powerW: number;
  dieC: number;
}

/** idle (fans stop, the still air is identified) -> 150 W (fans run) -> `light` */
function runOnPlant(light: LoadSegment[], opts: { heavy?: boolean } = {}): Trace[] {
  const cfg = rig();
  const plant = createPlant(cfg);
  const segs = [{ seconds: IDLE_S, watts: 30 }, ...(opts.heavy === false ? [] : [{ seconds: HEAVY_S, watts: 150 }]), ...light];
  plant.setLoad(0, profile(segs));
  const fans = fanConfigsFor(cfg, { minDuty: 0.2, startDuty: 0.5 });
  const base = Value.Default(ZoneConfig, { id: 'z', gpus: [0], fans: fans.map((f) => f.id) }) as ZoneConfig;
  const zone = createZoneController({ ...base, pid: { ...base.pid, setpoint: SETPOINT } }, fans);
  const total = segs.reduce((s, x) => s + x.seconds, 0);
  const out: Trace[] = [];
  for (let t = 0; t < total; t += 0.2) {
    const g = plant.gpu(0);
    const step = zone.step({
      now: t,
      temps: [Math.round(g.temperatureC)],
      powerW: [Math.round(g.powerW * 100) / 100],
      ambientC: plant.ambientC,
      fanRpm: Object.fromEntries(plant.fans().map((f) => [f.id, f.rpm])),
    });
    for (const [id, d] of Object.entries(step.fanDuties)) plant.setDuty(id, d);
    plant.step(0.2);
    out.push({ t, duty: step.duty, stopped: step.stopped, powerW: g.powerW, dieC: plant.gpu(0).temperatureC });
  }
  return out;
}

/** fan stops and starts at or after `from` */
function transitions(trace: Trace[], from: number): number {
  let n = 0;
  for (let k = 1; k < trace.length; k++) if (trace[k]!.t >= from && trace[k]!.stopped !== trace[k - 1]!.stopped) n++;
  return n;
}

const LIGHT_AT = IDLE_S + HEAVY_S;

describe('zone controller: stopping under a light load the heatsink holds', () => {
  it('stops the fans under 55 W that the identified heatsink settles well under the setpoint, and keeps them stopped', () => {
    const trace = runOnPlant([{ seconds: 1500, watts: 55 }]);
    const light = trace.filter((s) => s.t >= LIGHT_AT);
    // running at the end of the heavy load, then one stop under the light load and no restart
    expect(trace.find((s) => s.t >= LIGHT_AT - 1)!.stopped).toBe(false);
    expect(transitions(trace, LIGHT_AT)).toBe(1);
    const stopAt = light.find((s) => s.stopped)!;
    expect(stopAt.powerW).toBeGreaterThan(45); // a load, not idle
    // (when depends on the identified rig: 600-620 s; the heavy load before it, held at the setpoint
    // from its arrival instead of settling over it, gives the identifier other windows)
    expect(stopAt.t - LIGHT_AT).toBeLessThan(660);
    expect(light.at(-1)!.stopped).toBe(true);
    // stopped, the die settles where the heatsink holds it: well under the setpoint
    expect(Math.max(...light.filter((s) => s.t >= stopAt.t).map((s) => s.dieC))).toBeLessThan(SETPOINT - 3);
    expect(light.at(-1)!.dieC).toBeGreaterThan(50);
  });

  it('does not stop them under 100 W that the heatsink cannot hold (it would settle at 80 C), and holds the setpoint', () => {
    const trace = runOnPlant([{ seconds: 1500, watts: 100 }]);
    const light = trace.filter((s) => s.t >= LIGHT_AT);
    expect(light.some((s) => s.stopped)).toBe(false);
    expect(Math.max(...trace.map((s) => s.dieC))).toBeLessThanOrEqual(SETPOINT + 1.5);
  });

  it('20 s bursts: no hunting; bursts whose peaks the heatsink cannot hold never stop the fans, ones it holds stop them once', () => {
    for (const [peakW, expectStops] of [
      [150, 0],
      [60, 1],
    ] as const) {
      const trace = runOnPlant(bursts(20, peakW, 20, 40, 1800));
      const perMin = countReversals(trace, { deadband: 0.02, from: LIGHT_AT }) / ((trace.at(-1)!.t - LIGHT_AT) / 60);
      expect(perMin, `${peakW} W bursts`).toBeLessThanOrEqual(0.2);
      expect(transitions(trace, LIGHT_AT), `${peakW} W bursts`).toBe(expectStops);
      expect(Math.max(...trace.map((s) => s.dieC)), `${peakW} W bursts`).toBeLessThanOrEqual(SETPOINT + 1.5);
    }
  });

  it('restarts early, before the setpoint, when the load grows past what the heatsink holds', () => {
    const trace = runOnPlant([
      { seconds: 900, watts: 55 },
      { seconds: 900, watts: 110 },
    ]);
    const step = LIGHT_AT + 900;
    expect(trace.find((s) => s.t >= step - 1)!.stopped).toBe(true);
    const after = trace.filter((s) => s.t >= step);
    const restart = after.find((s) => !s.stopped)!;
    expect(restart).toBeDefined();
    expect(restart.dieC).toBeLessThan(SETPOINT - 1);
    expect(Math.max(...after.map((s) => s.dieC))).toBeLessThanOrEqual(SETPOINT + 1.5);
  });
});
