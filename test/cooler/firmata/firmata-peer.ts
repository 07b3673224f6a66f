/**
 * The board side of a StandardFirmata link on a socat pty pair: speaks the Firmata protocol bytes a
 * real Uno running StandardFirmata 2.5 sends and accepts (version and firmware report at start-up,
 * capability and analog-mapping replies, analog reports every 19 ms, REPORT_VERSION answers), and
 * records what the host asked for. With it the driver's real transport (serialport + firmata-io +
 * johnny-five) is exercised end to end; only the AVR is missing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { SerialPort } from 'serialport';

const SYSEX_START = 0xf0;
const SYSEX_END = 0xf7;
const PWM_PINS = new Set([3, 5, 6, 9, 10, 11]);

export class FirmataPeer {
  readonly pwm = new Map<number, number>();
  readonly modes = new Map<number, number>();
  readonly analogReporting = new Set<number>();
  /** analog value the board reports per channel */
  readonly adc = new Map<number, number>();
  readonly digitalReporting = new Set<number>();
  /** digital port values as the board last reported them */
  private readonly ports = new Map<number, number>();
  versionRequests = 0;
  answerPings = true;
  private buf: number[] = [];
  private timer: NodeJS.Timeout;

  private announce: NodeJS.Timeout;

  constructor(private readonly send: (bytes: number[]) => void) {
    // StandardFirmata's setup() sends its version and firmware name once, right after the reset that
    // the host's opening of the port causes. A pty has no DTR to reset on, so the peer repeats the
    // announcement until the host speaks (as a board would whose reset lined up with the open).
    const hello = () => {
      this.send([0xf9, 2, 5]);
      this.send(this.firmwareReport());
    };
    hello();
    this.announce = setInterval(hello, 100);
    this.timer = setInterval(() => {
      for (const ch of this.analogReporting) {
        const v = this.adc.get(ch) ?? 0;
        this.send([0xe0 | ch, v & 0x7f, v >> 7]);
      }
    }, 19);
  }

  stop(): void {
    clearInterval(this.announce);
    clearInterval(this.timer);
  }

  /** Drives a fan's open-collector tach: `pulses` low pulses on `pin`, each reported as StandardFirmata would (a port message per change). */
  tach(pin: number, pulses: number): void {
    const port = pin >> 3;
    const bit = 1 << (pin & 7);
    if (!this.digitalReporting.has(port)) throw new Error(`port ${port} does not report`);
    const report = (v: number) => {
      this.ports.set(port, v);
      this.send([0x90 | port, v & 0x7f, (v >> 7) & 0x7f]);
    };
    let v = (this.ports.get(port) ?? 0) | bit;
    report(v);
    for (let i = 0; i < pulses; i++) {
      v &= ~bit;
      report(v);
      v |= bit;
      report(v);
    }
  }

  /** A fan turning at `rpm` until stop() is called: pulses paced by the wall clock, 2 per revolution. */
  spin(pin: number, rpm: number): () => void {
    const t0 = Date.now();
    let sent = 0;
    const timer = setInterval(() => {
      const due = Math.floor((((Date.now() - t0) / 60_000) * rpm * 2));
      if (due > sent) this.tach(pin, due - sent);
      sent = due;
    }, 20);
    return () => clearInterval(timer);
  }

  private firmwareReport(): number[] {
    const name = [...'StandardFirmata.ino'].flatMap((c) => [c.charCodeAt(0) & 0x7f, c.charCodeAt(0) >> 7]);
    return [SYSEX_START, 0x79, 2, 5, ...name, SYSEX_END];
  }

  private capabilities(): number[] {
    const out = [SYSEX_START, 0x6c];
    for (let pin = 0; pin < 20; pin++) {
      if (pin >= 2) out.push(0x00, 1, 0x01, 1, 0x0b, 1); // INPUT, OUTPUT, PULLUP
      if (PWM_PINS.has(pin)) out.push(0x03, 8); // PWM, 8 bits
      if (pin >= 14) out.push(0x02, 10); // ANALOG, 10 bits
      out.push(0x7f);
    }
    out.push(SYSEX_END);
    return out;
  }

  private analogMapping(): number[] {
    const out = [SYSEX_START, 0x6a];
    for (let pin = 0; pin < 20; pin++) out.push(pin >= 14 ? pin - 14 : 0x7f);
    out.push(SYSEX_END);
    return out;
  }

  receive(bytes: Uint8Array): void {
    clearInterval(this.announce);
    for (const b of bytes) this.buf.push(b);
    for (;;) {
      const b = this.buf;
      if (b.length === 0) return;
      const c = b[0]!;
      let n: number;
      if (c === SYSEX_START) {
        const end = b.indexOf(SYSEX_END);
        if (end < 0) return;
        n = end + 1;
      } else if (c === 0xf9 || c === 0xff) n = 1;
      else if ((c & 0xf0) === 0xc0 || (c & 0xf0) === 0xd0) n = 2;
      else if (c === 0xf4 || c === 0xf5 || (c & 0xf0) === 0xe0 || (c & 0xf0) === 0x90) n = 3;
      else {
        b.shift(); // StandardFirmata skips bytes it cannot place
        continue;
      }
      if (b.length < n) return;
      this.execute(b.splice(0, n));
    }
  }

  private execute(m: number[]): void {
    const c = m[0]!;
    if (c === 0xf9) {
      this.versionRequests++;
      if (this.answerPings) this.send([0xf9, 2, 5]);
    } else if (c === SYSEX_START) {
      if (m[1] === 0x79) this.send(this.firmwareReport());
      else if (m[1] === 0x6b) this.send(this.capabilities());
      else if (m[1] === 0x69) this.send(this.analogMapping());
    } else if (c === 0xf4) this.modes.set(m[1]!, m[2]!);
    else if ((c & 0xf0) === 0xe0) this.pwm.set(c & 0x0f, m[1]! | (m[2]! << 7));
    else if ((c & 0xf0) === 0xd0) {
      if (m[1]) this.digitalReporting.add(c & 0x0f);
      else this.digitalReporting.delete(c & 0x0f);
    } else if ((c & 0xf0) === 0xc0) {
      if (m[1]) this.analogReporting.add(c & 0x0f);
      else this.analogReporting.delete(c & 0x0f);
    }
  }
}

/** socat pty pair: the driver opens `device`; the peer answers on the other end. */
export async function startPeer(device: string): Promise<{ peer: FirmataPeer; stop(): Promise<void> }> {
  const other = `${device}.peer`;
  rmSync(device, { force: true });
  rmSync(other, { force: true });
  const socat: ChildProcess = spawn('socat', [`pty,raw,echo=0,link=${device}`, `pty,raw,echo=0,link=${other}`], { stdio: 'ignore' });
  for (let i = 0; i < 100 && !(existsSync(device) && existsSync(other)); i++) await new Promise((r) => setTimeout(r, 20));
  if (!existsSync(other)) throw new Error('socat did not create the pty pair');
  const port = new SerialPort({ path: other, baudRate: 57600 });
  await new Promise<void>((resolve, reject) => port.once('open', resolve).once('error', reject));
  const peer = new FirmataPeer((bytes) => port.write(Buffer.from(bytes)));
  port.on('data', (d: Buffer) => peer.receive(d));
  return {
    peer,
    stop: async () => {
      peer.stop();
      await new Promise<void>((r) => (port.isOpen ? port.close(() => r()) : r()));
      await new Promise<void>((r) => {
        socat.once('exit', () => r());
        socat.kill();
      });
    },
  };
}
