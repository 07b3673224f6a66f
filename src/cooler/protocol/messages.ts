/**
 * Commands and replies of the cooler protocol (firmware/PROTOCOL.md "Commands"). Multi-byte
 * fields are big-endian; duties are hundredths of a percent (0..10000) on the wire and 0..1 here.
 */

export const PROTOCOL_VERSION = 1;
/** firmware/dist/cooler.hex's version (firmware/src/config.h; a test keeps the two equal) */
export const FIRMWARE_VERSION = '1.1.0';

/** Whether firmware version `a` ("major.minor.patch") is older than `b`. */
export function firmwareOlder(a: string, b: string): boolean {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) < (pb[i] ?? 0);
  return false;
}

export const Command = {
  hello: 0x01,
  setDuty: 0x02,
  getState: 0x03,
  getCounters: 0x04,
  getSettings: 0x05,
  setSettings: 0x06,
  ping: 0x07,
  failsafe: 0x08,
} as const;
export type CommandName = keyof typeof Command;
export type CommandCode = (typeof Command)[CommandName];

export const REPLY_BIT = 0x80;
export const TYPE_ERROR = 0xff;

export const commandName = (code: number): string =>
  (Object.entries(Command).find(([, c]) => c === code)?.[0] ?? `0x${code.toString(16).padStart(2, '0')}`);

export const ErrorCode = { badCrc: 1, badLength: 2, unknownCommand: 3, badArgument: 4, truncated: 5 } as const;
export type ErrorCodeName = keyof typeof ErrorCode;
export const errorName = (code: number): string =>
  (Object.entries(ErrorCode).find(([, c]) => c === code)?.[0] ?? `error-${code}`);

export const Capability = {
  tach: 0x0001,
  thermistorCelsius: 0x0002,
  settingsEeprom: 0x0004,
  kickStart: 0x0008,
  threePin: 0x0010,
  hardwareWatchdog: 0x0020,
  hostWatchdog: 0x0040,
} as const;
export type CapabilityName = keyof typeof Capability;

export const Mode = { boot: 0, run: 1, failsafeWatchdog: 2, failsafeHost: 3 } as const;
export type ModeName = keyof typeof Mode;
export const modeName = (m: number): ModeName | 'unknown' =>
  ((Object.entries(Mode).find(([, c]) => c === m)?.[0] as ModeName | undefined) ?? 'unknown');

export const FanFlag = { kicking: 0x01, stalled: 0x02, threePin: 0x04, tachSeen: 0x08 } as const;

export const ResetCause = { powerOn: 0x01, external: 0x02, brownOut: 0x04, watchdog: 0x08 } as const;

export const DUTY_FULL = 10000;
export const RPM_UNKNOWN = 0xffff;
export const THERM_INVALID = -0x8000;
export const THERM_RAW_FULL = 16 * 1024;

/** A reply that does not have the shape its type promises. */
export class ProtocolError extends Error {
  override name = 'ProtocolError';
}

// ---- requests ----

export function dutyToWire(duty: number, what = 'duty'): number {
  if (typeof duty !== 'number' || !Number.isFinite(duty) || duty < 0 || duty > 1) {
    throw new RangeError(`${what}: expected a number 0..1, got ${String(duty)}`);
  }
  return Math.round(duty * DUTY_FULL);
}

export const encodeHello = (): Buffer => Buffer.from([PROTOCOL_VERSION]);

/** SET_DUTY payload: [channel u8][duty u16] per entry; channels must be distinct. */
export function encodeSetDuty(entries: ReadonlyArray<{ channel: number; duty: number }>): Buffer {
  if (entries.length === 0) throw new RangeError('set duty: at least one channel');
  const seen = new Set<number>();
  const out = Buffer.alloc(entries.length * 3);
  entries.forEach(({ channel, duty }, i) => {
    if (!Number.isInteger(channel) || channel < 0 || channel > 255) throw new RangeError(`set duty: channel ${channel} is not 0..255`);
    if (seen.has(channel)) throw new RangeError(`set duty: channel ${channel} given twice`);
    seen.add(channel);
    out[i * 3] = channel;
    out.writeUInt16BE(dutyToWire(duty, `duty of channel ${channel}`), i * 3 + 1);
  });
  return out;
}

