/** Step response and FOPDT fit against the plant simulator, in simulated time. */
import { describe, expect, it } from 'vitest';
import { conductance, createPlant, k80Rig, K80_GPU, FAN_40MM } from '../../../src/thermal/plant/index.ts';
import { plantZoneIo, TuningAbortedError } from '../../../src/thermal/tuning/zone-io.ts';
import { runStep } from '../../../src/thermal/tuning/step.ts';
import { fitStep, fopdtStep } from '../../../src/thermal/tuning/fopdt.ts';

const FANS = ['gpu0-a', 'gpu0-b', 'gpu0-c'];

/** The plant's own parameters for a step of its fans from `from` to `to` at `watts`. */
function truth(watts: number, from: number, to: number) {
  const ss = (x: number) => 30 + watts / conductance(K80_GPU, x);
  return {
    gain: (ss(to) - ss(from)) / (to - from),
    timeConstantS: K80_GPU.heatCapacityJPerK / conductance(K80_GPU, to),
    // the fans' rpm lag is the plant's only delay
    deadTimeS: FAN_40MM.rpmTauSeconds,
  };
}

describe('fitStep', () => {
  it('recovers an exact FOPDT response', () => {
    const model = { gain: -40, timeConstantS: 90, deadTimeS: 3 };
    const pts = [];
    for (let t = -30; t <= 600; t += 0.5) pts.push({ t, temperature: fopdtStep(model, 80, 0.3, t) });
    const fit = fitStep(pts, 0.4, 0.7);
    expect(fit.gain).toBeCloseTo(-40, 2);
    expect(fit.timeConstantS).toBeCloseTo(90, 1);
    expect(fit.deadTimeS).toBeCloseTo(3, 1);
    expect(fit.r2).toBeGreaterThan(0.9999);
  });

  it('refuses a record with no step', () => {
    expect(() => fitStep([{ t: 0, temperature: 1 }], 0.5, 0.5)).toThrow(/did not change/);
  });
});

describe('runStep on the simulator', () => {
  // Stated tolerances. An exact sensor: gain and time constant within 2 %, dead time within 0.75 s
  // of the fans' rpm lag (the plant's only delay). nvidia-smi's whole degrees: a flat level reads
  // up to 0.5 C off (80.4 C reads 80 for good), so on a ~9 C step the gain is within 8 %, the time
  // constant 5 %, the dead time 2.5 s (the first degree of change shows late).
  for (const [resolutionC, tol] of [
    [0, { gain: 0.02, tau: 0.02, theta: 0.75, r2: 0.9999 }],
    [1, { gain: 0.08, tau: 0.05, theta: 2.5, r2: 0.99 }],
  ] as const) {
    it(`identifies gain, time constant and dead time (sensor resolution ${resolutionC || 'exact'} C)`, async () => {
      const plant = createPlant(k80Rig({ gpus: 1 }));
      plant.setLoad('all', 150);
      const io = plantZoneIo({ plant, gpus: [0], fans: FANS, periodS: 0.5, resolutionC });
      const r = await runStep(io, { fromDuty: 0.45, toDuty: 0.7, abortAboveC: 90 });
      const want = truth(150, 0.45, 0.7);
      const err = {
        gain: Math.abs(r.fit.gain / want.gain - 1),
        tau: Math.abs(r.fit.timeConstantS / want.timeConstantS - 1),
        theta: Math.abs(r.fit.deadTimeS - want.deadTimeS),
      };
      console.log(`step fit (resolution ${resolutionC})`, JSON.stringify({ fit: r.fit, want, err }));
      expect(r.settled).toBe(true);
      expect(err.gain).toBeLessThan(tol.gain);
      expect(err.tau).toBeLessThan(tol.tau);
      expect(err.theta).toBeLessThan(tol.theta);
      expect(r.fit.r2).toBeGreaterThan(tol.r2);
      expect(r.fit.rmsC).toBeLessThan(0.4);
    });
  }

  it('puts the fans to full and stops when the zone passes the limit', async () => {
    const plant = createPlant(k80Rig({ gpus: 1 }));
    plant.setLoad('all', 150);
    const io = plantZoneIo({ plant, gpus: [0], fans: FANS, periodS: 0.5 });
    // 20 % airflow at 150 W heads for ~100 C
    const err = await runStep(io, { fromDuty: 0.2, toDuty: 0.6, abortAboveC: 83 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TuningAbortedError);
    expect((err as TuningAbortedError).message).toMatch(/above the limit of 83 C/);
    for (const f of FANS) expect(plant.fan(f).duty).toBe(1);
    expect(plant.gpu(0).temperatureC).toBeLessThan(85);
  });
});
