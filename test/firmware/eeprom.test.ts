/** Watchdog and failsafe settings kept in EEPROM across power cycles. */
import { describe, expect, it } from 'vitest';
import { Command, decodeHello, decodeSettings, encodeSetDuty, encodeSetSettings } from '../../src/cooler/protocol/messages.ts';
import { CoolerSim, F_CPU } from '../../test/helpers/avr/sim.ts';
import { bootSim } from '../../test/helpers/avr/sim-client.ts';

describe('firmware EEPROM settings', () => {
  it('starts from defaults on a blank EEPROM', () => {
    const client = bootSim(new CoolerSim());
    expect(decodeSettings(client.request(Command.getSettings))).toEqual({
      watchdogMs: 3000,
      failsafeDuty: 1,
      kickDuty: 1,
      kickMs: 1000,
      threePinMask: 0,
      fromEeprom: false,
    });
  });

  it('keeps SET_SETTINGS across a power cycle and uses the stored watchdog', () => {
    const sim = new CoolerSim();
    let client = bootSim(sim);
    const wanted = { watchdogMs: 1200, failsafeDuty: 0.8, kickDuty: 0.9, kickMs: 700, threePinMask: 0b1000 };
    expect(decodeSettings(client.request(Command.setSettings, encodeSetSettings(wanted), 500))).toEqual({ ...wanted, fromEeprom: true });
    sim.powerCycle();
    client = bootSim(sim);
    expect(decodeSettings(client.request(Command.getSettings))).toEqual({ ...wanted, fromEeprom: true });
    // the stored 1.2 s watchdog and 80% failsafe duty are what the firmware now does
    client.request(Command.setDuty, encodeSetDuty([{ channel: 0, duty: 0.3 }]));
    const from = sim.cycles;
    sim.runUntil(() => sim.pwm(0).duty > 0.5, 2000);
    expect(((sim.cycles - from) / F_CPU) * 1000).toBeCloseTo(1200, -1);
    expect(sim.pwm(0).duty).toBeCloseTo(0.8, 2);
    // every boot is counted in EEPROM, so the host can tell a restart from a reconnect
    expect(decodeHello(client.request(Command.hello)).boots).toBe(2);
    // and a new chip given the same EEPROM image reads it too
    const other = bootSim(new CoolerSim({ eeprom: sim.eeprom.memory }));
    expect(decodeSettings(other.request(Command.getSettings)).watchdogMs).toBe(1200);
  });

  it('falls back to defaults when the stored block is corrupt', () => {
    const sim = new CoolerSim();
    const client = bootSim(sim);
    client.request(Command.setSettings, encodeSetSettings({ watchdogMs: 2000, failsafeDuty: 1, kickDuty: 1, kickMs: 0, threePinMask: 0 }), 500);
    sim.eeprom.memory[4]! ^= 0x01; // flip a bit of watchdog_ms: the CRC no longer matches
    sim.powerCycle();
    const again = bootSim(sim);
    expect(decodeSettings(again.request(Command.getSettings))).toMatchObject({ watchdogMs: 3000, fromEeprom: false });
  });
});
