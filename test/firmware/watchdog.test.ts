/**
 * Safety of the firmware on its own: host silence -> failsafe duty, recovery on the next
 * SET_DUTY, FAILSAFE on request, and the AVR hardware watchdog resetting a hung firmware.
 */
import { describe, expect, it } from 'vitest';
import { CoolerSim, F_CPU } from '../../test/helpers/avr/sim.ts';
import { bootSim, type SimClient } from '../../test/helpers/avr/sim-client.ts';
import { encodeFrame } from '../../src/cooler/protocol/frame.ts';
import { Command, decodeCounters, decodeHello, decodeSettings, decodeState, encodeSetDuty, encodeSetSettings } from '../../src/cooler/protocol/messages.ts';

const state = (c: SimClient) => decodeState(c.request(Command.getState));
const setAll = (c: SimClient, duty: number) => c.request(Command.setDuty, encodeSetDuty([0, 1, 2, 3].map((channel) => ({ channel, duty }))));

describe('firmware host watchdog', () => {
  it('goes to full after 3 s without a valid command (default), and back on the next SET_DUTY', () => {
    const sim = new CoolerSim();
    const client = bootSim(sim);
    setAll(client, 0.4);
    const silentFrom = sim.cycles;
    sim.runUntil(() => sim.pwm(0).duty === 1, 4000);
    const tripMs = ((sim.cycles - silentFrom) / F_CPU) * 1000;
    expect(tripMs).toBeGreaterThan(2990);
    expect(tripMs).toBeLessThan(3010);
    expect(sim.duties()).toEqual([1, 1, 1, 1]);
    const s = state(client);
    expect(s.mode).toBe('failsafeWatchdog');
    // targets are remembered but not applied
    expect(s.fans.map((f) => f.target)).toEqual([0.4, 0.4, 0.4, 0.4]);
    expect(decodeCounters(client.request(Command.getCounters)).watchdogTrips).toBe(1);
    // a read alone does not give control back (its targets are stale) ...
    sim.runMs(50);
    expect(sim.duties()).toEqual([1, 1, 1, 1]);
    // ... a SET_DUTY does
    setAll(client, 0.45);
    sim.runMs(2);
    expect(sim.duties().map((d) => Math.round(d * 100) / 100)).toEqual([0.45, 0.45, 0.45, 0.45]);
    expect(state(client).mode).toBe('run');
  });

  it('is fed by any valid command, and not by bad frames', () => {
    const sim = new CoolerSim();
    const client = bootSim(sim);
    client.request(Command.setSettings, encodeSetSettings({ watchdogMs: 500, failsafeDuty: 1, kickDuty: 1, kickMs: 1000, threePinMask: 0 }), 500);
    setAll(client, 0.5);
    for (let i = 0; i < 10; i++) {
      sim.runMs(300);
      client.request(Command.ping, Buffer.from('alive'));
    }
    expect(state(client).mode).toBe('run');
    expect(sim.pwm(0).duty).toBe(0.5);
    // frames with a wrong CRC every 100 ms do not count as the host being alive
    const bad = Buffer.from([0xa5, 0x00, 0x01, 0x07, 0x00, 0x00]);
    for (let i = 0; i < 7; i++) {
      client.sendRaw(bad);
      sim.runMs(100);
    }
    expect(sim.pwm(0).duty).toBe(1);
    expect(state(client).mode).toBe('failsafeWatchdog');
  });

  // HELLO is all a host sends while it cannot finish a handshake (replies lost on the way back,
  // a config the device does not fit): its reconnect loop says HELLO every 300 ms for 4 s, with
  // backoffs up to 5 s between. Fed by those, the watchdog held the last duties for as long as the
  // host kept failing (for good with watchdogSeconds above 5) while the host had no control.
  it('is not fed by HELLO: a host that cannot get past its handshake leaves the fans to the watchdog', () => {
    const sim = new CoolerSim();
    const client = bootSim(sim);
    setAll(client, 0.4);
    const silentFrom = sim.cycles;
    for (let i = 0; i < 12 && sim.pwm(0).duty !== 1; i++) {
      client.send(Command.hello, Buffer.from([1])); // answered or not, as a reconnecting host does
      sim.runMs(300);
    }
    sim.runMs(1);
    expect(sim.duties()).toEqual([1, 1, 1, 1]);
    const tripMs = ((sim.cycles - silentFrom) / F_CPU) * 1000;
    expect(tripMs).toBeLessThan(3400);
    expect(state(client).mode).toBe('failsafeWatchdog');
  });

  it('applies a lower failsafe duty from the settings, never below what the host asked for', () => {
    const sim = new CoolerSim();
    const client = bootSim(sim);
    client.request(Command.setSettings, encodeSetSettings({ watchdogMs: 500, failsafeDuty: 0.7, kickDuty: 1, kickMs: 0, threePinMask: 0 }), 500);
    client.request(Command.setDuty, encodeSetDuty([{ channel: 0, duty: 0.3 }, { channel: 1, duty: 0.9 }]));
    sim.runMs(600);
    const d = sim.duties();
    expect(d[0]).toBeCloseTo(0.7, 2);
    expect(d[1]).toBeCloseTo(0.9, 2);
  });

  it('goes to failsafe at once on FAILSAFE', () => {
    const sim = new CoolerSim();
    const client = bootSim(sim);
    setAll(client, 0.3);
    const s = decodeState(client.request(Command.failsafe));
    expect(s.mode).toBe('failsafeHost');
    sim.runMs(1);
    expect(sim.duties()).toEqual([1, 1, 1, 1]);
  });
});

