/**
 * The serial driver's request timeouts, retries and bad-frame counters, on the real firmware in
 * avr8js behind a socat pty, with faults injected on the wire by the bridge
 * (test/helpers/avr/bridge.ts): replies dropped, corrupted, forged or late, garbage from the
 * device, and requests the firmware itself refuses.
 */
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { FrameParser, encodeFrame, type Frame } from '../../../src/cooler/protocol/frame.ts';
import { Command, REPLY_BIT, TYPE_ERROR, decodeState } from '../../../src/cooler/protocol/messages.ts';
import { DeviceErrorReply, RequestTimeoutError, createSerialCooler, type SerialCooler } from '../../../src/cooler/serial/index.ts';
import { F_CPU, startSimulatedCooler, type SimulatedCooler } from '../../helpers/avr/index.ts';
import { framesHiddenIn, noise as lineNoise, rng } from '../../helpers/avr/noise.ts';
import { countersNow, eventually, quietLog, serialConfig } from './setup.ts';

/**
 * The host's waits (request timeouts, the parser's partial-frame timeout) run on the simulated
 * board's clock. A real board answers within a few ms of the host's time; the simulated one runs
 * slower than real time on a loaded machine (a tenth of it under CPU burners), and on the wall
 * clock its replies came after the request timeout and were then counted as late (stale) or, cut
 * by the parser's timeout mid-frame, as truncated and junk: counts a real wire does not produce.
 * The waits' stall tolerance is covered on its own (test/cooler/timeout.test.ts).
 */
const clock = vi.hoisted(() => ({ board: null as { runner: { simTimeout(ms: number, onExpire: () => void): { cancel(): void } } } | null }));
vi.mock('../../../src/cooler/timeout.ts', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../../src/cooler/timeout.ts')>();
  return {
    ...real,
    stallTolerantTimeout: (ms: number, onExpire: () => void, opts?: { unref?: boolean }) =>
      clock.board ? clock.board.runner.simTimeout(ms, onExpire) : real.stallTolerantTimeout(ms, onExpire, opts),
  };
});

const REQUEST_TIMEOUT_MS = 300;
const BAD_REASONS = ['stale', 'unknown_type', 'truncated', 'length', 'malformed'] as const;

let board: SimulatedCooler;
let cooler: SerialCooler;
const registry = new Registry();
const linkEvents: boolean[] = [];

beforeAll(async () => {
  board = await startSimulatedCooler({ fans: 4 });
  clock.board = board;
  cooler = createSerialCooler(serialConfig(board.path, { watchdogSeconds: 10 }), {
    log: quietLog,
    registry,
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
    retries: 2,
    // No background traffic: every request on the wire is the test's own, so each fault lands on
    // the request the test means, and no keep-alive success hides a failure count.
    keepAliveMs: 60_000,
    countersEveryMs: 1e9,
    backoffMaxMs: 500,
  });
  cooler.on('link', (up: boolean) => linkEvents.push(up));
  await cooler.open();
}, 30_000);

beforeEach(() => {
  linkEvents.length = 0;
});

afterEach(() => {
  board.bridge.toHost = null;
  board.bridge.toDevice = null;
});

afterAll(async () => {
  await cooler?.close();
  clock.board = null;
  await board?.stop();
});

/** What the faults sent to the host instead of the replies, for parserCounts(). */
const faulted: Buffer[] = [];

/** Applies `fault` to the next `times` replies to `command` on their way to the host. */
function faultReplies(command: number, fault: Fault, times = 1): void {
  let left = times;
  board.bridge.toHost = (f, bytes) => {
    if (f.type !== (command | REPLY_BIT) || left === 0) return bytes;
    left--;
    const out = fault(bytes, f);
    if (out) faulted.push(Buffer.from(out));
    return out;
  };
}

