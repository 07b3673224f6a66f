import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRequire } from 'node:module';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { FirmataConfigError, FirmataCooler, type FirmataCoolerOptions } from '../../../src/cooler/firmata/driver.ts';
import { MODE } from '../../../src/cooler/firmata/pins.ts';
import type { CoolerConfig } from '../../../src/cooler/config.ts';
import { mockTransports } from './mock-board.ts';

const log = pino({ level: 'silent' });

function fan(id: string, channel: number) {
  return { id, channel, maxRpm: 9000, minDuty: 0.2, startDuty: 0.5, maxDba: 40 };
}

const CONFIG: Pick<CoolerConfig, 'fans' | 'thermistors' | 'watchdogSeconds'> = {
  fans: [fan('gpu0-a', 9), fan('gpu0-b', 10), fan('gpu0-c', 3), fan('gpu1-a', 5), fan('gpu1-b', 6), fan('gpu1-c', 11)],
  thermistors: [
    { id: 'shroud0', channel: 0 },
    { id: 'shroud1', channel: 1 },
  ],
  watchdogSeconds: 3,
};

const coolers: FirmataCooler[] = [];
function make(opts: Partial<FirmataCoolerOptions> & Pick<FirmataCoolerOptions, 'openTransport'>, config = CONFIG): FirmataCooler {
  const c = new FirmataCooler(config, { log, reconnectMinMs: 20, reconnectMaxMs: 80, readyTimeoutMs: 500, ...opts });
  coolers.push(c);
  return c;
}

function nextLink(c: FirmataCooler): Promise<boolean> {
  return new Promise((resolve) => c.once('link', resolve));
}

afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(coolers.splice(0).map((c) => c.close()));
});

