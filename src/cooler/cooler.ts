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
  /** the device itself is in failsafe (its watchdog tripped, or failsafe() was called) */
  failsafe: boolean;
  /** time the state was read, ms since epoch */
  at: number;
}

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
  open(): Promise<void>;
  /** duties 0..1 per fan id; unknown ids are an error. Drivers clamp nothing: allocation does. */
  setDuties(duties: Readonly<Record<string, number>>): Promise<void>;
  read(): Promise<CoolerState>;
  /**
   * All fans to the failsafe duty (100%) now. Must be fast and best-effort: it is called on the
   * way out of crashes, so it must not throw and must settle within ~500 ms even with a dead link.
   */
  failsafe(reason: string): Promise<void>;
  close(): Promise<void>;
}