/**
 * What the host's frame parser must count for the bytes the faults sent, each on its own (the next
 * reply comes only after the request's timeout, when the parser has dropped any partial frame):
 * where a corrupted frame's remains hold another sync byte (its seq or payload, by chance) they
 * make a second partial frame, so the exact counts depend on the bytes.
 */
function parserCounts(sent: Buffer[]): { crc: number; length: number; truncated: number; junk: number } {
  const sum = { crc: 0, length: 0, truncated: 0, junk: 0 };
  for (const b of sent) {
    const p = new FrameParser();
    p.push(b);
    while (p.pending > 0) p.flushPartial();
    sum.crc += p.stats.crcErrors;
    sum.length += p.stats.lengthErrors;
    sum.truncated += p.stats.truncated;
    sum.junk += p.stats.junkBytes;
  }
  return sum;
}

/** The counts deltasOf() must find for the faults sent, given the driver-level ones. */
function expectedCounts(sent: Buffer[], driverLevel: { unknown_type?: number; malformed?: number; stale?: number }) {
  const p = parserCounts(sent);
  const bad = Object.fromEntries(Object.entries({ ...driverLevel, length: p.length, truncated: p.truncated }).filter(([, n]) => n !== 0));
  return { crc: p.crc, bad, junk: p.junk };
}

type Fault = (bytes: Buffer, frame: Frame) => Uint8Array | null;

/** What each fault does to a reply, and what the driver must count for it (besides requests). */
const FAULTS: Record<string, { fault: Fault; timeouts: number; retries: number; crc?: number; bad?: Partial<Record<(typeof BAD_REASONS)[number], number>>; junk?: number }> = {
  // crc, bad and junk: at least this much (exactly: parserCounts())
  'dropped on the wire': { fault: () => null, timeouts: 1, retries: 1 },
  'bad CRC (a payload bit flipped)': {
    fault: (b) => {
      const c = Buffer.from(b);
      c[5]! ^= 0x10;
      return c;
    },
    timeouts: 1,
    retries: 1,
    crc: 1,
  },
  'unknown reply type (valid CRC)': { fault: (_b, f) => encodeFrame(f.seq, 0x99, f.payload), timeouts: 1, retries: 1, bad: { unknown_type: 1 } },
  truncated: { fault: (b) => b.subarray(0, 9), timeouts: 1, retries: 1, bad: { truncated: 1 } },
  'oversized length (LEN 200)': { fault: () => Buffer.from([0xa5, 0xc8, 0x00, 0x11, 0x22]), timeouts: 1, retries: 1, bad: { length: 1 }, junk: 4 },
  'unreadable error frame for our seq': { fault: (_b, f) => encodeFrame(f.seq, TYPE_ERROR, Buffer.from([1, 2, 3])), timeouts: 0, retries: 1, bad: { malformed: 1 } },
  // passes its CRC, right seq and type, but a state reply cut short: the driver cannot read it
  'wrong payload shape (valid CRC, our seq and type)': { fault: (_b, f) => encodeFrame(f.seq, f.type, f.payload.subarray(0, 3)), timeouts: 0, retries: 1, bad: { malformed: 1 } },
  'junk before a good reply': { fault: (b) => Buffer.concat([Buffer.from([0x00, 0x13, 0x37, 0x5a]), b]), timeouts: 0, retries: 0, junk: 4 },
};

async function deltasOf(command: string, run: () => Promise<unknown>) {
  const before = await countersNow(registry);
  await run();
  const after = await countersNow(registry);
  const d = (name: string, labels?: Record<string, string>): number => after(name, labels) - before(name, labels);
  return {
    requests: d('gance_cooler_requests_total', { command }),
    timeouts: d('gance_cooler_request_timeouts_total', { command }),
    retries: d('gance_cooler_request_retries_total', { command }),
    crc: d('gance_cooler_crc_errors_total', { side: 'host' }),
    bad: Object.fromEntries(BAD_REASONS.map((r) => [r, d('gance_cooler_bad_frames_total', { side: 'host', reason: r })]).filter(([, n]) => n !== 0)),
    junk: d('gance_cooler_junk_bytes_total', { side: 'host' }),
    deviceErrors: d('gance_cooler_device_error_replies_total'),
    reconnects: d('gance_cooler_reconnects_total'),
  };
}

