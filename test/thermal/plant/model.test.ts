import { describe, expect, it } from 'vitest';
import { FAN_40MM, K80_GPU, SW_THERMAL_SLOWDOWN, bursts, conductance, constant, createPlant, fanConfigsFor, k80Rig, profile, standardBenchmarkProfile } from '../../../src/thermal/plant/index.ts';

const setAll = (plant: ReturnType<typeof createPlant>, duty: number) => {
  for (const f of plant.fans()) plant.setDuty(f.id, duty);
};

describe('plant: GPU thermal model', () => {
  it('settles at the analytic steady state T = Tamb + P / G(airflow)', () => {
    const plant = createPlant(k80Rig({ gpus: 1 }));
    plant.setLoad(0, 150);
    // start the fans above their start duty, then hold 60%
    setAll(plant, 0.6);
    plant.step(3600);
    const x = plant.gpu(0).airflow;
    expect(x).toBeCloseTo(0.6, 3);
    const expected = 30 + 150 / (K80_GPU.conductanceStillWPerK + (K80_GPU.conductanceFullWPerK - K80_GPU.conductanceStillWPerK) * 0.6 ** K80_GPU.airflowExponent);
    expect(plant.gpu(0).temperatureC).toBeCloseTo(expected, 3);
    expect(plant.steadyStateC(0, 150, 0.6)).toBeCloseTo(expected, 9);
  });

  it('has the documented K80 figures: 150 W at full fans in the 60s, weak cooling above 90 C, passive idle near 68 C', () => {
    const plant = createPlant(k80Rig());
    expect(plant.steadyStateC(0, 150, 1)).toBeGreaterThan(60);
    expect(plant.steadyStateC(0, 150, 1)).toBeLessThan(70);
    expect(plant.steadyStateC(0, 150, 0.2)).toBeGreaterThan(90);
    expect(plant.steadyStateC(0, 30, 0)).toBeCloseTo(67.5, 1);
    expect(conductance(K80_GPU, 0)).toBe(K80_GPU.conductanceStillWPerK);
  });

  it('responds with the first-order time constant C / G', () => {
    const plant = createPlant(k80Rig());
    setAll(plant, 1);
    plant.step(10); // fans up
    plant.setLoad(0, 100);
    const t0 = plant.gpu(0).temperatureC;
    const G = conductance(K80_GPU, plant.gpu(0).airflow);
    const tau = K80_GPU.heatCapacityJPerK / G;
    const tInf = 30 + 100 / G;
    plant.step(tau);
    expect(plant.gpu(0).temperatureC).toBeCloseTo(tInf + (t0 - tInf) * Math.exp(-1), 1);
  });

  it('throttles (less heat, SW thermal slowdown reported) at the slowdown temperature', () => {
    const plant = createPlant({ ...k80Rig(), gpus: [{ index: 0, ...K80_GPU, fans: ['gpu0-a', 'gpu0-b', 'gpu0-c'], initialC: 95 }] });
    plant.setLoad(0, 150);
    const g = plant.gpu(0);
    expect(g.clocksEventReasons & SW_THERMAL_SLOWDOWN).toBe(SW_THERMAL_SLOWDOWN);
    expect(g.powerW).toBeCloseTo(150 * K80_GPU.throttlePowerShare);
  });

  it('is deterministic for a seed, with noise only on the power reading', () => {
    const run = (seed: number) => {
      const plant = createPlant(k80Rig({ seed, powerNoiseW: 2 }));
      plant.setLoad(0, standardBenchmarkProfile());
      setAll(plant, 0.5);
      const out: number[] = [];
      for (let k = 0; k < 50; k++) {
        plant.step(1);
        out.push(plant.gpu(0).powerW, plant.gpu(0).temperatureC);
      }
      return out;
    };
    expect(run(3)).toEqual(run(3));
    const a = run(3);
    const b = run(4);
    expect(a.filter((_, k) => k % 2 === 1)).toEqual(b.filter((_, k) => k % 2 === 1)); // temperatures
    expect(a.filter((_, k) => k % 2 === 0)).not.toEqual(b.filter((_, k) => k % 2 === 0)); // power readings
  });

  it('rejects bad input with the field named', () => {
    const plant = createPlant(k80Rig());
    expect(() => plant.setDuty('nope', 0.5)).toThrow(/unknown fan "nope"/);
    expect(() => plant.setDuty('gpu0-a', Number.NaN)).toThrow(/duty must be a number/);
    expect(() => plant.step(-1)).toThrow(/dtSeconds/);
    expect(() => plant.gpu(7)).toThrow(/no gpu 7/);
  });
});

