/**
 * The harness itself: its shortcuts (batched timers, skipped sleep) must not change anything the
 * firmware can observe, and its hex loader must refuse damaged images.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Command, encodeSetDuty } from '../../../src/cooler/protocol/messages.ts';
import { parseIntelHex } from './hex.ts';
import { SimClient } from './sim-client.ts';
import { CoolerSim, FIRMWARE_HEX, readPinMap } from './sim.ts';

/** A scripted session: boot, commands, tach and thermistor changes; returns what the firmware said and its RAM. */
function session(configure: (sim: CoolerSim) => void): { tx: string; ram: Buffer; resets: string[] } {
  // fans 1 and 3 without tach: a fan still spinning up reads slightly differently depending on
  // where the 500 ms window boundaries fall, which a few cycles of wake-up timing can move
  const sim = new CoolerSim({ fans: [{}, { tach: false }, {}, { tach: false }] });
  configure(sim);
  const tx: number[] = [];
  sim.onTx((b) => tx.push(b));
  const client = new SimClient(sim);
  sim.runMs(10);
  sim.setRpm(0, 5100);
  sim.setRpm(2, 5100);
  client.send(Command.setDuty, encodeSetDuty([{ channel: 0, duty: 0.35 }, { channel: 3, duty: 0.8 }]));
  sim.runMs(120);
  sim.setThermistorCelsius(0, 48);
  client.send(Command.getState);
  sim.runMs(400);
  client.sendRaw([0xa5, 0x10, 0x00]); // a truncated frame
  sim.runMs(200);
  client.send(Command.getCounters);
  sim.runMs(300);
  client.send(Command.getState);
  sim.runMs(20);
  return { tx: Buffer.from(tx).toString('hex'), ram: Buffer.from(sim.ramSnapshot()), resets: sim.resets };
}

describe('avr8js harness', () => {
  it("'fast' timing (batched timers) is indistinguishable from 'exact' for the firmware", () => {
    const exact = session((sim) => (sim.timing = 'exact'));
    const fast = session((sim) => (sim.timing = 'fast'));
    expect(fast.tx.length).toBeGreaterThan(100);
    expect(fast.tx).toBe(exact.tx);
    // Variables (.data/.bss, below 0x400) agree except for the sub-microsecond part of tach
    // timestamps: with every timer ticking, avr8js applies a pin change a few cycles late (one
    // queued event per instruction). The stack area above is scratch.
    for (let i = 0; i < 0x300; i++) {
      expect(Math.abs(fast.ram[i]! - exact.ram[i]!), `0x${(0x100 + i).toString(16)}`).toBeLessThanOrEqual(2);
    }
  });

  it('skipping sleep gives the same conversation as stepping through it', () => {
    const stepped = session((sim) => (sim.skipSleep = false));
    const skipped = session((sim) => (sim.skipSleep = true));
    expect(skipped.tx).toBe(stepped.tx);
  });

  it('reads the pin map from pins.h', () => {
    const pins = readPinMap();
    expect(pins.fans.map((f) => `${f.pwm.port}${f.pwm.bit}/T${f.timer}${f.unit}/tach ${f.tach.port}${f.tach.bit}`)).toEqual([
      'B1/T1A/tach C2',
      'B2/T1B/tach C3',
      'D3/T2B/tach C4',
      'D5/T0B/tach C5',
    ]);
    expect(pins.thermistorAdc).toEqual([0, 1]);
  });

  it('refuses a damaged hex image', () => {
    const text = readFileSync(FIRMWARE_HEX, 'utf8');
    expect(parseIntelHex(text).subarray(0, 4).some((b) => b !== 0xff)).toBe(true);
    const lines = text.split('\n');
    lines[3] = lines[3]!.slice(0, 12) + (lines[3]![12] === '0' ? '1' : '0') + lines[3]!.slice(13);
    expect(() => parseIntelHex(lines.join('\n'))).toThrow(/line 4: checksum/);
    expect(() => parseIntelHex('garbage')).toThrow(/line 1/);
  });
});
