/**
 * The hardware boundary between thermal control and the fans. Implemented by the serial driver
 * for our firmware, the Firmata driver, and the simulated cooler (plant model). Thermal control
 * only ever talks to this interface.
 */
import type { EventEmitter } from 'node:events';

/**
 * A command got no answer in time: the device or the line is silent. Drivers throw it (or a
 * subclass) for that case only, so callers can tell silence, which is a lost link at once, from a
 * refused or malformed command, which proves the link still works.
 */
export class LinkTimeoutError extends Error {
  override name = 'LinkTimeoutError';
}

export interface FanReading {
  /** fan id from config (e.g. "gpu0-a") */
  id: string;
  /** last duty commanded to the device, 0..1 */
  duty: number;
  /**
   * what the device drives the fan at now, 0..1, where it reports it: its own failsafe or
   * power-on duty, a kick-start and its PWM steps included (undefined: the driver cannot tell)
   */
  applied?: number;
  /** measured speed; null when the fan has no tach or the device cannot tell */
  rpm: number | null;
}

export interface ThermistorReading {
  id: string;
  /** null when the input is open/shorted or the device cannot convert */
  celsius: number | null;
}

export interface CoolerState {
  fans: FanReading[];
  thermistors: ThermistorReading[];
  /**
   * the device itself is in failsafe (its watchdog tripped, or failsafe() was called). A read
   * always says true or false; the state the control loop keeps (CoolerIo) says what can be
   * known with the link down: null (unknown) until the device's watchdog must have tripped, then
   * true with `failsafeAssumed` (see Cooler.deviceFailsafe)
   */
  failsafe: boolean | null;
  /** `failsafe` is inferred from host silence, not read from the device */
  failsafeAssumed?: boolean;
  /** time the state was read, ms since epoch */
  at: number;
}

/** The device's own failsafe as far as the host can tell without asking (Cooler.deviceFailsafe). */
export interface DeviceFailsafe {
  /** null: unknown */
  failsafe: boolean | null;
  /** true when inferred from host silence (the device's watchdog) rather than read */
  assumed: boolean;
}

/** What a failsafe() call achieved: sent (and confirmed, where the device answers), or why not. */
export type FailsafeResult = { sent: true } | { sent: false; why: string };

export interface CoolerInfo {
  kind: 'serial' | 'firmata' | 'simulated';
  /** firmware/protocol version string, or the driver's own for simulated */
  version: string;
  fans: string[];
  thermistors: string[];
}

/**
 * Events: 'link' (up: boolean) when the link to the device is established or lost;
 * 'error' is never emitted (drivers log and count instead, so a flaky cable cannot crash the daemon).
 */
export interface Cooler extends EventEmitter {
  readonly info: CoolerInfo;
  /** true while the device answers */
  readonly linkUp: boolean;
  /**
   * How long the device runs the host's targets without hearing from it before it goes to its
   * failsafe duty on its own (its host watchdog), ms; null when it has none.
   */
  readonly deviceWatchdogMs: number | null;
  /**
   * The device's own failsafe now: the last answer's while the link answers; otherwise unknown
   * until `deviceWatchdogMs` after the last command that may have reached it, then assumed true
   * (unknown for good without a device watchdog). `now`: performance.now() time.
   */
  deviceFailsafe(now?: number): DeviceFailsafe;
  open(): Promise<void>;
  /** duties 0..1 per fan id; unknown ids are an error. Drivers clamp nothing: allocation does. */
  setDuties(duties: Readonly<Record<string, number>>): Promise<void>;
  read(): Promise<CoolerState>;
  /**
   * All fans to the failsafe duty (100%) now. Must be fast and best-effort: it is called on the
   * way out of crashes, so it must not throw and must settle within ~500 ms even with a dead link.
   * Says whether the command got out; the caller logs it (commandFailsafe in unit.ts).
   */
  failsafe(reason: string): Promise<FailsafeResult>;
  close(): Promise<void>;
}
