import { describe, expect, it } from 'vitest';
import { createRigIdentifier, createSlope, DEFAULT_RIG_PRIOR, type RigIdentifier } from '../../../src/thermal/control/identify.ts';
import { bursts, createPlant, k80Rig, profile, type PlantConfig } from '../../../src/thermal/plant/index.ts';

/** a K80 GPU with its heat capacity and conductances scaled (the rig the identifier does not know) */
function rig(o: { capacity?: number; gain?: number; ambientC?: number } = {}): PlantConfig {
  const base = k80Rig({ gpus: 1, fansPerGpu: 3, ambientC: o.ambientC ?? 30, seed: 3 });
  const g = base.gpus[0]!;
  const gain = o.gain ?? 1;
  return { ...base, gpus: [{ ...g, heatCapacityJPerK: g.heatCapacityJPerK * (o.capacity ?? 1), conductanceStillWPerK: g.conductanceStillWPerK / gain, conductanceFullWPerK: g.conductanceFullWPerK / gain }] };
}

/** duty schedule rich enough to tell the terms apart: loads and airflow both change */
const dutyAt = (t: number) => [0.35, 0.8, 0.5, 1, 0.25, 0.6][Math.floor(t / 300) % 6]!;

/**
 * Runs the plant with a load and the duty schedule, feeding the identifier the readings the
 * zone has (whole degrees unless `rounded` is false, optional gaussian sensor noise).
 */
function drive(id: RigIdentifier, plant: PlantConfig, seconds: number, o: { noiseC?: number; power?: boolean; rounded?: boolean; offsetC?: number } = {}) {
  const p = createPlant(plant);
  p.setLoad(0, profile([{ seconds: 60, watts: 30 }, ...bursts(400, 150, 200, 60, seconds)]));
  let seed = 99;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const gauss = () => Math.sqrt(-2 * Math.log(Math.max(1e-12, rnd()))) * Math.cos(2 * Math.PI * rnd());
  const dt = 0.2;
  for (let t = 0; t < seconds; t += dt) {
    const x = dutyAt(t);
    for (const f of p.fans()) p.setDuty(f.id, x);
    const r = p.gpu(0);
    const raw = r.temperatureC + (o.noiseC ? o.noiseC * gauss() : 0);
    const reading = o.rounded === false ? raw : Math.round(raw);
    id.step(dt, reading, o.power === false ? null : r.powerW, x, p.ambientC - (o.offsetC ?? 0));
    p.step(dt);
  }
  return p;
}

const within = (got: number, want: number, share: number) => expect(Math.abs(got / want - 1)).toBeLessThan(share);

