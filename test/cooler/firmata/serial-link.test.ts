/**
 * The Firmata driver over its real transport (serialport 13 + firmata-io + johnny-five) on a pty,
 * with a StandardFirmata peer on the other end: handshake, PWM bytes on the wire, analog reports,
 * pings, the board vanishing and coming back.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { FirmataCooler } from '../../../src/cooler/firmata/driver.ts';
import { MODE } from '../../../src/cooler/firmata/pins.ts';
import { startPeer } from './firmata-peer.ts';

const log = pino({ level: 'silent' });
const fan = (id: string, channel: number) => ({ id, channel, maxRpm: 9500, minDuty: 0.2, startDuty: 0.45, maxDba: 40 });

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('FirmataCooler on a serial port with a StandardFirmata peer', () => {
  it('handshakes, drives PWM, reads thermistors, pings, and reconnects when the board comes back', async () => {
    const device = join(mkdtempSync(join(tmpdir(), 'gance-firmata-')), 'ttyFirmata');
    let board = await startPeer(device);
    cleanups.push(() => board.stop());
    const registry = new Registry();
    const cooler = new FirmataCooler(
      { path: device, baudRate: 57600, watchdogSeconds: 1.5, fans: [fan('a', 9), fan('b', 10), fan('c', 3)], thermistors: [{ id: 'intake', channel: 0 }] },
      { log, registry, reconnectMinMs: 100, reconnectMaxMs: 400, readyTimeoutMs: 5000, tachPins: { a: 16 }, tachWindowMs: 300 },
    );
    cleanups.push(() => cooler.close());

    await cooler.open();
    expect(cooler.linkUp).toBe(true);
    const p = board.peer;
    await until(() => p.pwm.get(3) === 255);
    for (const pin of [9, 10, 3]) {
      expect(p.modes.get(pin)).toBe(MODE.PWM);
      expect(p.pwm.get(pin)).toBe(255);
    }
    expect([...p.analogReporting]).toEqual([0]); // A0 reports; analog mode needs no PIN_MODE on the wire

    await cooler.setDuties({ a: 0.5, b: 0.2, c: 0 });
    await until(() => p.pwm.get(9) === 128 && p.pwm.get(10) === 51 && p.pwm.get(3) === 0);

    p.adc.set(0, 512);
    await new Promise((r) => setTimeout(r, 250)); // a few 19 ms reports fill the averaging window
    const s = await cooler.read();
    expect(s.thermistors[0]!.celsius).toBeCloseTo(25, 0);
    expect(s.failsafe).toBe(false);
    await until(() => p.versionRequests >= 2); // the keep-alive pings reach the board

    // tach on A2 (digital 16): a PULLUP input on a reporting port, the fan turning at 4500 rpm
    expect(p.modes.get(16)).toBe(MODE.PULLUP);
    await until(() => p.digitalReporting.has(2));
    const stopSpin = p.spin(16, 4500);
    await new Promise((r) => setTimeout(r, 700)); // at least one whole 300 ms window inside the spin
    const rpm = (await cooler.read()).fans[0]!.rpm!;
    stopSpin();
    expect(Math.abs(rpm - 4500)).toBeLessThan(4500 * 0.15);
    expect((await cooler.read()).fans[1]!.rpm).toBeNull(); // fan b has no tach pin

    await cooler.failsafe('test');
    await until(() => [9, 10, 3].every((pin) => p.pwm.get(pin) === 255));

    // The board vanishes (USB unplugged): the port errors/closes, the link drops, reconnects fail.
    const down = new Promise<boolean>((r) => cooler.once('link', r));
    await board.stop();
    expect(await down).toBe(false);
    await new Promise((r) => setTimeout(r, 300));
    expect(cooler.linkUp).toBe(false);

    // It comes back on the same path: the driver reconnects and sets everything up at full again.
    const up = new Promise<boolean>((r) => cooler.once('link', r));
    board = await startPeer(device);
    expect(await up).toBe(true);
    const p2 = board.peer;
    await until(() => [9, 10, 3].every((pin) => p2.pwm.get(pin) === 255 && p2.modes.get(pin) === MODE.PWM));
    const text = await registry.metrics();
    expect(text).toMatch(/gance_cooler_firmata_reconnects_total 1/);
    expect(text).toMatch(/gance_cooler_firmata_link_losses_total\{reason="(port closed|device disconnected|serial error)"\} 1/);
  });

  it('a board that stops answering pings is dropped within the watchdog time', async () => {
    const device = join(mkdtempSync(join(tmpdir(), 'gance-firmata-')), 'ttyFirmata');
    const board = await startPeer(device);
    cleanups.push(() => board.stop());
    const cooler = new FirmataCooler(
      { path: device, baudRate: 57600, watchdogSeconds: 1, fans: [fan('a', 9)], thermistors: [] },
      { log, reconnectMinMs: 5000, readyTimeoutMs: 5000 },
    );
    cleanups.push(() => cooler.close());
    await cooler.open();
    await cooler.setDuties({ a: 0.3 });
    await until(() => board.peer.pwm.get(9) === 77);
    board.peer.answerPings = false; // a hung sketch: the port stays open, nothing answers
    const t0 = Date.now();
    const down = new Promise<boolean>((r) => cooler.once('link', r));
    expect(await down).toBe(false);
    const ms = Date.now() - t0;
    expect(ms).toBeLessThan(2000);
    expect(ms).toBeGreaterThan(500);
    await until(() => board.peer.pwm.get(9) === 255); // full duty asked for before giving up
  });

  it('times out a port that never speaks Firmata, with the baud-rate hint', async () => {
    const device = join(mkdtempSync(join(tmpdir(), 'gance-firmata-')), 'ttyFirmata');
    const board = await startPeer(device);
    board.peer.stop(); // silent
    cleanups.push(() => board.stop());
    const cooler = new FirmataCooler({ path: device, baudRate: 115200, fans: [fan('a', 9)], thermistors: [] }, { log, readyTimeoutMs: 400 });
    // the peer announced itself before the port opened; make sure nothing answers at all
    await new Promise((r) => setTimeout(r, 50));
    const err = await cooler.open().catch((e: Error) => e);
    expect(String(err)).toMatch(/no Firmata handshake within 400 ms.*does cooler.baudRate match it \(StandardFirmata: 57600\)/);
    expect(cooler.linkUp).toBe(false);
  });
});
