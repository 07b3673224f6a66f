/**
 * A StandardFirmata Uno as mock-firmata gives it, with the calls the driver makes recorded and the
 * board's reports (analog samples, digital port changes, pongs) driven by the test.
 */
import { createRequire } from 'node:module';
import type { FirmataIo, FirmataTransport, OpenTransport } from '../../../src/cooler/firmata/link.ts';

const require = createRequire(import.meta.url);
const { Firmata: MockFirmata, Pins } = require('mock-firmata') as {
  Firmata: new (opts: Record<string, unknown>) => FirmataIo;
  Pins: { UNO: Array<{ supportedModes: number[]; analogChannel: number }> };
};

export interface MockBoard {
  io: FirmataIo;
  /** last value analogWrite put on each pin */
  pwm: Map<number, number>;
  /** every analogWrite, in order */
  writes: Array<[pin: number, value: number]>;
  modes: Map<number, number>;
  /** analog channel -> the driver's sample callback */
  analog: Map<number, (value: number) => void>;
  /** digital pin -> the driver's change callback */
  digital: Map<number, (value: number) => void>;
  /** set false to make the board stop answering pings */
  answerPings: boolean;
  pings: number;
  closed: boolean;
}

export function mockBoard(): MockBoard {
  const m: Partial<MockBoard> = { pwm: new Map(), writes: [], modes: new Map(), analog: new Map(), digital: new Map(), answerPings: true, pings: 0, closed: false };
  m.io = new MockFirmata({
    pins: structuredClone(Pins.UNO),
    analogWrite(pin: number, value: number) {
      m.pwm!.set(pin, value);
      m.writes!.push([pin, value]);
    },
    // firmata.js semantics: ANALOG mode takes the analog channel, every other mode a pin number
    pinMode(this: FirmataIo, pin: number, mode: number) {
      m.modes!.set(mode === 0x02 ? this.analogPins[pin]! : pin, mode);
    },
    analogRead(channel: number, cb: (v: number) => void) {
      m.analog!.set(channel, cb);
    },
    digitalRead(pin: number, cb: (v: number) => void) {
      m.digital!.set(pin, cb);
    },
    reportVersion(cb: () => void) {
      m.pings!++;
      if (m.answerPings) setImmediate(cb);
    },
  });
  return m as MockBoard;
}

/**
 * A transport factory handing out a fresh mock board on every (re)connect. `ready: 'sync'` fires
 * connect+ready before the driver sees the io (mock-firmata's usual synchronous behaviour), 'later'
 * after it attached its listeners, 'never' not at all (handshake timeout).
 */
export function mockTransports(ready: 'sync' | 'later' | 'never' = 'sync'): { open: OpenTransport; boards: MockBoard[]; fail: { next: Error | null } } {
  const boards: MockBoard[] = [];
  const fail = { next: null as Error | null };
  const open: OpenTransport = async () => {
    if (fail.next) throw fail.next;
    const b = mockBoard();
    boards.push(b);
    if (ready === 'sync') {
      b.io.emit('connect');
      b.io.emit('ready');
    } else if (ready === 'later') {
      setImmediate(() => {
        b.io.emit('connect');
        b.io.emit('ready');
      });
    }
    const t: FirmataTransport = {
      io: b.io,
      close: async () => {
        b.closed = true;
      },
    };
    return t;
  };
  return { open, boards, fail };
}
