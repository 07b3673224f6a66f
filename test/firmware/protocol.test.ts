/**
 * The firmware's side of bad input: wrong CRCs, oversized lengths, truncated frames, unknown
 * commands and bad arguments are counted, answered with an error and never acted on; garbage
 * never stops it from answering the next valid frame.
 */
import { describe, expect, it } from 'vitest';
import { encodeFrame } from '../../src/cooler/protocol/frame.ts';
import { Command, ErrorCode, TYPE_ERROR, decodeCounters, decodeError, decodeState, encodeSetDuty } from '../../src/cooler/protocol/messages.ts';
import { CoolerSim } from '../../test/helpers/avr/sim.ts';
import { bootSim } from '../../test/helpers/avr/sim-client.ts';

function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

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

  it('keeps running through random garbage and answers the next valid frame (fuzz)', () => {
    const sim = new CoolerSim();
    const client = bootSim(sim);
    client.request(Command.setDuty, encodeSetDuty([{ channel: 1, duty: 0.6 }]));
    const r = rng(7);
    let sent = 0;
    for (let burst = 0; burst < 40; burst++) {
      const n = 1 + Math.floor(r() * 120);
      const bytes = Array.from({ length: n }, () => {
        const x = r();
        return x < 0.08 ? 0xa5 : x < 0.16 ? Math.floor(r() * 70) : Math.floor(r() * 256);
      });
      client.sendRaw(bytes);
      sent += n;
      sim.runMs(10 + r() * 60);
      // interleave valid requests: every one gets its answer despite the noise around it
      if (burst % 8 === 7) expect(decodeState(client.request(Command.getState, undefined, 400)).fans[1]!.target).toBeCloseTo(0.6, 4);
    }
    sim.runMs(100);
    expect(sim.resets).toEqual(['power-on']); // no crash, no watchdog reset
    const c = decodeCounters(client.request(Command.getCounters));
    expect(c.junkBytes + c.crcErrors + c.lengthErrors + c.truncated).toBeGreaterThan(0);
    expect(c.junkBytes).toBeLessThanOrEqual(sent);
    // garbage that happened to decode as a command was still validated: channel 1 untouched unless a
    // valid SET_DUTY for it came out of the noise (checked via the counters' frames_ok)
    expect(sim.pwm(1).duty === 0.6 || c.framesOk > 6).toBe(true);
  });
});
