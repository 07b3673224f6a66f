import { describe, expect, it } from 'vitest';
import {
  COUNTER_NAMES,
  ProtocolError,
  decodeCounters,
  decodeError,
  decodeHello,
  decodeSettings,
  decodeState,
  dutyToWire,
  encodeGetCounters,
  encodeSetDuty,
  encodeSetSettings,
} from '../../../src/cooler/protocol/messages.ts';

describe('requests', () => {
  it('encodes SET_DUTY as channel + hundredths of a percent', () => {
    expect([...encodeSetDuty([{ channel: 0, duty: 0.5 }, { channel: 3, duty: 1 }])]).toEqual([0, 0x13, 0x88, 3, 0x27, 0x10]);
    expect(dutyToWire(0.12345)).toBe(1235);
  });

  it('rejects duties and channels that cannot be sent, naming them', () => {
    expect(() => encodeSetDuty([])).toThrow(/at least one/);
    expect(() => encodeSetDuty([{ channel: 1, duty: 1.2 }])).toThrow(/duty of channel 1.*0\.\.1/);
    expect(() => encodeSetDuty([{ channel: 1, duty: Number.NaN }])).toThrow(/duty of channel 1/);
    expect(() => encodeSetDuty([{ channel: 1, duty: 0.1 }, { channel: 1, duty: 0.2 }])).toThrow(/twice/);
  });

  it('encodes settings and checks their ranges', () => {
    const s = { watchdogMs: 3000, failsafeDuty: 1, kickDuty: 1, kickMs: 1000, threePinMask: 0b0101 };
    expect([...encodeSetSettings(s)]).toEqual([0x0b, 0xb8, 0x27, 0x10, 0x27, 0x10, 0x03, 0xe8, 5]);
    expect(() => encodeSetSettings({ ...s, watchdogMs: 100 })).toThrow(/watchdogMs.*500\.\.60000/);
    expect(() => encodeSetSettings({ ...s, failsafeDuty: 0.3 })).toThrow(/failsafeDuty/);
    expect([...encodeGetCounters(true)]).toEqual([1]);
  });
});

describe('replies', () => {
  it('decodes HELLO', () => {
    const p = Buffer.concat([Buffer.from([1, 1, 2, 3, 4, 2, 0x00, 0x45, 64, 0x08, 0x61, 0xa8, 0x01, 0x02]), Buffer.from('gance-cooler')]);
    expect(decodeHello(p)).toEqual({
      protocolVersion: 1,
      firmwareVersion: '1.2.3',
      fanCount: 4,
      thermistorCount: 2,
      capabilities: ['tach', 'settingsEeprom', 'hostWatchdog'],
      maxPayload: 64,
      resetCause: ['watchdog'],
      pwmHz: 25000,
      boots: 258,
      name: 'gance-cooler',
    });
  });

  it('decodes STATE with unknown rpm and invalid thermistors as null', () => {
    const p = Buffer.from([
      1, 0, 0, 0x03, 0xe8, 0x0b, 0xb8, 1, // run, uptime 1000, watchdog left 3000, 1 fan
      0x13, 0x88, 0x27, 0x10, 0xff, 0xff, 0x05, // target .5, applied 1, rpm unknown, kicking+3pin
      2, 0x20, 0x00, 0x09, 0xc4, 0xff, 0xff, 0x80, 0x00, // 2 thermistors: 25.00 C; none yet
    ]);
    const s = decodeState(p);
    expect(s.mode).toBe('run');
    expect(s.uptimeMs).toBe(1000);
    expect(s.fans[0]).toMatchObject({ target: 0.5, applied: 1, rpm: null, kicking: true, threePin: true, stalled: false });
    expect(s.thermistors).toEqual([
      { channel: 0, raw: 8192, celsius: 25 },
      { channel: 1, raw: null, celsius: null },
    ]);
  });

  it('refuses replies of the wrong size instead of reading past them', () => {
    expect(() => decodeState(Buffer.from([1, 0, 0]))).toThrow(ProtocolError);
    expect(() => decodeCounters(Buffer.alloc(47))).toThrow(/too short/);
    expect(() => decodeSettings(Buffer.alloc(11))).toThrow(/trailing/);
    expect(decodeCounters(Buffer.alloc(48)).watchdogTrips).toBe(0);
    expect(COUNTER_NAMES).toHaveLength(12);
    expect(decodeError(Buffer.from([1, 3]))).toEqual({ code: 1, name: 'badCrc', about: 3 });
  });
});