describe('AVR hardware watchdog', () => {
  it('resets a hung firmware, which comes back at full fans and says why it restarted', () => {
    const sim = new CoolerSim();
    const client = bootSim(sim);
    setAll(client, 0.3);
    sim.runMs(5);
    expect(sim.pwm(0).duty).toBeCloseTo(0.3, 2);
    sim.hang(); // interrupts off, endless loop: nothing but the WDT can help now
    const hungAt = sim.cycles;
    sim.runUntil(() => sim.resets.length > 1, 1000, 1);
    expect(sim.resets).toEqual(['power-on', 'watchdog']);
    const resetMs = ((sim.cycles - hungAt) / F_CPU) * 1000;
    expect(resetMs).toBeLessThan(300); // WDTO_250MS, plus up to 1 ms since the last feed
    expect(resetMs).toBeGreaterThan(200);
    // right after the reset the pins float: the fans read that as 100%
    expect(sim.duties()).toEqual([1, 1, 1, 1]);
    sim.runMs(10);
    expect(sim.duties()).toEqual([1, 1, 1, 1]);
    const hello = decodeHello(client.request(Command.hello, Buffer.from([1])));
    expect(hello.resetCause).toEqual(['watchdog']);
    expect(state(client).mode).toBe('boot');
  });
});

describe('firmware under a command flood', () => {
  // Each SET_SETTINGS that changes a value blocks the main loop ~10 ms on EEPROM writes; sent back
  // to back they keep the receive ring from ever emptying. The loop used to drain the ring before
  // its millisecond tick, so wdt_reset() starved and the chip reset (and again, flood after flood).
  it('keeps running, keeps the duties, and still trips its host watchdog once the flood stops', () => {
    const sim = new CoolerSim();
    const client = bootSim(sim);
    setAll(client, 0.4);
    sim.runMs(2);
    const frames = Array.from({ length: 250 }, (_, i) =>
      encodeFrame(1 + (i % 250), Command.setSettings, encodeSetSettings({ watchdogMs: i % 2 ? 3000 : 3100, failsafeDuty: 1, kickDuty: 1, kickMs: 1000, threePinMask: 0 })),
    );
    client.sendRaw(Buffer.concat(frames));
    const seen = new Set<string>();
    // the line takes ~250 ms to deliver it; sampled every simulated ms until it is all in
    const sample = (): boolean => (seen.add(sim.duties().map((d) => d.toFixed(2)).join(',')), sim.rxPending === 0);
    sim.runUntil(sample, 2000);
    expect(sim.resets).toEqual(['power-on']);
    expect(sim.rxPending).toBe(0);
    sim.runMs(200); // the ring's last bytes, then the 50 ms timeout drops what is left of a frame
    expect([...seen]).toEqual(['0.40,0.40,0.40,0.40']);
    const c = decodeCounters(client.request(Command.getCounters));
    expect(c.framesOk).toBeGreaterThan(10); // some of the flood was acted on, the rest counted and dropped
    expect(c.rxErrors + c.crcErrors).toBeGreaterThan(0);
    const { watchdogMs } = decodeSettings(client.request(Command.getSettings));
    // the host goes quiet: the firmware's own watchdog still takes the fans to full
    const quietFrom = sim.cycles;
    sim.runUntil(() => sim.pwm(0).duty === 1, watchdogMs + 100);
    expect(((sim.cycles - quietFrom) / F_CPU) * 1000).toBeGreaterThan(watchdogMs - 10);
    sim.runMs(1); // timers 0 and 2 take a new compare value at their next TOP
    expect(sim.duties()).toEqual([1, 1, 1, 1]);
    expect(decodeState(client.request(Command.getState)).mode).toBe('failsafeWatchdog');
    expect(sim.resets).toEqual(['power-on']);
  });
});