describe('serial driver: timeouts and retries', () => {
  it('a dropped reply: the request times out, is counted, retried, and succeeds', async () => {
    faultReplies(Command.getState, () => null);
    const simMs = (): number => (board.sim.cycles * 1000) / F_CPU; // the clock the host waits on
    const t0 = simMs();
    let state: Awaited<ReturnType<SerialCooler['readDevice']>> | undefined;
    const d = await deltasOf('getState', async () => (state = await cooler.readDevice()));
    expect(simMs() - t0).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS);
    expect(state!.fans).toHaveLength(4);
    expect(d).toMatchObject({ requests: 2, timeouts: 1, retries: 1, crc: 0, bad: {}, deviceErrors: 0, reconnects: 0 });
    expect(cooler.linkUp).toBe(true);
    expect(linkEvents).toEqual([]);
  });

  it('a late reply to an attempt already given up on is counted as stale, not taken as the answer', async () => {
    let held: Buffer | null = null;
    board.bridge.toHost = (f, bytes) => {
      if (f.type !== (Command.getState | REPLY_BIT)) return bytes;
      if (!held) {
        held = Buffer.from(bytes);
        return null;
      }
      board.bridge.toHost = null;
      return Buffer.concat([held, bytes]); // the first answer arrives just before the retry's
    };
    let state: Awaited<ReturnType<SerialCooler['readDevice']>> | undefined;
    const d = await deltasOf('getState', async () => (state = await cooler.readDevice()));
    expect(d).toMatchObject({ requests: 2, timeouts: 1, retries: 1, bad: { stale: 1 }, reconnects: 0 });
    const late = decodeState(new FrameParser().push(held!)[0]!.payload);
    expect(state!.uptimeMs).toBeGreaterThan(late.uptimeMs); // the retry's own answer, not the late one
  });
});