describe('rig identification (recursive least squares on the first-order plant)', () => {
  it('converges on a plant with known heat capacity and conductances, from a prior off by x1.6 and x1.5', () => {
    const plant = rig({ capacity: 1.6, gain: 1.5 });
    const id = createRigIdentifier();
    drive(id, plant, 3600);
    const m = id.model();
    const g = plant.gpus[0]!;
    within(m.heatCapacityJPerK, g.heatCapacityJPerK, 0.1);
    within(m.fullWPerK, g.conductanceFullWPerK, 0.1);
    // time constant at full airflow C / G_full, and the duty 110 W needs at 78 C (150 W: more than full fans can hold)
    within(m.timeConstantFullS, g.heatCapacityJPerK / g.conductanceFullWPerK, 0.1);
    expect(Math.abs(m.ambientOffsetC)).toBeLessThan(1);
    const p = createPlant(plant);
    const need = id.dutyFor(110, 78, 30);
    expect(need).toBeLessThan(1);
    expect(p.steadyStateC(0, 110, need)).toBeGreaterThan(77);
    expect(p.steadyStateC(0, 110, need)).toBeLessThan(79);
    expect(id.dutyFor(150, 78, 30)).toBe(1);
    expect(m.confidence).toBeGreaterThan(0.5);
    // the prior alone is far off on this rig
    expect(Math.abs(p.steadyStateC(0, 110, id.priorDutyFor(110, 78, 30)) - 78)).toBeGreaterThan(5);
  });

  it('finds an ambient offset (air at the fins warmer than the intake reading)', () => {
    const id = createRigIdentifier();
    drive(id, rig(), 3600, { offsetC: 5 });
    expect(id.model().ambientOffsetC).toBeGreaterThan(3.5);
    expect(id.model().ambientOffsetC).toBeLessThan(6.5);
  });

  it('rejects sensor noise: 0.7 C gaussian on unrounded readings still lands within 15%, a glitch barely moves it', () => {
    const plant = rig({ gain: 1.4 });
    const id = createRigIdentifier();
    drive(id, plant, 3600, { noiseC: 0.7, rounded: false });
    const g = plant.gpus[0]!;
    within(id.model().heatCapacityJPerK, g.heatCapacityJPerK, 0.15);
    within(id.model().fullWPerK, g.conductanceFullWPerK, 0.15);
    // a 35 C spike for a second at a window's end counts only as an outlier: the estimates barely move
    const before = id.model();
    for (let t = 0; t < 40; t += 0.2) id.step(0.2, t > 19 && t < 20 ? 110 : 75, 150, 0.5, 30);
    const after = id.model();
    expect(after.rejected - before.rejected).toBeGreaterThanOrEqual(1);
    expect(after.rejected - before.rejected).toBeLessThanOrEqual(2);
    within(after.heatCapacityJPerK, before.heatCapacityJPerK, 0.05);
    within(after.fullWPerK, before.fullWPerK, 0.05);
  });

  it('learns nothing without power readings and gives the observer the prior; non-finite input never reaches the estimates', () => {
    const id = createRigIdentifier();
    drive(id, rig({ gain: 1.5 }), 1200, { power: false });
    expect(id.state().updates).toBe(0);
    // the observer: a GPU at 65 C with the prior's conductance, steady, dissipates G (T - Ta)
    const g = DEFAULT_RIG_PRIOR;
    const at = g.stillWPerK + (g.fullWPerK - g.stillWPerK) * 0.5 ** g.airflowExponent;
    expect(id.heatW(65, 0, 0.5, 30)).toBeCloseTo(at * 35, 6);
    // rising at 0.1 C/s adds C x 0.1
    expect(id.heatW(65, 0.1, 0.5, 30)).toBeCloseTo(at * 35 + 40, 6);
    for (const bad of [Number.NaN, Infinity, -Infinity]) {
      for (let t = 0; t < 45; t += 0.2) id.step(0.2, bad, 150, 0.5, 30);
      for (let t = 0; t < 45; t += 0.2) id.step(0.2, 70, bad, bad, 30);
      for (let t = 0; t < 45; t += 0.2) id.step(0.2, 70, 150, 0.5, bad);
      id.step(bad, 70, 150, 0.5, 30);
    }
    const m = id.model();
    for (const v of Object.values(m)) expect(Number.isFinite(v)).toBe(true);
    for (const v of [id.dutyFor(150, 78, 30), id.dutyFor(Number.NaN, 78, 30), id.heatW(Number.NaN, 0, 0.5, 30), id.dutyFor(150, 25, 30)]) expect(Number.isFinite(v)).toBe(true);
    expect(id.dutyFor(150, 25, 30)).toBe(1);
  });

  it('stays inside physical bounds whatever it is fed (a constant temperature under changing power)', () => {
    const id = createRigIdentifier();
    for (let t = 0; t < 7200; t += 0.2) id.step(0.2, 60, (Math.floor(t / 40) % 2) * 300, Math.floor(t / 70) % 2, 30);
    const m = id.model();
    for (const v of Object.values(m)) expect(Number.isFinite(v)).toBe(true);
    expect(m.heatCapacityJPerK).toBeGreaterThan(0);
    expect(m.stillWPerK).toBeGreaterThan(0);
    expect(m.fullWPerK).toBeGreaterThan(m.stillWPerK);
  });

  it('a saved state restores exactly; out-of-bounds or malformed states are refused, changing nothing', () => {
    const id = createRigIdentifier();
    drive(id, rig({ gain: 1.3 }), 1500);
    const saved = JSON.parse(JSON.stringify(id.state()));
    const other = createRigIdentifier();
    expect(other.restore(saved)).toBe(true);
    expect(other.model()).toEqual(id.model());
    expect(other.dutyFor(150, 78, 30)).toBe(id.dutyFor(150, 78, 30));
    const fresh = createRigIdentifier();
    const was = fresh.state();
    for (const bad of [
      { ...saved, theta: [Number.NaN, 1, 1, 0] },
      { ...saved, theta: [100, 1, 1, 0] },
      { ...saved, theta: [1, 1, 1] },
      { ...saved, covariance: saved.covariance.map((v: number, i: number) => (i === 0 ? -1 : v)) },
      { ...saved, covariance: saved.covariance.map((v: number, i: number) => (i === 1 ? v + 1 : v)) },
      { ...saved, updates: -1 },
    ])
      expect(fresh.restore(bad)).toBe(false);
    expect(fresh.state()).toEqual(was);
  });
  it('secondsTo: the first-order step response of the identified rig (the prior before it learns)', () => {
    const id = createRigIdentifier();
    const { heatCapacityJPerK: c, stillWPerK: gs, fullWPerK: gf, airflowExponent: n } = DEFAULT_RIG_PRIOR;
    const g = gs + (gf - gs) * 0.2 ** n;
    const settle = 30 + 150 / g;
    expect(id.secondsTo(40, 150, 0.2, 30, 72)).toBeCloseTo((c / g) * Math.log((settle - 40) / (settle - 72)), 6);
    expect(id.secondsTo(72, 150, 0.2, 30, 72)).toBe(0);
    // a load that settles under the target at that airflow never gets there
    expect(id.secondsTo(40, 60, 0.2, 30, 72)).toBe(Infinity);
    // more airflow: later
    expect(id.secondsTo(40, 150, 0.5, 30, 72)).toBeGreaterThan(id.secondsTo(40, 150, 0.2, 30, 72));
  });
});

