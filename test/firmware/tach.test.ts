/** rpm computed by the firmware from tach pulses the harness generates (2 pulses per revolution). */
import { describe, expect, it } from 'vitest';
import { CoolerSim } from '../../test/helpers/avr/sim.ts';
import { bootSim, type SimClient } from '../../test/helpers/avr/sim-client.ts';
import { Command, decodeState, encodeSetDuty, encodeSetSettings } from '../../src/cooler/protocol/messages.ts';

const state = (c: SimClient) => decodeState(c.request(Command.getState));

describe('firmware tach', () => {
  it('measures fixed speeds to within 0.1%', () => {
    const sim = new CoolerSim();
    const client = bootSim(sim);
    const speeds = [600, 2500, 4321, 9000];
    speeds.forEach((rpm, ch) => sim.setRpm(ch, rpm));
    sim.runMs(1100); // two 500 ms windows
    const got = state(client).fans.map((f) => f.rpm!);
    speeds.forEach((rpm, ch) => expect(Math.abs(got[ch]! - rpm) / rpm, `channel ${ch}: ${got[ch]} vs ${rpm}`).toBeLessThan(0.001));
    // and a very fast fan: still exact
    sim.setRpm(0, 20_000);
    sim.runMs(1100);
    expect(Math.abs(state(client).fans[0]!.rpm! - 20_000)).toBeLessThan(20);
  });

  it('stays exact when several fans pulse at the same instants (no clock ticks lost, no edge missed)', () => {
    for (const speeds of [[4200, 4200, 4200, 4200], [8000, 4200, 7000, 6000], [8876, 4200, 8876, 8876]]) {
      const sim = new CoolerSim();
      const client = bootSim(sim); // the fans' own model runs for these 10 ms: phases differ per case
      speeds.forEach((rpm, ch) => sim.setRpm(ch, rpm));
      sim.runMs(1600);
      expect(state(client).fans.map((f) => f.rpm)).toEqual(speeds);
    }
  });

  it('follows a fan that speeds up with its duty', () => {
    const sim = new CoolerSim({ fans: [{ maxRpm: 8000, spinUpSeconds: 0.2 }] });
    const client = bootSim(sim);
    client.request(Command.setDuty, encodeSetDuty([{ channel: 0, duty: 0.5 }]));
    sim.runMs(2500);
    const rpm = state(client).fans[0]!.rpm!;
    expect(sim.fanRpm(0)).toBeCloseTo(4000, -1);
    expect(Math.abs(rpm - 4000) / 4000).toBeLessThan(0.01);
  });

  it('reads 0 once a fan stops, and a fan without tach wire never shows one', () => {
    const sim = new CoolerSim({ fans: [{}, { tach: false }] });
    const client = bootSim(sim);
    sim.setRpm(0, 3000);
    sim.runMs(1100);
    expect(state(client).fans[0]!.rpm).toBeGreaterThan(2900);
    sim.setRpm(0, 0);
    sim.runMs(2600);
    const s = state(client);
    expect(s.fans[0]!.rpm).toBe(0);
    expect(s.fans[0]!.tachSeen).toBe(true);
    expect(s.fans[1]).toMatchObject({ rpm: 0, tachSeen: false });
  });

  it('reports no rpm for a 3-pin fan below 100% (its tach ground is chopped)', () => {
    const sim = new CoolerSim();
    const client = bootSim(sim);
    client.request(Command.setSettings, encodeSetSettings({ watchdogMs: 3000, failsafeDuty: 1, kickDuty: 1, kickMs: 0, threePinMask: 0b0001 }), 500);
    sim.setRpm(0, 3000);
    sim.setRpm(1, 3000);
    client.request(Command.setDuty, encodeSetDuty([{ channel: 0, duty: 0.5 }, { channel: 1, duty: 0.5 }]));
    sim.runMs(1100);
    let s = state(client);
    expect(s.fans[0]).toMatchObject({ rpm: null, threePin: true });
    expect(s.fans[1]).toMatchObject({ threePin: false });
    expect(s.fans[1]!.rpm).toBeGreaterThan(2900);
    client.request(Command.setDuty, encodeSetDuty([{ channel: 0, duty: 1 }]));
    sim.runMs(600);
    s = state(client);
    expect(s.fans[0]!.rpm).toBeGreaterThan(2900);
  });
});
