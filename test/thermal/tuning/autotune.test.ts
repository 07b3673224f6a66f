/** Relay autotune against the plant simulator, in simulated time; the gains tried with the real zone controller. */
import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { ZoneConfig } from '../../../src/thermal/config.ts';
import { createZoneController } from '../../../src/thermal/control/index.ts';
import { createPlant, fanConfigsFor, k80Rig, type Plant } from '../../../src/thermal/plant/index.ts';
import { autotune, tuningPatch, type AutotuneResult } from '../../../src/thermal/tuning/autotune.ts';
import { runRelay } from '../../../src/thermal/tuning/relay.ts';
import { plantZoneIo, TuningAbortedError } from '../../../src/thermal/tuning/zone-io.ts';

const FANS = ['gpu0-a', 'gpu0-b', 'gpu0-c'];
const SETPOINT = 78;

function rig(watts = 150): Plant {
  const plant = createPlant(k80Rig({ gpus: 1 }));
  plant.setLoad('all', watts);
  return plant;
}

/** The daemon's measurement shaping off: its 600 s fall filter and 45 s peak hold are lag the rules do not model. */
const PLAIN = { measurementFilterSeconds: 0, measurementFallSeconds: 0, peakHoldSeconds: 0, closingSeconds: 0 };

/**
 * The real zone controller (pid mode, feed-forward and measurement shaping off: the plain PI(D) loop the rules tune) with the given
 * gains on the plant, whole-degree sensor, 0.5 s period. Settles at the setpoint, then the
 * setpoint is lowered 5 C: overshoot is how far it dips below the new setpoint; the last 10
 * minutes say whether it keeps oscillating.
 */
function closedLoop(gains: ReturnType<typeof tuningPatch>) {
  const plant = rig();
  const zone = createZoneController(
    Value.Default(ZoneConfig, { id: 'gpu0', gpus: [0], fans: FANS, pid: { setpoint: SETPOINT, ...gains.pid, ...PLAIN }, feedForward: { enabled: false }, stopBelowDuty: 0, slewDownPerSecond: 0.05 }) as ZoneConfig,
    fanConfigsFor(k80Rig({ gpus: 1 })),
  );
  const dt = 0.5;
  let minT = Infinity;
  let t = 0;
  const tail: number[] = [];
  let reversals = 0;
  let lastDir = 0;
  let lastDuty = NaN;
  const run = (seconds: number, record: boolean) => {
    for (const end = t + seconds; t < end; t += dt) {
      const out = zone.step({ now: t, temps: [Math.round(plant.gpu(0).temperatureC)], fanRpm: Object.fromEntries(FANS.map((f) => [f, plant.fan(f).rpm])) });
      for (const [f, d] of Object.entries(out.fanDuties)) plant.setDuty(f, d);
      plant.step(dt);
      if (!record) continue;
      const temp = plant.gpu(0).temperatureC;
      minT = Math.min(minT, temp);
      if (end - t <= 600) tail.push(temp);
      if (Number.isFinite(lastDuty) && Math.abs(out.duty - lastDuty) > 1e-6) {
        const dir = Math.sign(out.duty - lastDuty);
        if (lastDir && dir !== lastDir && end - t <= 600) reversals += 1;
        lastDir = dir;
      }
      lastDuty = out.duty;
    }
  };
  run(1800, false);
  zone.update({ pid: { setpoint: SETPOINT - 5 } });
  run(2400, true);
  return { overshootC: Math.max(0, SETPOINT - 5 - minT), tailPeakToPeakC: Math.max(...tail) - Math.min(...tail), tailMeanC: tail.reduce((s, x) => s + x, 0) / tail.length, reversals };
}

describe('relay autotune on the simulator', () => {
  let result: AutotuneResult;
  it('identifies the plant, oscillates under the relay, gives Ku, Pu and a proposal per rule', async () => {
    const plant = rig();
    const io = plantZoneIo({ plant, gpus: [0], fans: FANS, periodS: 0.5 });
    result = await autotune(io, { setpointC: SETPOINT, abortAboveC: SETPOINT + 8 });
    const { relay, proposals } = result;
    console.log('autotune', JSON.stringify({ model: result.model, ku: relay.ku, pu: relay.pu, a: relay.amplitudeC, bias: relay.biasDuty, proposals: proposals.map((p) => ({ rule: p.rule, kp: p.kp, ki: p.ki, kd: p.kd, overshoot: p.expected.overshootC, settling: p.expected.settlingS, osc: p.expected.oscillating })) }));
    expect(relay.ku).toBeGreaterThan(0);
    expect(relay.pu).toBeGreaterThan(0);
    expect(relay.cycles.length).toBeGreaterThanOrEqual(6);
    expect(proposals.map((p) => p.rule)).toEqual(['simc', 'tyreus-luyben', 'ziegler-nichols', 'ziegler-nichols-pi']);
    const simc = proposals[0]!;
    const zn = proposals[2]!;
    // on the identified model: the quiet rule settles and overshoots less than Z-N
    expect(simc.expected.oscillating).toBe(false);
    expect(simc.expected.overshootC).toBeLessThan(zn.expected.overshootC);
    // fans left holding the duty that balances the load
    for (const f of FANS) expect(plant.fan(f).duty).toBeCloseTo(relay.biasDuty, 6);
  });

  it('the quiet gains hold the setpoint on the simulator without sustained oscillation, with less overshoot than Ziegler-Nichols', () => {
    const byRule = Object.fromEntries(result.proposals.map((p) => [p.rule, closedLoop(tuningPatch(p))]));
    console.log('closed loop on the simulator', JSON.stringify(byRule));
    const quiet = byRule.simc!;
    expect(Math.abs(quiet.tailMeanC - (SETPOINT - 5))).toBeLessThan(0.75);
    // whole-degree readings: anything within one sensor step is not an oscillation
    expect(quiet.tailPeakToPeakC).toBeLessThan(1.2);
    expect(quiet.overshootC).toBeLessThan(byRule['ziegler-nichols']!.overshootC);
    expect(quiet.overshootC).toBeLessThan(byRule['ziegler-nichols-pi']!.overshootC);
  });

  it('aborts with the fans at full when the relay excursion passes its bound', async () => {
    const plant = rig(150);
    const io = plantZoneIo({ plant, gpus: [0], fans: FANS, periodS: 0.5 });
    // the plant holds 78 C near 0.5; a 250 W load appears once the relay runs: the low phase cannot hold it
    let n = 0;
    const err = await runRelay(io, {
      setpointC: SETPOINT,
      biasDuty: 0.5,
      amplitude: 0.1,
      maxExcursionC: 3,
      abortAboveC: 90,
      onSample: () => {
        if (++n === 1200) plant.setLoad('all', 260);
      },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TuningAbortedError);
    expect((err as Error).message).toMatch(/more than 3 C from the setpoint/);
    for (const f of FANS) expect(plant.fan(f).duty).toBe(1);
    expect(plant.gpu(0).temperatureC).toBeLessThan(SETPOINT + 4);
  });
});
