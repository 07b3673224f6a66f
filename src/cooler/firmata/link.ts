/**
 * Opening a StandardFirmata board: serialport 13 as the transport, firmata-io for the protocol,
 * johnny-five's Board on top (with its REPL, SIGINT handler and console logging switched off: the
 * daemon owns the process, its signals and its logs).
 */
import type { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** The part of a firmata.js Board (or mock-firmata) the driver uses. */
export interface FirmataIo extends EventEmitter {
  isReady?: boolean;
  name?: string;
  pins: Array<{ supportedModes: number[]; analogChannel: number }>;
  analogPins: number[];
  MODES: Record<string, number>;
  firmware?: { name?: string; version?: { major?: number; minor?: number } };
  version?: { major?: number; minor?: number };
  pinMode(pin: number, mode: number): void;
  analogWrite(pin: number, value: number): void;
  analogRead(channel: number, cb: (value: number) => void): void;
  digitalRead(pin: number, cb: (value: number) => void): void;
  /** REPORT_VERSION round trip: the driver's ping (StandardFirmata answers it from its main loop) */
  reportVersion?(cb: () => void): void;
}

/** johnny-five's Board, as far as it is used here. */
export interface J5Board extends EventEmitter {
  isReady: boolean;
  io: FirmataIo;
  timer: NodeJS.Timeout | null;
  pinMode(pin: number, mode: number): void;
  analogWrite(pin: number, value: number): void;
  analogRead(channel: number, cb: (value: number) => void): void;
  digitalRead(pin: number, cb: (value: number) => void): void;
}

interface J5Module {
  Board: (new (options: Record<string, unknown>) => J5Board) & { cache: J5Board[] };
}

/**
 * A transport with a Firmata io on it. start() opens the port: it is separate because johnny-five
 * must be listening before the io turns the port's 'open' into 'connect' (else it never reports
 * ready). close() releases the port and never throws.
 */
export interface FirmataTransport {
  io: FirmataIo;
  /** opens the port (absent: already open, as mocks are) */
  start?(): Promise<void>;
  close(): Promise<void>;
  /** false once the port is closed (absent for mocks: always open) */
  isOpen?(): boolean;
  /** resolves when written bytes have left (bounded by the caller); absent for mocks */
  drain?(): Promise<void>;
}

export type OpenTransport = () => Promise<FirmataTransport>;

let j5: J5Module | undefined;
/** johnny-five is large (its require takes ~100 ms): load it with the first Firmata board. */
function johnnyFive(): J5Module {
  j5 ??= require('johnny-five') as J5Module;
  return j5;
}

/** Wraps an io in a johnny-five Board that stays out of the process's way. */
export function wrapBoard(io: FirmataIo, timeoutMs: number): J5Board {
  return new (johnnyFive().Board)({ io, repl: false, sigint: false, debug: false, timeout: timeoutMs });
}

/** Drops a board from johnny-five's global cache (it keeps every Board ever made; reconnects would leak). */
export function forgetBoard(board: J5Board): void {
  if (board.timer) clearTimeout(board.timer);
  const cache = johnnyFive().Board.cache;
  const i = cache.indexOf(board);
  if (i >= 0) cache.splice(i, 1);
}

function describeOpenError(path: string, baudRate: number, err: Error): Error {
  const m = err.message;
  let why = m;
  if (/ENOENT|No such file|cannot open/i.test(m)) why = `${path} does not exist (is the board plugged in? see ls -l /dev/serial/by-id/ and systemd/99-gance-cooler.rules)`;
  else if (/EACCES|Permission denied/i.test(m)) why = `no permission to open ${path} (the daemon's user needs group dialout)`;
  else if (/EBUSY|Resource busy|lock/i.test(m)) why = `${path} is busy (another program, e.g. gance firmware flash or a serial monitor, has it open)`;
  return new Error(`cooler.path: cannot open ${path} at ${baudRate} baud: ${why}`, { cause: err });
}

/**
 * The real transport. hupcl: false keeps DTR asserted when the port closes: an Uno/Nano resets on a
 * DTR edge, and a reset StandardFirmata drives every PWM pin LOW (fans slow) until a host speaks, so
 * a clean close must not reset it. (Opening does reset it; the driver writes full duty on ready.)
 */
export function serialTransport(path: string, baudRate: number): OpenTransport {
  return async () => {
    const { SerialPort } = await import('serialport');
    const { Firmata } = require('firmata-io') as { Firmata: new (port: unknown, options: Record<string, unknown>) => FirmataIo };
    const port = new SerialPort({ path, baudRate, autoOpen: false, hupcl: false });
    // firmata-io must see the port's 'open' event (it turns it into 'connect', which johnny-five waits
    // for), so it is attached before the port opens, and the port opens in start().
    const io = new Firmata(port, { reportVersionTimeout: 2500 });
    return {
      io,
      start: async () => {
        try {
          await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
        } catch (err) {
          throw describeOpenError(path, baudRate, err as Error);
        }
      },
      isOpen: () => port.isOpen,
      close: () =>
        new Promise<void>((resolve) => {
          if (!port.isOpen) return resolve();
          port.close(() => resolve());
        }),
      drain: () => new Promise<void>((resolve) => (port.isOpen ? port.drain(() => resolve()) : resolve())),
    };
  };
}