describe('plant: fans', () => {
  it('lags duty with a first-order rpm response', () => {
    const plant = createPlant(k80Rig());
    plant.setDuty('gpu0-a', 1);
    plant.step(FAN_40MM.rpmTauSeconds);
    expect(plant.fan('gpu0-a').trueRpm).toBeCloseTo(9000 * (1 - Math.exp(-1)), 0);
    plant.step(10);
    expect(plant.fan('gpu0-a').rpm).toBe(9000);
  });

  it('needs its start duty from standstill and stalls below its stall duty', () => {
    const plant = createPlant(k80Rig());
    plant.setDuty('gpu0-a', 0.25); // below the 0.3 start duty
    plant.step(5);
    expect(plant.fan('gpu0-a').rpm).toBe(0);
    plant.setDuty('gpu0-a', 0.5); // kick
    plant.step(3);
    plant.setDuty('gpu0-a', 0.15); // turning: keeps going above the 0.12 stall duty
    plant.step(15);
    expect(plant.fan('gpu0-a').trueRpm).toBeCloseTo(0.15 * 9000, -1);
    plant.setDuty('gpu0-a', 0.1); // below stall
    plant.step(10);
    expect(plant.fan('gpu0-a').trueRpm).toBeLessThan(1);
  });

  it('reports noise L = Lmax + 50 log10(rpm/rpmMax) per fan, summed as energy', () => {
    const plant = createPlant(k80Rig());
    setAll(plant, 0.5);
    plant.step(30);
    const f = plant.fan('gpu0-a');
    expect(f.noiseDba).toBeCloseTo(40 + 50 * Math.log10(0.5), 2);
    expect(plant.noiseDba()).toBeCloseTo(40 + 50 * Math.log10(0.5) + 10 * Math.log10(3), 2);
    setAll(plant, 0);
    plant.step(60);
    expect(plant.noiseDba()).toBe(-Infinity);
  });

  it('injects faults: a blocked rotor reads 0 rpm, a cut tach wire reads null', () => {
    const plant = createPlant(k80Rig());
    setAll(plant, 0.8);
    plant.step(5);
    plant.setFanFault('gpu0-a', 'stalled');
    plant.setFanFault('gpu0-b', 'no-tach');
    plant.step(1);
    expect(plant.fan('gpu0-a').rpm).toBe(0);
    expect(plant.fan('gpu0-b').rpm).toBeNull();
    expect(plant.fan('gpu0-b').trueRpm).toBeGreaterThan(7000);
    // the stalled fan moves no air
    expect(plant.gpu(0).airflow).toBeLessThan(0.7);
  });

  it('builds cooler fan configs that match the plant', () => {
    const rig = k80Rig({ gpus: 2 });
    const fans = fanConfigsFor(rig);
    expect(fans.map((f) => f.id)).toEqual(['gpu0-a', 'gpu0-b', 'gpu0-c', 'gpu1-a', 'gpu1-b', 'gpu1-c']);
    expect(new Set(fans.map((f) => f.channel)).size).toBe(6);
    expect(fans[0]).toMatchObject({ maxRpm: 9000, maxDba: 40, minDuty: 0.2, startDuty: 0.5 });
  });
});

describe('load profiles', () => {
  it("is the issue's standard profile", () => {
    const p = standardBenchmarkProfile();
    expect(p.durationSeconds).toBe(120 + 600 + 600 + 300);
    expect(p.at(0).watts).toBe(30);
    expect(p.at(119.9).watts).toBe(30);
    expect(p.at(120).watts).toBe(150);
    expect(p.at(719).watts).toBe(150);
    expect(p.at(725).watts).toBe(150);
    expect(p.at(745).watts).toBe(40);
    expect(p.at(765).watts).toBe(150);
    expect(p.at(1319).watts).toBe(40);
    expect(p.at(1400).watts).toBe(30);
    expect(p.hints.map((h) => h.at)).toEqual([120, 720]);
  });

  it('builds bursts and constants, and names bad segments', () => {
    expect(bursts(20, 150, 20, 40, 100).map((s) => [s.seconds, s.watts])).toEqual([
      [20, 150],
      [20, 40],
      [20, 150],
      [20, 40],
      [20, 150],
    ]);
    expect(constant(80).at(1e6).watts).toBe(80);
    expect(() => profile([{ seconds: 0, watts: 10 }])).toThrow(/segments\[0\]\.seconds/);
    expect(() => profile([{ seconds: 5, watts: -1 }])).toThrow(/segments\[0\]\.watts/);
  });

  it('drives the plant relative to when it was set', () => {
    const plant = createPlant(k80Rig());
    plant.step(100);
    plant.setLoad(0, profile([{ seconds: 10, watts: 50 }, { seconds: 10, watts: 120 }]));
    plant.step(5);
    expect(plant.gpu(0).powerW).toBe(50);
    plant.step(10);
    expect(plant.gpu(0).powerW).toBe(120);
    expect(plant.gpu(0).utilization).toBeCloseTo(0.75);
  });
});
