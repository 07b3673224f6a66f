import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { ZoneConfig } from '../../../src/thermal/config.ts';
import { createZoneController } from '../../../src/thermal/control/index.ts';
import { NoiseBudget } from '../../../src/thermal/music/budget.ts';
import { MusicConfig } from '../../../src/thermal/music/config.ts';
import { zoneNoiseDba } from '../../../src/thermal/music/noise.ts';
import { createPlant, fanConfigsFor, k80Rig } from '../../../src/thermal/plant/index.ts';

const rig = k80Rig({ gpus: 1, fansPerGpu: 3, ambientC: 30 });
const fanConfigs = fanConfigsFor(rig);
const FANS = fanConfigs.map((f) => ({ id: f.id, maxRpm: f.maxRpm, minDuty: f.minDuty, startDuty: f.startDuty, maxDba: f.maxDba }));
const music = (patch: Record<string, unknown> = {}) => Value.Default(MusicConfig, Value.Clone({ enabled: true, ...patch })) as MusicConfig;
const ZONE = { setpoint: 78, criticalCelsius: 90, minDuty: 0.2, maxDuty: 1, sensorResolutionCelsius: 1 };

/** loud (90 dBA) 240 s, quiet (36 dBA: the fans may make 26) 150 s, loud 120 s */
const TRACK = [...Array(240).fill(90), ...Array(150).fill(36), ...Array(120).fill(90)] as number[];
const QUIET = { from: 240, to: 390 };

/** the K80 plant at 150 W from t=0, the zone controller at 78 C, with or without the budget; per-second fan level and temperature */
function simulate(aware: boolean) {
  const plant = createPlant({ ...rig, gpus: rig.gpus.map((g) => ({ ...g, initialC: 70 })) });
  plant.setLoad(0, 150);
  const zone = createZoneController(Value.Default(ZoneConfig, Value.Clone({ id: 'z', gpus: [0], fans: FANS.map((f) => f.id), pid: { setpoint: 78 } })) as ZoneConfig, fanConfigs);
  const budget = new NoiseBudget(FANS, music());
  budget.set({ levelsDba: TRACK, positionS: 0, anchorS: 0, rate: 1, loop: false });
  const perSecond: Array<{ fanDba: number; tempC: number; floor: number }> = [];
  let floor = 0;
  let lastDuty: number | undefined;
  let peak = -Infinity;
  let energy = 0;
  for (let k = 0; k < TRACK.length * 10; k++) {
    const now = k / 10;
    if (k % 2 === 0) {
      const g = plant.gpu(0);
      const temp = Math.round(g.temperatureC);
      const b = aware ? budget.step({ nowS: now, temperature: temp, watts: g.powerW, ambientC: 30, duty: lastDuty, zone: ZONE }) : null;
      floor = Math.max(floor, b?.floor ?? 0);
      const out = zone.step({ now, temps: [temp], powerW: [g.powerW], budget: b });
      lastDuty = out.duty;
      for (const f of FANS) plant.setDuty(f.id, out.fanDuties[f.id] ?? 0);
    }
    plant.step(0.1);
    peak = Math.max(peak, plant.gpu(0).temperatureC);
    const l = plant.noiseDba();
    energy += Number.isFinite(l) ? 10 ** (l / 10) : 0;
    if (k % 10 === 9) {
      perSecond.push({ fanDba: energy > 0 ? 10 * Math.log10(energy / 10) : -Infinity, tempC: plant.gpu(0).temperatureC, floor });
      energy = 0;
      floor = 0;
    }
  }
  const audible = perSecond.filter((s, i) => s.fanDba > TRACK[i]! - 10).length;
  return { perSecond, audible, peak };
}