describe('FirmataCooler on mock-firmata', () => {
  it('opens with ready fired synchronously or later, sets PWM mode and starts every fan at full', async () => {
    for (const when of ['sync', 'later'] as const) {
      const t = mockTransports(when);
      const c = make({ openTransport: t.open });
      const up = nextLink(c);
      await c.open();
      expect(await up).toBe(true);
      expect(c.linkUp).toBe(true);
      const b = t.boards[0]!;
      for (const pin of [9, 10, 3, 5, 6, 11]) {
        expect(b.modes.get(pin)).toBe(MODE.PWM);
        expect(b.pwm.get(pin)).toBe(255);
      }
      expect(b.modes.get(14)).toBe(MODE.ANALOG); // A0
      expect(b.modes.get(15)).toBe(MODE.ANALOG); // A1
      const s = await c.read();
      expect(s.failsafe).toBe(true);
      expect(s.fans.every((f) => f.duty === 1 && f.rpm === null)).toBe(true);
      expect(c.info.kind).toBe('firmata');
    }
  });

  it('writes duty as analogWrite 0..255 on the configured pins', async () => {
    const t = mockTransports();
    const c = make({ openTransport: t.open });
    await c.open();
    const b = t.boards[0]!;
    await c.setDuties({ 'gpu0-a': 0.5, 'gpu0-b': 0, 'gpu0-c': 1, 'gpu1-a': 0.2, 'gpu1-c': 0.999 });
    expect(b.pwm.get(9)).toBe(128);
    expect(b.pwm.get(10)).toBe(0);
    expect(b.pwm.get(3)).toBe(255);
    expect(b.pwm.get(5)).toBe(51);
    expect(b.pwm.get(6)).toBe(255); // untouched: still the start-up full duty
    expect(b.pwm.get(11)).toBe(255);
    const s = await c.read();
    expect(s.failsafe).toBe(false);
    expect(s.fans.find((f) => f.id === 'gpu0-a')!.duty).toBe(0.5);
    expect(s.fans.find((f) => f.id === 'gpu1-b')!.duty).toBe(1);
  });

  it('refuses unknown fans and duties outside 0..1 without writing anything', async () => {
    const t = mockTransports();
    const c = make({ openTransport: t.open });
    await c.open();
    const before = t.boards[0]!.writes.length;
    await expect(c.setDuties({ nope: 0.5 })).rejects.toThrow(/unknown fan "nope"/);
    await expect(c.setDuties({ 'gpu0-a': 0.5, 'gpu0-b': 1.5 })).rejects.toThrow(/"gpu0-b": duty must be within 0..1, got 1.5/);
    await expect(c.setDuties({ 'gpu0-a': Number.NaN })).rejects.toThrow(/duty must be within 0..1/);
    expect(t.boards[0]!.writes.length).toBe(before);
  });

  it('failsafe() writes 255 to every fan pin and reports failsafe until the next setDuties', async () => {
    const t = mockTransports();
    const c = make({ openTransport: t.open });
    await c.open();
    const b = t.boards[0]!;
    await c.setDuties({ 'gpu0-a': 0.3, 'gpu0-b': 0.3, 'gpu0-c': 0.3, 'gpu1-a': 0.3, 'gpu1-b': 0.3, 'gpu1-c': 0.3 });
    expect([...b.pwm.values()].every((v) => v === 77)).toBe(true);
    const t0 = Date.now();
    await c.failsafe('test');
    expect(Date.now() - t0).toBeLessThan(500);
    expect([...b.pwm.entries()].sort((x, y) => x[0] - y[0])).toEqual([
      [3, 255],
      [5, 255],
      [6, 255],
      [9, 255],
      [10, 255],
      [11, 255],
    ]);
    const s = await c.read();
    expect(s.failsafe).toBe(true);
    expect(s.fans.every((f) => f.duty === 1)).toBe(true);
    expect(c.failsafeLog).toEqual(['test']);
    await c.setDuties({ 'gpu0-a': 0.4 });
    expect((await c.read()).failsafe).toBe(false);
  });

  it('converts thermistor ADC samples to celsius (mean of recent samples), null when open or shorted', async () => {
    const t = mockTransports();
    const c = make({ openTransport: t.open });
    await c.open();
    const b = t.boards[0]!;
    const a0 = b.analog.get(0)!;
    const a1 = b.analog.get(1)!;
    for (const v of [511, 512, 513, 512]) a0(v);
    a1(1023); // open input: pulled to AVCC
    let s = await c.read();
    expect(s.thermistors.find((x) => x.id === 'shroud0')!.celsius).toBeCloseTo(25, 0);
    expect(s.thermistors.find((x) => x.id === 'shroud1')!.celsius).toBeNull();
    for (let i = 0; i < 8; i++) a0(270); // 50 C
    a1(0); // shorted: an open and a short in one window must not average to 25 C
    s = await c.read();
    expect(Math.abs(s.thermistors[0]!.celsius! - 50)).toBeLessThan(0.5);
    expect(s.thermistors[1]!.celsius).toBeNull();
    for (let i = 0; i < 7; i++) a1(512);
    expect((await c.read()).thermistors[1]!.celsius).toBeNull(); // the short is still in the window
    a1(512);
    expect((await c.read()).thermistors[1]!.celsius).toBeCloseTo(25, 0); // a clean window again
  });

  it('thermistor readings go null when samples stop (stale)', async () => {
    const t = mockTransports();
    const c = make({ openTransport: t.open, sampleStaleMs: 50 });
    await c.open();
    t.boards[0]!.analog.get(0)!(512);
    expect((await c.read()).thermistors[0]!.celsius).toBeCloseTo(25, 0);
    await new Promise((r) => setTimeout(r, 80));
    expect((await c.read()).thermistors[0]!.celsius).toBeNull();
  });

  it('counts tach falling edges into rpm (2 pulses per revolution)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'setImmediate', 'Date'] });
    const t = mockTransports();
    const c = make({ openTransport: t.open, tachPins: { 'gpu0-a': 16, 'gpu0-b': 17 }, tachWindowMs: 1000 });
    await c.open();
    const b = t.boards[0]!;
    expect(b.modes.get(16)).toBe(MODE.INPUT); // mock-firmata's Uno reports no PULLUP mode
    const tachA = b.digital.get(16)!;
    const tachB = b.digital.get(17)!;
    // 150 pulses in one second on fan a = 4500 rpm; fan b sits high: never an edge
    tachA(1);
    tachB(1);
    for (let i = 0; i < 150; i++) {
      tachA(0);
      tachA(1);
      tachB(1); // the same port reports every pin: no edge for b
    }
    vi.advanceTimersByTime(1000);
    const s = await c.read();
    expect(s.fans.find((f) => f.id === 'gpu0-a')!.rpm).toBe(4500);
    // no edge since connect (at full duty): no tach signal, so unknown rather than "stalled"
    expect(s.fans.find((f) => f.id === 'gpu0-b')!.rpm).toBeNull();
    expect(s.fans.find((f) => f.id === 'gpu0-c')!.rpm).toBeNull(); // no tach wired
    // once b has shown a tach, a window without edges is a real 0
    tachB(0);
    tachB(1);
    vi.advanceTimersByTime(1000);
    vi.advanceTimersByTime(1000);
    const later = await c.read();
    expect(later.fans.find((f) => f.id === 'gpu0-b')!.rpm).toBe(0);
  });

  it('link loss (port closed) -> link false, fans written full, reconnect with the pins set up again', async () => {
    const registry = new Registry();
    const t = mockTransports();
    const c = make({ openTransport: t.open, registry });
    await c.open();
    await c.setDuties({ 'gpu0-a': 0.3 });
    const b0 = t.boards[0]!;
    const down = nextLink(c);
    b0.io.emit('close');
    expect(await down).toBe(false);
    expect(c.linkUp).toBe(false);
    expect(b0.pwm.get(9)).toBe(255); // full duty was the last thing said on the old link
    expect(b0.closed).toBe(true);
    await expect(c.setDuties({ 'gpu0-a': 0.3 })).rejects.toThrow(/link down/);
    await expect(c.read()).rejects.toThrow(/link down/);
    await c.failsafe('while down'); // must settle, not throw
    const up = nextLink(c);
    expect(await up).toBe(true);
    const b1 = t.boards[1]!;
    expect(b1.modes.get(9)).toBe(MODE.PWM);
    expect(b1.pwm.get(9)).toBe(255);
    expect((await c.read()).failsafe).toBe(true);
    const text = await registry.metrics();
    expect(text).toMatch(/gance_cooler_firmata_link_losses_total\{reason="port closed"\} 1/);
    expect(text).toMatch(/gance_cooler_firmata_reconnects_total 1/);
    expect(text).toMatch(/gance_cooler_firmata_link_up 1/);
  });

  it('serial error and USB disconnect also count as link loss', async () => {
    for (const event of ['error', 'disconnect'] as const) {
      const t = mockTransports();
      const c = make({ openTransport: t.open });
      await c.open();
      const down = nextLink(c);
      t.boards[0]!.io.emit(event, new Error('EIO'));
      expect(await down).toBe(false);
      expect(await nextLink(c)).toBe(true);
    }
  });

  it('keeps retrying with backoff while the board is absent, and comes back when it returns', async () => {
    const registry = new Registry();
    const t = mockTransports();
    const c = make({ openTransport: t.open, registry });
    await c.open();
    t.fail.next = new Error('cooler.path: cannot open /dev/gance-cooler: does not exist');
    const down = nextLink(c);
    t.boards[0]!.io.emit('disconnect');
    await down;
    await new Promise((r) => setTimeout(r, 250)); // 20 + 40 + 80 + 80 ms of attempts
    expect(c.linkUp).toBe(false);
    t.fail.next = null;
    expect(await nextLink(c)).toBe(true);
    const failures = Number(/gance_cooler_firmata_connect_failures_total (\d+)/.exec(await registry.metrics())![1]);
    expect(failures).toBeGreaterThanOrEqual(3);
    expect(failures).toBeLessThanOrEqual(6); // backoff, not a busy loop
  });

  it('a board that stops answering pings is declared lost after the link timeout, with full duty asked first', async () => {
    const registry = new Registry();
    const t = mockTransports();
    const c = make({ openTransport: t.open, registry, pingIntervalMs: 20, linkTimeoutMs: 120 });
    await c.open();
    await c.setDuties({ 'gpu0-a': 0.25 });
    const b = t.boards[0]!;
    await new Promise((r) => setTimeout(r, 100));
    expect(c.linkUp).toBe(true); // answered pings keep it up
    expect(b.pings).toBeGreaterThan(2);
    b.answerPings = false;
    const t0 = Date.now();
    const down = nextLink(c);
    expect(await down).toBe(false);
    expect(Date.now() - t0).toBeLessThan(400);
    expect(b.pwm.get(9)).toBe(255);
    const text = await registry.metrics();
    expect(text).toMatch(/gance_cooler_firmata_link_losses_total\{reason="no answer to pings"\} 1/);
    expect(Number(/gance_cooler_firmata_ping_timeouts_total (\d+)/.exec(text)![1])).toBeGreaterThan(0);
    expect(await nextLink(c)).toBe(true); // the next board answers again
  });

  it('close() leaves every fan at full (the board keeps the last value written)', async () => {
    const t = mockTransports();
    const c = make({ openTransport: t.open });
    await c.open();
    await c.setDuties({ 'gpu0-a': 0.2, 'gpu1-c': 0.2 });
    await c.close();
    expect(t.boards[0]!.pwm.get(9)).toBe(255);
    expect(t.boards[0]!.pwm.get(11)).toBe(255);
  });

  it("johnny-five's exit event writes full duty", async () => {
    const t = mockTransports();
    const c = make({ openTransport: t.open });
    await c.open();
    await c.setDuties({ 'gpu0-b': 0.2 });
    expect(t.boards[0]!.pwm.get(10)).toBe(51);
    const five = createRequire(import.meta.url)('johnny-five') as { Board: { cache: Array<{ io: unknown; emit(e: string): void }> } };
    const board = five.Board.cache.find((b) => b.io === t.boards[0]!.io)!;
    board.emit('exit');
    expect(t.boards[0]!.pwm.get(10)).toBe(255);
  });

  it('close() stops reconnecting and emits link false once', async () => {
    const t = mockTransports();
    const c = make({ openTransport: t.open });
    await c.open();
    const events: boolean[] = [];
    c.on('link', (up: boolean) => events.push(up));
    await c.close();
    await new Promise((r) => setTimeout(r, 60));
    expect(events).toEqual([false]);
    expect(t.boards.length).toBe(1);
    expect(t.boards[0]!.closed).toBe(true);
  });
});