describe('window slope (the heat observer)', () => {
  it('gives the slope of the window and the mean of a companion over the same window; heatFrom adds C x slope to it', () => {
    const s = createSlope(20);
    let slope: number | null = null;
    // 0.1 C/s for 40 s; the companion steps from 10 to 30 at 30 s: a 20 s window at 40 s holds 10 s of each
    for (let t = 0; t <= 40 + 1e-9; t += 0.2) slope = s.push(t, 30 + 0.1 * t, t < 30 - 1e-9 ? 10 : 30);
    expect(slope).toBeCloseTo(0.1, 9);
    expect(s.mean()).toBeGreaterThan(19);
    expect(s.mean()).toBeLessThan(21);
    const id = createRigIdentifier();
    expect(id.heatFrom(0.1, 50)).toBeCloseTo(DEFAULT_RIG_PRIOR.heatCapacityJPerK * 0.1 + 50, 9);
    // the cooling of a steady die is what heatW gives with no slope
    expect(id.coolingW(65, 0.5, 30)).toBeCloseTo(id.heatW(65, 0, 0.5, 30), 9);
    s.reset();
    expect(s.mean()).toBe(0);
    expect(s.push(0, 30, Number.NaN)).toBeNull();
    expect(s.mean()).toBe(0);
  });
});

describe('rig identifier: gaps in the readings', () => {
  it('a step longer than a few seconds (a stalled loop, a sensor outage) drops the window instead of integrating one reading over the gap', () => {
    const id = createRigIdentifier();
    drive(id, rig(), 1800);
    const before = id.model();
    // the die seen 60 s later, 30 C cooler, the load gone: nothing is known of the minute between
    for (let k = 0; k < 5; k++) expect(id.step(60, 40, 150, 0.5, 30)).toBe(false);
    expect(id.model().updates).toBe(before.updates);
    expect(id.model().heatCapacityJPerK).toBe(before.heatCapacityJPerK);
  });
});