describe('noise budget on the simulated K80 plant', () => {
  const blind = simulate(false);
  const aware = simulate(true);

  it('the music-blind controller hums through the quiet passage (what the budget is for)', () => {
    expect(blind.audible).toBeGreaterThan(100);
  });

  it('pre-cools in the loud passage ahead of the quiet one, then keeps the fans inaudible through it within the temperature ceiling', () => {
    // a floor ahead of the passage, led by about a time constant: the die is well under the setpoint when it starts
    const lead = aware.perSecond.slice(QUIET.from - 150, QUIET.from).filter((s) => s.floor > 0.5).length;
    expect(lead).toBeGreaterThan(20);
    expect(aware.perSecond[QUIET.from - 1]!.tempC).toBeLessThan(74);
    expect(blind.perSecond[QUIET.from - 1]!.tempC).toBeGreaterThan(76);
    // the passage itself: at most the first second or two while the fans spin down
    const audibleInQuiet = aware.perSecond.slice(QUIET.from, QUIET.to).filter((s) => s.fanDba > 26).length;
    expect(audibleInQuiet).toBeLessThanOrEqual(2);
    expect(aware.audible).toBeLessThanOrEqual(2);
    // the die warmed in the passage, but not past the ceiling (setpoint + warmAboveSetpointCelsius)
    expect(Math.max(...aware.perSecond.slice(QUIET.from, QUIET.to).map((s) => s.tempC))).toBeGreaterThan(74);
    expect(aware.peak).toBeLessThanOrEqual(79.5);
  });
});

describe('noise budget: bounds per step', () => {
  const step = (b: NoiseBudget, nowS: number, temperature: number, watts = 150) => b.step({ nowS, temperature, watts, ambientC: 30, zone: ZONE });

  it('caps the duty to the allowance in a quiet second and lifts the cap with the floor at full at the ceiling (safety wins), until the die is back under it', () => {
    const b = new NoiseBudget(FANS, music());
    b.set({ levelsDba: Array(600).fill(40) as number[], positionS: 0, anchorS: 0, rate: 1, loop: false });
    const quiet = step(b, 0, 60)!;
    expect(quiet.lifted).toBeNull();
    expect(quiet.allowedDba).toBe(30);
    expect(zoneNoiseDba(FANS, quiet.cap)).toBeLessThanOrEqual(30);
    expect(quiet.cap).toBeGreaterThan(0.4);
    const hot = step(b, 1, 79)!;
    expect(hot).toMatchObject({ cap: 1, floor: 1, lifted: 'ceiling' });
    expect(step(b, 2, 78)!.lifted).toBe('ceiling');
    expect(step(b, 3, 76)!.lifted).toBeNull();
  });

  it('a second of silence stops the fans (cap under minDuty) when the die has room', () => {
    const b = new NoiseBudget(FANS, music());
    b.set({ levelsDba: [...Array(10).fill(0), ...Array(100).fill(95)] as number[], positionS: 0, anchorS: 0, rate: 1, loop: false });
    const s = step(b, 0, 60)!;
    expect(s.cap).toBeLessThan(ZONE.minDuty);
    expect(s.floor).toBe(0);
  });

  it('keeps stopped fans stopped where their kick-start would be heard, unless the die needs them now', () => {
    // 22 dBA: three fans at their minimum (9.8 dBA) fit under 12, a kick at start duty (29.7 dBA) does not
    const b = new NoiseBudget(FANS, music());
    b.set({ levelsDba: Array(100).fill(22) as number[], positionS: 0, anchorS: 0, rate: 1, loop: false });
    const running = step(b, 0, 60);
    expect(running!.cap).toBeGreaterThanOrEqual(ZONE.minDuty);
    const stopped = b.step({ nowS: 0.2, temperature: 60, watts: 150, ambientC: 30, duty: 0, zone: ZONE })!;
    expect(stopped.cap).toBe(0);
    // at the ceiling's path the die needs them: they restart (one kick)
    const hot = new NoiseBudget(FANS, music());
    hot.set({ levelsDba: Array(100).fill(22) as number[], positionS: 0, anchorS: 0, rate: 1, loop: false });
    expect(hot.step({ nowS: 0, temperature: 78, watts: 150, ambientC: 30, duty: 0, zone: ZONE })!.cap).toBeGreaterThanOrEqual(ZONE.minDuty);
  });

  it('runs on no track, past its end, or far before its start; follows re-anchored positions at their pace; loops', () => {
    const b = new NoiseBudget(FANS, music({ horizonSeconds: 60 }));
    expect(step(b, 0, 60)).toBeNull();
    b.set({ levelsDba: [...Array(10).fill(40), ...Array(10).fill(90)] as number[], positionS: 0, anchorS: 100, rate: 1, loop: false });
    expect(step(b, 100, 60)!.musicDba).toBe(40);
    expect(step(b, 112, 60)!.musicDba).toBe(90);
    expect(step(b, 121, 60)).toBeNull();
    // a render at half speed: re-anchored at 0 then at 2.5 s after 5 s
    b.position(0, 200);
    b.position(2.5, 205);
    expect(b.active!.rate).toBeCloseTo(0.5, 9);
    expect(step(b, 220, 60)!.musicDba).toBe(90); // 2.5 + 0.5 * 15 = 10
    b.set({ levelsDba: [...Array(10).fill(40), ...Array(10).fill(90)] as number[], positionS: -100, anchorS: 0, rate: 1, loop: false });
    expect(step(b, 0, 60)).toBeNull(); // starts beyond the horizon
    expect(step(b, 50, 60)!.musicDba).toBeNaN(); // before the start: the plan sees it coming, no cap yet
    b.set({ levelsDba: [...Array(10).fill(40), ...Array(10).fill(90)] as number[], positionS: 0, anchorS: 0, rate: 1, loop: true });
    expect(step(b, 25, 60)!.musicDba).toBe(40);
    expect(() => b.set({ levelsDba: [], positionS: 0, anchorS: 0, rate: 1, loop: false })).toThrow(/levelsDba/);
    expect(() => new NoiseBudget(FANS, music({ model: { conductanceStillWPerK: 5, conductanceFullWPerK: 4, heatCapacityJPerK: 400, airflowExponent: 0.6 } }))).toThrow(/conductanceFullWPerK/);
  });
});