export interface DeviceSettings {
  /** host silence before the device goes to failsafe, ms (500..60000) */
  watchdogMs: number;
  /** duty applied in failsafe, 0.5..1 */
  failsafeDuty: number;
  /** duty a stopped fan gets for kickMs when started, 0..1 (0 or >= target: no kick) */
  kickDuty: number;
  /** kick-start length, ms (0..5000; 0 disables) */
  kickMs: number;
  /** channels with 3-pin fans on low-side MOSFETs (bit per channel) */
  threePinMask: number;
}

export function encodeSetSettings(s: DeviceSettings): Buffer {
  const out = Buffer.alloc(9);
  const int = (v: number, lo: number, hi: number, what: string): number => {
    if (!Number.isInteger(v) || v < lo || v > hi) throw new RangeError(`settings.${what}: expected an integer ${lo}..${hi}, got ${v}`);
    return v;
  };
  out.writeUInt16BE(int(s.watchdogMs, 500, 60000, 'watchdogMs'), 0);
  const failsafe = dutyToWire(s.failsafeDuty, 'settings.failsafeDuty');
  if (failsafe < 5000) throw new RangeError(`settings.failsafeDuty: expected 0.5..1, got ${s.failsafeDuty}`);
  out.writeUInt16BE(failsafe, 2);
  out.writeUInt16BE(dutyToWire(s.kickDuty, 'settings.kickDuty'), 4);
  out.writeUInt16BE(int(s.kickMs, 0, 5000, 'kickMs'), 6);
  out[8] = int(s.threePinMask, 0, 255, 'threePinMask');
  return out;
}

export const encodeGetCounters = (clear = false): Buffer => Buffer.from(clear ? [1] : []);

// ---- replies ----

class Reader {
  private at = 0;
  constructor(
    private readonly buf: Buffer,
    private readonly what: string,
  ) {}
  need(n: number): void {
    if (this.at + n > this.buf.length) {
      throw new ProtocolError(`${this.what}: reply too short (${this.buf.length} bytes, needed more than ${this.at + n - 1})`);
    }
  }
  u8(): number {
    this.need(1);
    return this.buf[this.at++]!;
  }
  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.at);
    this.at += 2;
    return v;
  }
  i16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.at);
    this.at += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.at);
    this.at += 4;
    return v;
  }
  rest(): Buffer {
    const r = this.buf.subarray(this.at);
    this.at = this.buf.length;
    return r;
  }
  end(): void {
    if (this.at !== this.buf.length) throw new ProtocolError(`${this.what}: ${this.buf.length - this.at} unexpected trailing bytes`);
  }
}

export interface Hello {
  protocolVersion: number;
  firmwareVersion: string;
  fanCount: number;
  thermistorCount: number;
  capabilities: CapabilityName[];
  maxPayload: number;
  /** MCUSR at the device's last boot: names of the set bits */
  resetCause: (keyof typeof ResetCause)[];
  pwmHz: number;
  /** boots counted in the device's EEPROM: a different value means the device restarted */
  boots: number;
  name: string;
}

export function decodeHello(p: Buffer): Hello {
  const r = new Reader(p, 'hello');
  const protocolVersion = r.u8();
  const firmwareVersion = `${r.u8()}.${r.u8()}.${r.u8()}`;
  const fanCount = r.u8();
  const thermistorCount = r.u8();
  const caps = r.u16();
  const maxPayload = r.u8();
  const cause = r.u8();
  const pwmHz = r.u16();
  const boots = r.u16();
  const name = r.rest().toString('latin1');
  return {
    protocolVersion,
    firmwareVersion,
    fanCount,
    thermistorCount,
    capabilities: (Object.keys(Capability) as CapabilityName[]).filter((k) => caps & Capability[k]),
    maxPayload,
    resetCause: (Object.keys(ResetCause) as (keyof typeof ResetCause)[]).filter((k) => cause & ResetCause[k]),
    pwmHz,
    boots,
    name,
  };
}

