/** Kick-start of stopped fans, and a second kick when a fan that had a tach stalls. */
import { describe, expect, it } from 'vitest';
import { Command, decodeCounters, decodeState, encodeSetDuty } from '../../src/cooler/protocol/messages.ts';
import { CoolerSim } from '../../test/helpers/avr/sim.ts';
import { bootSim } from '../../test/helpers/avr/sim-client.ts';

describe('firmware kick-start', () => {
  it('starts a stopped fan at the kick duty for kick_ms, then drops to the target', () => {
    // this fan cannot start below 35% duty, but keeps turning down to 20%
    const sim = new CoolerSim({ fans: [{ startDuty: 0.35, minDuty: 0.2, maxRpm: 6000 }] });
    const client = bootSim(sim);
    client.request(Command.setDuty, encodeSetDuty([{ channel: 0, duty: 0 }]));
    for (let i = 0; i < 6; i++) {
      sim.runMs(500);
      client.request(Command.getState); // keep the host watchdog fed
    }
    expect(sim.fanRpm(0)).toBe(0);
    const s = decodeState(client.request(Command.setDuty, encodeSetDuty([{ channel: 0, duty: 0.25 }])));
    expect(s.fans[0]).toMatchObject({ kicking: true, applied: 1, target: 0.25 });
    sim.runMs(900);
    expect(sim.pwm(0).duty).toBe(1);
    client.request(Command.getState);
    sim.runMs(200);
    expect(sim.pwm(0).duty).toBeCloseTo(0.25, 2);
    sim.runMs(1500);
    client.request(Command.getState);
    expect(sim.fanRpm(0)).toBeGreaterThan(1000); // it kept running at 25% thanks to the kick
    expect(decodeCounters(client.request(Command.getCounters)).kicks).toBe(1);
  });

  it('kicks again when a fan that showed a tach reads 0 rpm at a non-zero duty', () => {
    const sim = new CoolerSim({ fans: [{ maxRpm: 6000 }] });
    const client = bootSim(sim);
    client.request(Command.setDuty, encodeSetDuty([{ channel: 0, duty: 0.5 }]));
    sim.runMs(1500);
    sim.setRpm(0, 0); // seized
    let kicked = false;
    for (let i = 0; i < 60 && !kicked; i++) {
      sim.runMs(100);
      const s = decodeState(client.request(Command.getState));
      kicked = s.fans[0]!.kicking;
      if (kicked) expect(s.fans[0]!.stalled).toBe(true);
    }
    expect(kicked).toBe(true);
    expect(sim.pwm(0).duty).toBe(1);
    const c = decodeCounters(client.request(Command.getCounters));
    expect(c.stalls).toBeGreaterThanOrEqual(1);
  });

  // The daemon re-sends every fan's duty each tick (200 ms): the stall clock must not restart on
  // each of them, or a seized fan under a live host is never kicked again.
  it.each([
    ['the same duty', () => 0.5],
    ['a duty that moves every tick', (i: number) => 0.45 + 0.01 * (i % 10)],
  ])('kicks a stalled fan while the host re-sends %s every 200 ms', (_what, dutyAt) => {
    const sim = new CoolerSim({ fans: [{ maxRpm: 6000 }] });
    const client = bootSim(sim);
    client.request(Command.setDuty, encodeSetDuty([{ channel: 0, duty: 0.5 }]));
    sim.runMs(1500);
    sim.setRpm(0, 0); // seized
    let kicked = false;
    let stalledSeen = false;
    // tach silence reads 0 rpm after 2 s, the stall is called 2.5 s later: 10 s is plenty
    for (let i = 0; i < 50 && !kicked; i++) {
      sim.runMs(200);
      const s = decodeState(client.request(Command.setDuty, encodeSetDuty([{ channel: 0, duty: dutyAt(i) }])));
      kicked = s.fans[0]!.kicking;
      stalledSeen ||= s.fans[0]!.stalled;
    }
    expect(kicked).toBe(true);
    expect(stalledSeen).toBe(true);
    expect(sim.pwm(0).duty).toBe(1);
    expect(decodeCounters(client.request(Command.getCounters)).stalls).toBeGreaterThanOrEqual(1);
  });
});
