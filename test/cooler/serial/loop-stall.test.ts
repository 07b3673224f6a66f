/**
 * A blocked event loop must not cost us frames that arrived in time. Node runs expired timers
 * before it reads input, so after a stall a naive timeout fires while the answer sits unread in
 * the pty. Real serialport on a socat pty pair; this thread blocks its own loop past the timeout,
 * as a long synchronous step or a GC pause would, and a worker thread writes the far end's bytes
 * while it is blocked, so they arrive strictly during the stall.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { EventEmitter, once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { Registry } from 'prom-client';
import { SerialPort } from 'serialport';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FrameParser, FrameParserStream, encodeFrame, type Frame } from '../../../src/cooler/protocol/frame.ts';
import { Command, REPLY_BIT } from '../../../src/cooler/protocol/messages.ts';
import type { Cooler } from '../../../src/cooler/cooler.ts';
import { SerialLink } from '../../../src/cooler/serial/link.ts';
import { CoolerLinkMetrics } from '../../../src/cooler/serial/metrics.ts';
import { CoolerIo } from '../../../src/thermal/service/cooler-io.ts';
import { PtyPair } from '../../helpers/avr/pty.ts';
import { countersNow, quietLog } from './setup.ts';

let dir: string;
let pair: PtyPair;
let device: SerialPort;
let writer: Worker;
const written = new Int32Array(new SharedArrayBuffer(4));
const closers: (() => Promise<void>)[] = [];

/** Writes to the far end on request, from its own thread, and counts the writes in `written`. */
const WRITER = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const fd = fs.openSync(workerData.path, fs.constants.O_RDWR | fs.constants.O_NOCTTY);
const written = new Int32Array(workerData.written);
parentPort.on('message', (bytes) => {
  fs.writeSync(fd, bytes);
  Atomics.add(written, 0, 1);
  Atomics.notify(written, 0);
});
`;

/** Blocks this thread for `ms` in all; the far end writes `bytes` meanwhile. */
function stallWhileFarEndWrites(bytes: Uint8Array, ms: number): void {
  const start = performance.now();
  const before = Atomics.load(written, 0);
  writer.postMessage(Buffer.from(bytes));
  expect(Atomics.wait(written, 0, before, 5000)).not.toBe('timed-out');
  blockLoop(ms - (performance.now() - start));
}

/** The stall under test: nothing else in this process runs meanwhile. */
function blockLoop(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // spin
  }
}

/** A cooler whose setDuties is one ping over `link`: CoolerIo's view of a device, nothing more. */
function pingCooler(link: SerialLink): Cooler {
  return Object.assign(new EventEmitter(), {
    info: { kind: 'serial' as const, version: 'test', fans: ['a'], thermistors: [] },
    linkUp: true,
    deviceWatchdogMs: null,
    deviceFailsafe: () => ({ failsafe: null, assumed: false }),
    open: async () => {},
    setDuties: async () => void (await link.request(Command.ping, Buffer.from('duties'))),
    read: () => Promise.reject(new Error('not read here')),
    failsafe: async () => ({ sent: false as const, why: 'not here' }),
    close: async () => {},
  });
}

async function openPort(path: string): Promise<SerialPort> {
  const port = new SerialPort({ path, baudRate: 115200, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
  return port;
}

/** Writes from the far end and resolves once the bytes are in the pty (not just queued in node). */
function deviceWrite(bytes: Uint8Array): Promise<void> {
  device.write(Buffer.from(bytes));
  return new Promise((resolve, reject) => device.drain((e) => (e ? reject(e) : resolve())));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gance-stall-'));
  pair = await PtyPair.open(dir, 'cooler');
  device = await openPort(pair.devicePath);
  writer = new Worker(WRITER, { eval: true, workerData: { path: pair.devicePath, written: written.buffer } });
  await once(writer, 'online');
});

afterEach(async () => {
  device.removeAllListeners('data');
  for (const close of closers.splice(0)) await close();
});

afterAll(async () => {
  await writer?.terminate();
  if (device?.isOpen) await new Promise<void>((r) => device.close(() => r()));
  await pair?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('event-loop stalls on the serial link', () => {
  it('a reply that arrived during a stall past the request timeout still answers its request', async () => {
    const registry = new Registry();
    const link = await SerialLink.open({ path: pair.hostPath, baudRate: 115200, metrics: new CoolerLinkMetrics(registry), requestTimeoutMs: 100, retries: 0 });
    closers.push(() => link.close());
    const requests = new FrameParser();
    const asked = new Promise<Frame>((resolve) => device.on('data', (d: Buffer) => requests.push(d).forEach(resolve)));
    const reply = link.request(Command.ping, Buffer.from('in time'));
    const f = await asked;
    // the answer comes a few ms into the 100 ms wait, but this thread is stalled until well past it
    stallWhileFarEndWrites(encodeFrame(f.seq, f.type | REPLY_BIT, f.payload), 300);
    await expect(reply).resolves.toEqual(Buffer.from('in time'));
    const at = await countersNow(registry);
    expect(at('gance_cooler_request_timeouts_total')).toBe(0);
    expect(at('gance_cooler_bad_frames_total', { reason: 'stale' })).toBe(0);
  });

  it('the rest of a frame that arrived during a stall past the partial-frame timeout completes it', async () => {
    const host = await openPort(pair.hostPath);
    closers.push(() => new Promise<void>((r) => host.close(() => r())));
    const parser = new FrameParserStream({ timeoutMs: 100 });
    host.pipe(parser);
    const frames: Frame[] = [];
    parser.on('data', (f: Frame) => frames.push(f));

    const bytes = encodeFrame(9, Command.ping | REPLY_BIT, Buffer.from('split in two'));
    const firstHalf = once(host, 'data');
    await deviceWrite(bytes.subarray(0, 5));
    await firstHalf;
    expect(parser.parser.pending).toBe(5); // the partial frame's timer runs from here
    stallWhileFarEndWrites(bytes.subarray(5), 300);
    await once(host, 'data'); // the rest, read only now
    expect(frames).toEqual([{ seq: 9, type: Command.ping | REPLY_BIT, payload: Buffer.from('split in two') }]);
    expect(parser.parser.stats.truncated).toBe(0);
  });

  it('a device that stays silent still times out after a stall', async () => {
    const link = await SerialLink.open({ path: pair.hostPath, baudRate: 115200, metrics: new CoolerLinkMetrics(new Registry()), requestTimeoutMs: 100, retries: 0 });
    closers.push(() => link.close());
    const asked = once(device, 'data');
    const reply = link.request(Command.ping, Buffer.from('anyone?'));
    await asked;
    blockLoop(300);
    await expect(reply).rejects.toThrow(/no answer to ping within 100 ms/);
  });

  it('the control loop does not call the link lost over a command answered during its own stall past the cooler timeout', async () => {
    const link = await SerialLink.open({ path: pair.hostPath, baudRate: 115200, metrics: new CoolerLinkMetrics(new Registry()), requestTimeoutMs: 100, retries: 0 });
    closers.push(() => link.close());
    const io = new CoolerIo(pingCooler(link), 100, quietLog);
    const requests = new FrameParser();
    const asked = new Promise<Frame>((resolve) => device.on('data', (d: Buffer) => requests.push(d).forEach(resolve)));
    io.write({ a: 0.5 });
    const f = await asked;
    // the loop's next tick, armed before the stall: after it Node runs this timer before it reads the reply
    const tick = new Promise<boolean>((resolve) => setTimeout(() => resolve(io.linkOk()), 150));
    stallWhileFarEndWrites(encodeFrame(f.seq, f.type | REPLY_BIT, f.payload), 300);
    expect(await tick).toBe(true);
    // (that the reply then answers the command is the first test's, on the link itself)
    await io.whenSettled();

    // a device that stays silent through the same stall is still a lost link
    const again = once(device, 'data');
    io.write({ a: 0.5 });
    await again;
    blockLoop(300);
    await io.whenSettled();
    expect(io.lastError).toMatch(/no answer to ping within 100 ms/);
    expect(io.linkOk()).toBe(false);
  });
});