export interface FanStatus {
  channel: number;
  /** what the host asked for, 0..1 */
  target: number;
  /** what the output really drives now (kick, failsafe, boot and PWM resolution included), 0..1 */
  applied: number;
  /** null: unknown (3-pin fan below 100%) */
  rpm: number | null;
  kicking: boolean;
  stalled: boolean;
  threePin: boolean;
  tachSeen: boolean;
}

export interface ThermistorStatus {
  channel: number;
  /** sum of 16 ADC samples, 0..16368; null before the first reading */
  raw: number | null;
  /** null: open, shorted or out of -40..150 C */
  celsius: number | null;
}

export interface DeviceState {
  mode: ModeName | 'unknown';
  /** device uptime, ms (wraps after 49.7 days) */
  uptimeMs: number;
  /** ms until the device's host watchdog trips; 0 outside run mode */
  watchdogLeftMs: number;
  fans: FanStatus[];
  thermistors: ThermistorStatus[];
}

export function decodeState(p: Buffer): DeviceState {
  const r = new Reader(p, 'state');
  const mode = modeName(r.u8());
  const uptimeMs = r.u32();
  const watchdogLeftMs = r.u16();
  const fans: FanStatus[] = [];
  for (let i = 0, n = r.u8(); i < n; i++) {
    const target = r.u16() / DUTY_FULL;
    const applied = r.u16() / DUTY_FULL;
    const rpm = r.u16();
    const flags = r.u8();
    fans.push({
      channel: i,
      target,
      applied,
      rpm: rpm === RPM_UNKNOWN ? null : rpm,
      kicking: (flags & FanFlag.kicking) !== 0,
      stalled: (flags & FanFlag.stalled) !== 0,
      threePin: (flags & FanFlag.threePin) !== 0,
      tachSeen: (flags & FanFlag.tachSeen) !== 0,
    });
  }
  const thermistors: ThermistorStatus[] = [];
  for (let i = 0, n = r.u8(); i < n; i++) {
    const raw = r.u16();
    const centi = r.i16();
    thermistors.push({ channel: i, raw: raw === 0xffff ? null : raw, celsius: centi === THERM_INVALID ? null : centi / 100 });
  }
  r.end();
  return { mode, uptimeMs, watchdogLeftMs, fans, thermistors };
}

export const COUNTER_NAMES = [
  'framesOk',
  'crcErrors',
  'lengthErrors',
  'unknownCommands',
  'badArguments',
  'truncated',
  'junkBytes',
  'rxErrors',
  'txDropped',
  'watchdogTrips',
  'kicks',
  'stalls',
] as const;
export type DeviceCounters = Record<(typeof COUNTER_NAMES)[number], number>;

export function decodeCounters(p: Buffer): DeviceCounters {
  const r = new Reader(p, 'counters');
  const out = {} as DeviceCounters;
  for (const name of COUNTER_NAMES) out[name] = r.u32();
  r.end();
  return out;
}

export function decodeSettings(p: Buffer): DeviceSettings & { fromEeprom: boolean } {
  const r = new Reader(p, 'settings');
  const s = {
    watchdogMs: r.u16(),
    failsafeDuty: r.u16() / DUTY_FULL,
    kickDuty: r.u16() / DUTY_FULL,
    kickMs: r.u16(),
    threePinMask: r.u8(),
    fromEeprom: r.u8() === 1,
  };
  r.end();
  return s;
}

export interface DeviceError {
  code: number;
  name: string;
  /** the command the device complained about (0 when it could not tell) */
  about: number;
}

export function decodeError(p: Buffer): DeviceError {
  const r = new Reader(p, 'error');
  const code = r.u8();
  const about = r.u8();
  r.end();
  return { code, name: errorName(code), about };
}