describe('serial driver: corrupted replies from the device are counted and dropped', () => {
  it.each(Object.entries(FAULTS))('%s', async (_name, c) => {
    faulted.length = 0;
    faultReplies(Command.getState, c.fault);
    const d = await deltasOf('getState', () => cooler.readDevice());
    const { unknown_type, malformed } = c.bad ?? {};
    // a good reply later than the request timeout (held in the pty: the host waits on the board's
    // clock, the pty's transit does not) costs one more timeout and retry, and is then counted as
    // stale: allowed, but only counted so
    const late = d.bad.stale ?? 0;
    expect(d).toEqual({
      requests: 1 + c.retries + late,
      timeouts: c.timeouts + late,
      retries: c.retries + late,
      ...expectedCounts(faulted, { unknown_type, malformed, stale: late }),
      deviceErrors: 0,
      reconnects: 0,
    });
    expect(d.crc).toBeGreaterThanOrEqual(c.crc ?? 0);
    expect(d.junk).toBeGreaterThanOrEqual(c.junk ?? 0);
    for (const [reason, n] of Object.entries(c.bad ?? {})) expect(d.bad[reason], reason).toBeGreaterThanOrEqual(n);
    expect(cooler.linkUp).toBe(true);
    expect(linkEvents).toEqual([]);
  });

  it('one random fault on most replies (fuzz, 3 seeds): every request still succeeds and every fault is counted', async () => {
    const kinds = [...Object.entries(FAULTS), ['none', null] as const];
    for (const seed of [1, 2, 3]) {
      const r = rng(seed);
      const want = { timeouts: 0, retries: 0, unknown_type: 0, malformed: 0 };
      faulted.length = 0;
      const before = await countersNow(registry);
      for (let i = 0; i < 8; i++) {
        const [, c] = kinds[Math.floor(r() * kinds.length)]!;
        const op = i % 3;
        const command = op === 0 ? Command.setDuty : op === 1 ? Command.getState : Command.getCounters;
        if (c) {
          faultReplies(command, c.fault);
          want.timeouts += c.timeouts;
          want.retries += c.retries;
          want.unknown_type += c.bad?.unknown_type ?? 0;
          want.malformed += c.bad?.malformed ?? 0;
        }
        if (op === 0) {
          const duty = Math.round((0.2 + r() * 0.8) * 100) / 100;
          await cooler.setDuties({ 'gpu0-a': duty });
          expect(board.sim.pwm(0).duty).toBeCloseTo(duty, 2); // applied (a retried SET_DUTY is idempotent)
        } else if (op === 1) {
          expect((await cooler.readDevice()).mode).toBe('run');
        } else {
          expect((await cooler.readCounters()).framesOk).toBeGreaterThan(0);
        }
        board.bridge.toHost = null;
      }
      const after = await countersNow(registry);
      const d = (name: string, labels?: Record<string, string>): number => after(name, labels) - before(name, labels);
      expect({
        timeouts: d('gance_cooler_request_timeouts_total'),
        retries: d('gance_cooler_request_retries_total'),
        crc: d('gance_cooler_crc_errors_total', { side: 'host' }),
        junk: d('gance_cooler_junk_bytes_total', { side: 'host' }),
        bad: Object.fromEntries(BAD_REASONS.map((k) => [k, d('gance_cooler_bad_frames_total', { side: 'host', reason: k })]).filter(([, n]) => n !== 0)),
      }, `seed ${seed}`).toEqual({ timeouts: want.timeouts, retries: want.retries, ...expectedCounts(faulted, { unknown_type: want.unknown_type, malformed: want.malformed }) });
      expect(d('gance_cooler_reconnects_total')).toBe(0);
    }
    expect(cooler.linkUp).toBe(true);
    expect(linkEvents).toEqual([]);
  }, 60_000);

  it('garbage from the device between requests is counted and never stops the next request', async () => {
    const r = rng(11);
    for (let round = 0; round < 5; round++) {
      const noise = lineNoise(r, 50 + Math.floor(r() * 150));
      expect(framesHiddenIn(noise), 'the noise holds no valid frame').toEqual([]);
      const d = await deltasOf('getState', async () => {
        board.bridge.injectToHost(noise);
        // right behind the noise, a partial frame may still be open in the parser: the reply completes
        // (and fails) it, and the parser's rescan, or a retry, still gets the answer through
        expect((await cooler.readDevice()).fans).toHaveLength(4);
        await board.runner.simDelay(250); // partial frames left over time out (100 ms, on the board's clock)
      });
      expect(d.junk + d.crc + (d.bad.length ?? 0) + (d.bad.truncated ?? 0), `round ${round}`).toBeGreaterThan(0);
      expect(d.reconnects).toBe(0);
    }
    expect(cooler.linkUp).toBe(true);
    expect(linkEvents).toEqual([]);
  }, 30_000);
});

