/**
 * The control loop's side of the cooler (src/thermal/service/cooler-io.ts) on the real serial
 * driver, over a socat pty, to the real firmware image in avr8js: how many failed commands make a
 * lost link, by what kind of failure.
 */
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame } from '../../src/cooler/protocol/frame.ts';
import { Command, ErrorCode, REPLY_BIT, TYPE_ERROR } from '../../src/cooler/protocol/messages.ts';
import { createSerialCooler, type SerialCooler } from '../../src/cooler/serial/index.ts';
import { CoolerIo } from '../../src/thermal/service/cooler-io.ts';
import { startSimulatedCooler, type SimulatedCooler } from '../helpers/avr/index.ts';
import { eventually, quietLog, serialConfig } from './serial/setup.ts';

let board: SimulatedCooler;
let cooler: SerialCooler;

beforeAll(async () => {
  board = await startSimulatedCooler({ fans: 4 });
  cooler = createSerialCooler(serialConfig(board.path, { watchdogSeconds: 10 }), {
    log: quietLog,
    registry: new Registry(),
    requestTimeoutMs: 100,
    retries: 1,
    // no background traffic: the driver's own failure count stays out of it
    keepAliveMs: 60_000,
    countersEveryMs: 1e9,
  });
  await cooler.open();
}, 30_000);

afterEach(() => {
  board.bridge.toHost = null;
});

afterAll(async () => {
  await cooler?.close();
  await board?.stop();
});

describe('CoolerIo link verdict', () => {
  it('calls the link lost after one command the device never answers', async () => {
    const io = new CoolerIo(cooler, 1000, quietLog);
    io.write({ 'gpu0-a': 0.5 });
    await io.whenSettled();
    expect(io.linkOk()).toBe(true);

    board.bridge.toHost = () => null; // the device goes silent
    io.write({ 'gpu0-a': 0.5 });
    await io.whenSettled();
    // the driver gave up first (2 attempts of 100 ms), well inside CoolerIo's own 1 s
    expect(io.lastError).toMatch(/no answer to setDuty within 100 ms/);
    expect(io.writeFailures).toBe(1);
    expect(cooler.linkUp).toBe(true); // the driver itself has not given up on the port yet
    expect(io.linkOk()).toBe(false);

    board.bridge.toHost = null;
    io.write({ 'gpu0-a': 0.5 });
    await io.whenSettled();
    expect(io.linkOk()).toBe(true);
  });

  it('does not call the link lost on one command the device refuses: an answer proves the link', async () => {
    const io = new CoolerIo(cooler, 1000, quietLog);
    // the firmware's answer to each SET_DUTY becomes BAD_ARGUMENT
    board.bridge.toHost = (f) => (f.type === (Command.setDuty | REPLY_BIT) ? encodeFrame(f.seq, TYPE_ERROR, Uint8Array.of(ErrorCode.badArgument, Command.setDuty)) : null);
    io.write({ 'gpu0-a': 0.5 });
    await io.whenSettled();
    expect(io.lastError).toMatch(/rejected setDuty/);
    expect(io.writeFailures).toBe(1);
    expect(io.linkOk()).toBe(true);
    io.write({ 'gpu0-a': 0.5 });
    await io.whenSettled();
    expect(io.linkOk()).toBe(false); // two in a row: something is wrong all the same
  });

  it('logs a failure once while it lasts, and again after a recovery even when it says the same', async () => {
    const lines: Array<{ level: number; msg: string }> = [];
    const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
    const io = new CoolerIo(cooler, 1000, log);
    const refuse = (f: { seq: number; type: number }) => (f.type === (Command.setDuty | REPLY_BIT) ? encodeFrame(f.seq, TYPE_ERROR, Uint8Array.of(ErrorCode.badArgument, Command.setDuty)) : null);
    const send = async () => {
      io.write({ 'gpu0-a': 0.5 });
      await io.whenSettled();
    };
    const warnings = () => lines.filter((l) => l.msg === 'cooler command failed').length;
    board.bridge.toHost = refuse;
    await send();
    await send();
    expect(io.writeFailures).toBe(2);
    expect(warnings()).toBe(1); // the same failure again, while it lasts: not repeated
    board.bridge.toHost = null;
    await send();
    expect(io.lastError).toBeNull();
    expect(lines.filter((l) => l.msg === 'cooler commands answered again')).toHaveLength(1);
    board.bridge.toHost = refuse;
    await send();
    expect(io.lastError).toMatch(/rejected setDuty/);
    expect(warnings()).toBe(2);
  });
});

describe("CoolerIo: whether a read comes after the device took our duties (the cooler's own failsafe is news only then)", () => {
  it('not before duties are answered, nor after our own failsafe command until duties are answered again', async () => {
    const io = new CoolerIo(cooler, 1000, quietLog);
    const read = async () => {
      const before = io.stateAt;
      io.read();
      await eventually(() => io.stateAt > before, 5000, 'a read');
      return io.state!;
    };
    expect((await read()).failsafe).not.toBeNull();
    expect(io.readAfterDuties).toBe(false);
    io.write({ 'gpu0-a': 0.5 });
    await io.whenSettled();
    expect((await read()).failsafe).toBe(false);
    expect(io.readAfterDuties).toBe(true);

    // our own failsafe command: the firmware reports it, which is not news
    expect(await io.failsafeNow('test')).toBe(true);
    expect(io.readAfterDuties).toBe(false);
    expect((await read()).failsafe).toBe(true);
    expect(io.readAfterDuties).toBe(false);
    io.write({ 'gpu0-a': 0.5 });
    await io.whenSettled();
    expect((await read()).failsafe).toBe(false);
    expect(io.readAfterDuties).toBe(true);

    // the link going down and up: a new link, nothing answered on it yet
    cooler.emit('link', false);
    expect(io.readAfterDuties).toBe(false);
    await read();
    expect(io.readAfterDuties).toBe(false);
  });
});
