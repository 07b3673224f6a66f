/**
 * The firmware's side of bad input: wrong CRCs, oversized lengths, truncated frames, unknown
 * commands and bad arguments are counted, answered with an error and never acted on; garbage
 * never stops it from answering the next valid frame.
 */
import { describe, expect, it } from 'vitest';
import { MAX_FRAME, encodeFrame } from '../../src/cooler/protocol/frame.ts';
import { Command, ErrorCode, TYPE_ERROR, decodeCounters, decodeError, decodeState, encodeSetDuty } from '../../src/cooler/protocol/messages.ts';
import { CoolerSim } from '../../test/helpers/avr/sim.ts';
import { framesHiddenIn, noise, rng } from '../../test/helpers/avr/noise.ts';
import { bootSim } from '../../test/helpers/avr/sim-client.ts';

describe('firmware protocol errors', () => {
  it('answers a frame with a bad CRC with BAD_CRC, counts it and does not act on it', () => {
    const sim = new CoolerSim();
    const client = bootSim(sim);
    client.request(Command.setDuty, encodeSetDuty([{ channel: 0, duty: 0.5 }]));
    const frame = encodeFrame(42, Command.setDuty, encodeSetDuty([{ channel: 0, duty: 0.1 }]));
    frame[frame.length - 1]! ^= 0xff;
    client.sendRaw(frame);
    const reply = client.waitFor(42);
    expect(reply.type).toBe(TYPE_ERROR);
    expect(decodeError(reply.payload)).toMatchObject({ code: ErrorCode.badCrc, about: Command.setDuty });
    sim.runMs(5);
    expect(sim.pwm(0).duty).toBe(0.5);
    expect(decodeCounters(client.request(Command.getCounters)).crcErrors).toBe(1);
  });

  it('rejects unknown commands and bad arguments without applying anything', () => {
    const sim = new CoolerSim();
    const client = bootSim(sim);
    const cases: Array<[number, Buffer, number]> = [
      [0x42, Buffer.alloc(0), ErrorCode.unknownCommand],
      [0x83, Buffer.alloc(0), ErrorCode.unknownCommand], // a reply type sent as a command
      [Command.setDuty, Buffer.from([7, 0, 10]), ErrorCode.badArgument], // no channel 7
      [Command.setDuty, Buffer.from([0, 0x27, 0x11]), ErrorCode.badArgument], // 100.01%
      [Command.setDuty, Buffer.from([0, 0x10, 0x00, 1, 0x10, 0x00, 0, 0, 0]), ErrorCode.badArgument], // channel 0 twice: none applied
      [Command.setDuty, Buffer.from([0, 0x10]), ErrorCode.badArgument], // not a multiple of 3
      [Command.setSettings, Buffer.from([0, 100, 0x27, 0x10, 0x27, 0x10, 0, 0, 0]), ErrorCode.badArgument], // watchdog 100 ms
      [Command.getState, Buffer.from([1]), ErrorCode.badArgument],
    ];
    for (const [type, payload, code] of cases) {
      const f = client.exchange(type, payload);
      expect(f.type, `type 0x${type.toString(16)}`).toBe(TYPE_ERROR);
      expect(decodeError(f.payload), `type 0x${type.toString(16)}`).toMatchObject({ code, about: type });
    }
    sim.runMs(2);
    expect(sim.duties()).toEqual([1, 1, 1, 1]);
    const s = decodeState(client.request(Command.getState));
    expect(s.mode).toBe('boot'); // none of them counted as the host taking control
    const c = decodeCounters(client.request(Command.getCounters));
    expect(c.unknownCommands).toBe(2);
    expect(c.badArguments).toBe(6);
  });

  it('answers an oversized length and a truncated frame, then the next frame normally', () => {
    const sim = new CoolerSim();
    const client = bootSim(sim);
    client.sendRaw([0xa5, 0xc8]); // LEN 200 > 64
    sim.runMs(5);
    const truncated = encodeFrame(9, Command.getState).subarray(0, 4);
    client.sendRaw(truncated);
    sim.runMs(80); // > 50 ms inter-byte timeout
    const errors = client.errors().map((f) => decodeError(f.payload).code);
    expect(errors).toEqual([ErrorCode.badLength, ErrorCode.truncated]);
    expect(decodeState(client.request(Command.getState)).mode).toBe('boot');
    const c = decodeCounters(client.request(Command.getCounters));
    expect(c).toMatchObject({ lengthErrors: 1, truncated: 1 });
  });

  // Fuzz: garbage that is never a valid frame (checked), rich in near misses: SET_DUTY frames with
  // one bit flipped or a wrong CRC, truncated ones, oversized lengths, and line noise. After it the
  // duty registers must be exactly what the last valid SET_DUTY made them, the bad-frame counters
  // must have risen with not one frame accepted, and the next valid SET_DUTY must be applied.
  it.each([1, 7, 42, 1234, 0xbeef])('never acts on garbage and applies the next valid frame (fuzz, seed %i)', (seed) => {
    const sim = new CoolerSim();
    const client = bootSim(sim);
    const r = rng(seed);
    const channels = sim.pins.fans.map((_, i) => i);
    const randomDuty = (): number => Math.round((0.25 + r() * 0.7) * 10_000) / 10_000;
    const registers = () => channels.map((c) => sim.pwm(c));
    const setDuty = (duties: number[]): Buffer => encodeFrame(Math.floor(r() * 256), Command.setDuty, encodeSetDuty(duties.map((duty, channel) => ({ channel, duty }))));

    /** One near miss or a stretch of noise: never a valid frame (the whole stream is checked below). */
    const nearMiss = (): number[] => {
      const x = r();
      const frame = setDuty(channels.map(randomDuty));
      if (x < 0.3) {
        frame[Math.floor(r() * frame.length)]! ^= 1 << Math.floor(r() * 8); // one bit flipped: CRC-16 catches every one
        return [...frame];
      }
      if (x < 0.45) {
        frame[frame.length - 1]! ^= 1 + Math.floor(r() * 255); // a wrong CRC
        return [...frame];
      }
      if (x < 0.6) return [...frame.subarray(0, 1 + Math.floor(r() * (frame.length - 1)))]; // truncated
      if (x < 0.7) return [0xa5, 65 + Math.floor(r() * 191), ...frame.subarray(2)]; // LEN > 64
      return noise(r, 1 + Math.floor(r() * 60));
    };

    let duties = channels.map(randomDuty);
    for (let round = 0; round < 4; round++) {
      // a valid frame is acted on, before the garbage and after the previous round's garbage
      const applied = decodeState(client.request(Command.setDuty, encodeSetDuty(duties.map((duty, channel) => ({ channel, duty })))));
      expect(applied.fans.map((f) => f.target), `round ${round}`).toEqual(duties);
      sim.runMs(2);
      for (const c of channels) expect(Math.abs(sim.pwm(c).duty - duties[c]!), `round ${round} channel ${c}`).toBeLessThanOrEqual(1 / 80);
      const regs = registers();
      const before = decodeCounters(client.request(Command.getCounters));

      const bursts = Array.from({ length: 6 }, () => Array.from({ length: 1 + Math.floor(r() * 4) }, nearMiss).flat());
      bursts.push(new Array<number>(MAX_FRAME).fill(0)); // completes (and fails) any frame still open, so none is left for the next one
      expect(framesHiddenIn(bursts.flat()), `seed ${seed} round ${round}: the garbage holds a valid frame`).toEqual([]);
      for (const burst of bursts) {
        client.sendRaw(burst);
        sim.runMs(5 + r() * 80); // sometimes past the 50 ms inter-byte timeout (truncated), sometimes not
        expect(registers(), `seed ${seed} round ${round}: registers changed by garbage`).toEqual(regs);
      }
      sim.runMs(20);
      expect(registers()).toEqual(regs);

      const after = decodeCounters(client.request(Command.getCounters));
      const bad = (c: typeof before): number => c.crcErrors + c.lengthErrors + c.truncated;
      expect(bad(after), `seed ${seed} round ${round}: bad frames counted`).toBeGreaterThan(bad(before));
      expect(after.junkBytes).toBeGreaterThan(before.junkBytes);
      expect(after.framesOk - before.framesOk, 'no frame of the garbage accepted').toBe(1); // the GET_COUNTERS just sent
      expect(after.unknownCommands).toBe(before.unknownCommands);
      expect(after.badArguments).toBe(before.badArguments);
      expect(after.watchdogTrips).toBe(0);
      duties = channels.map(randomDuty);
    }
    const last = decodeState(client.request(Command.setDuty, encodeSetDuty(duties.map((duty, channel) => ({ channel, duty })))));
    expect(last.mode).toBe('run');
    expect(last.fans.map((f) => f.target)).toEqual(duties);
    expect(sim.resets).toEqual(['power-on']); // no crash, no watchdog reset
  });
});