describe('serial driver: error replies from the device', () => {
  it('an error reply (BAD_ARGUMENT) rejects that request clearly and does not count toward dropping the link', async () => {
    await cooler.setDuties({ 'gpu0-a': 0.4, 'gpu0-b': 0.6 });
    const duties = board.sim.duties();
    const deviceBadArgs = (await cooler.readCounters()).badArguments;
    // The wire turns every SET_DUTY into one asking 100.01%: the firmware itself answers BAD_ARGUMENT.
    board.bridge.toDevice = (f, bytes) => {
      if (f.type !== Command.setDuty) return bytes;
      const p = Buffer.from(f.payload);
      for (let i = 0; i + 2 < p.length; i += 3) p.writeUInt16BE(10_001, i + 1);
      return encodeFrame(f.seq, f.type, p);
    };
    const d = await deltasOf('setDuty', async () => {
      for (let i = 0; i < 5; i++) {
        const err = await cooler.setDuties({ 'gpu0-a': 0.5 }).catch((e: unknown) => e);
        expect(err, `attempt ${i + 1}`).toBeInstanceOf(DeviceErrorReply);
        expect((err as Error).message).toBe('cooler firmware rejected setDuty: badArgument');
      }
    });
    // A refused command does not feed the device's watchdog: the mode it last reported may be over
    // (it said "run" here, and kept saying it while every command was refused and the device tripped).
    expect(cooler.deviceFailsafe()).toEqual({ failsafe: null, assumed: false });
    board.bridge.toDevice = null;
    expect(d).toMatchObject({ requests: 5, timeouts: 0, retries: 0, deviceErrors: 5, reconnects: 0 });
    expect(cooler.linkUp).toBe(true);
    expect(linkEvents).toEqual([]); // the port was never closed
    expect(board.sim.duties()).toEqual(duties); // never acted on
    expect((await cooler.readCounters()).badArguments - deviceBadArgs).toBe(5);
    await cooler.setDuties({ 'gpu0-a': 0.45 });
    expect(board.sim.pwm(0).duty).toBeCloseTo(0.45, 2);
    expect(cooler.deviceFailsafe()).toEqual({ failsafe: false, assumed: false });
    expect(linkEvents).toEqual([]);
  });

  it('three unanswered requests in a row do drop the link, which is reopened', async () => {
    faultReplies(Command.getState, () => null, Infinity);
    const d = await deltasOf('getState', async () => {
      for (let i = 0; i < 3; i++) {
        const err = await cooler.readDevice().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(RequestTimeoutError);
        expect((err as Error).message).toMatch(/no answer to getState within 300 ms \(3 of 3 attempts\)/);
      }
      board.bridge.toHost = null;
      await eventually(() => linkEvents.length === 2 && cooler.linkUp, 10_000, 'link reopened');
    });
    expect(d).toMatchObject({ timeouts: 9, reconnects: 1 });
    expect(linkEvents).toEqual([false, true]);
    expect((await cooler.readDevice()).fans).toHaveLength(4);
  }, 30_000);
});

describe("serial driver: the device's uptime", () => {
  const resetsWhileConnected = async (): Promise<number> => (await countersNow(registry))('gance_cooler_device_resets_total', { cause: 'while-connected' });

  it('going past 2^32 ms (49.7 days) is no restart; a real one while connected still is', async () => {
    const before = await resetsWhileConnected();
    // The wire moves the device's clock to 400 ms before its u32 wraps.
    const offset = 2 ** 32 - (await cooler.readDevice()).uptimeMs - 400;
    board.bridge.toHost = (f, bytes) => {
      if (f.type !== (Command.getState | REPLY_BIT)) return bytes;
      const p = Buffer.from(f.payload);
      p.writeUInt32BE((p.readUInt32BE(1) + offset) >>> 0, 1);
      return encodeFrame(f.seq, f.type, p);
    };
    const first = (await cooler.readDevice()).uptimeMs;
    expect(first).toBeGreaterThan(2 ** 32 - 2000);
    let wrapped = false;
    for (let i = 0; i < 500 && !wrapped; i++) {
      await new Promise((r) => setTimeout(r, 20));
      wrapped = (await cooler.readDevice()).uptimeMs < first;
    }
    expect(wrapped).toBe(true);
    board.bridge.toHost = null;
    await cooler.readDevice(); // back to the real clock: a jump forward
    expect(await resetsWhileConnected()).toBe(before);

    board.sim.hang(); // the AVR watchdog resets it; the port stays open
    await eventually(() => board.sim.resets.length === 2, 10_000, 'watchdog reset');
    expect((await cooler.readDevice()).mode).toBe('boot');
    expect(await resetsWhileConnected()).toBe(before + 1);
  }, 30_000);
});