describe('noise budget: the observer', () => {
  // The observer reads only the readings, the watts and the duty applied, never the plan: the
  // shortest horizon leaves what it learns unchanged (checked: the same offsets, second by
  // second, as at the default 600 s) and makes each step ~20x cheaper than planning 600 s ahead.
  const observing = () => music({ horizonSeconds: 10 });

  it('learns the heat the model is missing on a rig off it (20% less conductance: dust), from whole-degree readings', () => {
    const dusty = { ...rig, gpus: rig.gpus.map((g) => ({ ...g, conductanceStillWPerK: g.conductanceStillWPerK * 0.8, conductanceFullWPerK: g.conductanceFullWPerK * 0.8 })) };
    const plant = createPlant(dusty);
    plant.setLoad(0, 150);
    for (const f of FANS) plant.setDuty(f.id, 0.5);
    const b = new NoiseBudget(FANS, observing());
    b.set({ levelsDba: Array(3600).fill(90) as number[], positionS: 0, anchorS: 0, rate: 1, loop: false });
    let last = null as ReturnType<NoiseBudget['step']>;
    for (let k = 0; k < 2400 * 5; k++) {
      const now = k / 5;
      const g = plant.gpu(0);
      last = b.step({ nowS: now, temperature: Math.round(g.temperatureC), watts: g.powerW, ambientC: 30, duty: 0.5, zone: ZONE });
      plant.step(0.2);
    }
    // the model at duty 0.5 conducts G = 0.8 + 3.5 * 0.5^0.6 W/K; the die settles where that needs 150 W + offset
    const tSteady = plant.steadyStateC(0, 150, 0.5);
    const gModel = 0.8 + 3.5 * 0.5 ** 0.6;
    expect(last!.offsetW).toBeGreaterThan(0.85 * (gModel * (tSteady - 30) - 150));
    expect(last!.offsetW).toBeLessThan(1.15 * (gModel * (tSteady - 30) - 150));
    // on the model's own rig it stays near nothing
    const exact = createPlant(rig);
    exact.setLoad(0, 150);
    for (const f of FANS) exact.setDuty(f.id, 0.5);
    const c = new NoiseBudget(FANS, observing());
    c.set({ levelsDba: Array(3600).fill(90) as number[], positionS: 0, anchorS: 0, rate: 1, loop: false });
    for (let k = 0; k < 2400 * 5; k++) {
      const g = exact.gpu(0);
      last = c.step({ nowS: k / 5, temperature: Math.round(g.temperatureC), watts: g.powerW, ambientC: 30, duty: 0.5, zone: ZONE });
      exact.step(0.2);
    }
    expect(Math.abs(last!.offsetW)).toBeLessThan(5);
  });
});