describe('FirmataCooler bad config and failed handshakes', () => {
  it('names the field and lists the PWM pins when a fan is on a pin without PWM', async () => {
    const t = mockTransports();
    const c = make({ openTransport: t.open }, { ...CONFIG, fans: [fan('a', 9), fan('b', 4)], thermistors: [] });
    const err = await c.open().then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(FirmataConfigError);
    expect((err as Error).message).toContain('cooler.fans[1].channel: pin 4 is not PWM-capable on this board (PWM pins: 3, 5, 6, 9, 10, 11)');
    expect(c.linkUp).toBe(false);
    expect(t.boards[0]!.closed).toBe(true);
    expect(t.boards[0]!.writes).toEqual([]); // nothing was driven
  });

  it('refuses a missing analog input, a tach pin on a fan pin, serial pins and tach ids of no fan', async () => {
    const t = mockTransports();
    const c = make(
      { openTransport: t.open, tachPins: { a: 9, b: 0, ghost: 12 } },
      { ...CONFIG, fans: [fan('a', 9), fan('b', 10), fan('c', 15)], thermistors: [{ id: 't', channel: 7 }] },
    );
    const msg = await c.open().then(
      () => '',
      (e: Error) => e.message,
    );
    expect(msg).toContain('tachPins.ghost: no fan with id "ghost"');
    expect(msg).toContain('cooler.fans[0].tachPin: pin 9 is already used by fan "a" (PWM)');
    expect(msg).toContain('cooler.fans[1].tachPin: pin 0 is the serial link Firmata runs over');
    expect(msg).toContain('cooler.fans[2].channel: pin 15 is not PWM-capable');
    expect(msg).toContain('cooler.thermistors[0].channel: analog input A7 does not exist on this board (it has A0, A1, A2, A3, A4, A5)');
  });

  it('reads tachPin from a fan config entry when the schema carries one', async () => {
    const t = mockTransports();
    const c = make({ openTransport: t.open }, { ...CONFIG, fans: [{ ...fan('a', 9), tachPin: 16 } as ReturnType<typeof fan>], thermistors: [] });
    await c.open();
    expect(t.boards[0]!.digital.has(16)).toBe(true);
  });

  it('needs cooler.path when no transport is given', () => {
    expect(() => new FirmataCooler(CONFIG, { log })).toThrow('cooler.path: is required for the firmata driver');
  });

  it('times out a board that never completes the Firmata handshake, with a hint', async () => {
    const t = mockTransports('never');
    const c = make({ openTransport: t.open, readyTimeoutMs: 100 });
    const t0 = Date.now();
    await expect(c.open()).rejects.toThrow(/no Firmata handshake within 100 ms.*StandardFirmata: 57600/);
    expect(Date.now() - t0).toBeLessThan(400);
    expect(t.boards[0]!.closed).toBe(true);
  });

  it('reports a serial path that does not exist clearly (real serialport)', async () => {
    const c = new FirmataCooler({ ...CONFIG, path: '/dev/gance-no-such-port', baudRate: 57600 }, { log });
    await expect(c.open()).rejects.toThrow('cooler.path: cannot open /dev/gance-no-such-port at 57600 baud: /dev/gance-no-such-port does not exist');
  });
});
