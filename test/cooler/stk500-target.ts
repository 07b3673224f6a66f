/**
 * A serial bootloader for avrdude to talk to: the STK500v1 subset Optiboot implements (the
 * bootloader of an Uno / new Nano), answering on one end of a socat pty pair, with 32 KB of flash
 * it really writes and reads back. avr8js has no SPM, so the real Optiboot cannot run in-process;
 * this speaks its protocol byte for byte instead, which is what avrdude sees of a board.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { SerialPort } from 'serialport';

const INSYNC = 0x14;
const OK = 0x10;
const EOP = 0x20;

export class Stk500Target {
  readonly flash = new Uint8Array(0x8000).fill(0xff);
  readonly eeprom = new Uint8Array(1024).fill(0xff);
  /** command bytes seen, in order (for assertions on the conversation) */
  readonly commands: number[] = [];
  pagesWritten = 0;
  private buf: number[] = [];
  private address = 0;

  constructor(
    private readonly send: (bytes: number[]) => void,
    private readonly signature = [0x1e, 0x95, 0x0f],
  ) {}

  /** Bytes of a complete command starting at buf[0], or 0 when more must arrive. */
  private need(): number {
    const b = this.buf;
    switch (b[0]) {
      case 0x41: // GET_PARAMETER p
        return 3;
      case 0x42: // SET_DEVICE, 20 parameters
        return 22;
      case 0x45: // SET_DEVICE_EXT: count byte includes itself
        return b.length < 2 ? 0 : 1 + b[1]! + 1;
      case 0x55: // LOAD_ADDRESS lo hi
        return 4;
      case 0x56: // UNIVERSAL a b c d
        return 6;
      case 0x64: // PROG_PAGE len_hi len_lo memtype data...
        return b.length < 3 ? 0 : 4 + ((b[1]! << 8) | b[2]!) + 1;
      case 0x74: // READ_PAGE len_hi len_lo memtype
        return 5;
      default: // GET_SYNC, ENTER/LEAVE_PROGMODE, CHIP_ERASE, READ_SIGN and the rest: command + EOP
        return 2;
    }
  }

  receive(bytes: Uint8Array): void {
    for (const x of bytes) this.buf.push(x);
    for (;;) {
      const n = this.need();
      if (n === 0 || this.buf.length < n) return;
      const cmd = this.buf.splice(0, n);
      if (cmd[n - 1] !== EOP) {
        // Optiboot answers a frame without EOP with NOSYNC (0x15) and waits for a resync.
        this.send([0x15]);
        this.buf = [];
        return;
      }
      this.commands.push(cmd[0]!);
      this.execute(cmd);
    }
  }

  private execute(cmd: number[]): void {
    const c = cmd[0]!;
    if (c === 0x41) {
      const p = cmd[1]!;
      // 0x81/0x82: software major/minor (Optiboot 8.0); anything else reads 3 as Optiboot does
      const v = p === 0x81 ? 8 : p === 0x82 ? 0 : 3;
      this.send([INSYNC, v, OK]);
    } else if (c === 0x55) {
      this.address = (cmd[1]! | (cmd[2]! << 8)) * 2; // word address
      this.send([INSYNC, OK]);
    } else if (c === 0x56) {
      this.send([INSYNC, 0x00, OK]);
    } else if (c === 0x64) {
      const len = (cmd[1]! << 8) | cmd[2]!;
      const data = cmd.slice(4, 4 + len);
      (cmd[3] === 0x45 ? this.eeprom : this.flash).set(data, this.address);
      if (cmd[3] !== 0x45) this.pagesWritten++;
      this.send([INSYNC, OK]);
    } else if (c === 0x74) {
      const len = (cmd[1]! << 8) | cmd[2]!;
      const mem = cmd[3] === 0x45 ? this.eeprom : this.flash;
      this.send([INSYNC, ...mem.subarray(this.address, this.address + len), OK]);
    } else if (c === 0x75) {
      this.send([INSYNC, ...this.signature, OK]);
    } else {
      this.send([INSYNC, OK]);
    }
  }
}

/** A pty pair from socat: avrdude opens `device`, the target listens on the other end. */
export async function ptyTarget(dir: string, signature?: number[]): Promise<{ device: string; target: Stk500Target; close(): Promise<void> }> {
  const device = `${dir}/board`;
  const peer = `${dir}/peer`;
  const socat: ChildProcess = spawn('socat', [`pty,raw,echo=0,link=${device}`, `pty,raw,echo=0,link=${peer}`], { stdio: 'ignore' });
  for (let i = 0; i < 100 && !(existsSync(device) && existsSync(peer)); i++) await new Promise((r) => setTimeout(r, 20));
  if (!existsSync(peer)) throw new Error('socat did not create the pty pair');
  const port = new SerialPort({ path: peer, baudRate: 115200 });
  await new Promise<void>((resolve, reject) => port.once('open', resolve).once('error', reject));
  const target = new Stk500Target((bytes) => port.write(Buffer.from(bytes)), signature);
  port.on('data', (d: Buffer) => target.receive(d));
  return {
    device,
    target,
    close: async () => {
      await new Promise<void>((r) => (port.isOpen ? port.close(() => r()) : r()));
      socat.kill();
    },
  };
}
