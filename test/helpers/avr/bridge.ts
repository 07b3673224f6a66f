/** Connects the simulated firmware's UART to the device end of a pty through serialport. */
import { SerialPort } from 'serialport';
import { FRAME_OVERHEAD, MAX_PAYLOAD, SYNC, type Frame } from '../../../src/cooler/protocol/frame.ts';
import type { CoolerSim } from './sim.ts';

/**
 * Fault injection on the wire, one whole frame at a time: gets each frame (parsed, and its bytes)
 * and returns the bytes to pass on instead: the same bytes, changed ones, more, or null to drop it.
 */
export type FrameTamper = (frame: Frame, bytes: Buffer) => Uint8Array | null;

/**
 * Cuts a byte stream into frames by their LEN byte, without checking CRCs (both ends of the bridge
 * only ever send whole frames). A frame is handed to `tamper` only when one was set at its first
 * byte; everything else passes through untouched, byte for byte.
 */
class FrameCutter {
  private held: number[] | null = null; // the frame being captured for the tamper
  private pos = 0; // bytes of the current frame seen so far (0: at a frame boundary)
  private total = 0;

  constructor(private readonly tamper: () => FrameTamper | null) {}

  reset(): void {
    this.held = null;
    this.pos = 0;
  }

  /** Feeds one byte; appends to `out` what passes on now. */
  feed(b: number, out: number[]): void {
    if (this.pos === 0) {
      if (b !== SYNC) return void out.push(b);
      this.held = this.tamper() ? [b] : null;
      if (!this.held) out.push(b);
      this.pos = 1;
      return;
    }
    if (this.pos === 1 && b > MAX_PAYLOAD) {
      // not a frame after all: pass on what was held
      if (this.held) out.push(...this.held);
      this.held = null;
      this.pos = 0;
      return void out.push(b);
    }
    if (this.pos === 1) this.total = b + FRAME_OVERHEAD;
    if (this.held) this.held.push(b);
    else out.push(b);
    if (++this.pos < this.total) return;
    this.pos = 0;
    if (!this.held) return;
    const bytes = Buffer.from(this.held);
    this.held = null;
    const tamper = this.tamper();
    if (!tamper) return void out.push(...bytes); // the tamper was removed mid-frame
    const frame: Frame = { seq: bytes[2]!, type: bytes[3]!, payload: Buffer.from(bytes.subarray(4, bytes.length - 2)) };
    const replaced = tamper(frame, bytes);
    if (replaced) out.push(...replaced);
  }
}

export class UartBridge {
  private port: SerialPort | null = null;
  private out: number[] = [];
  private flushing = false;
  private readonly off: () => void;
  private readonly toHostCutter = new FrameCutter(() => this.toHost);
  private readonly toDeviceCutter = new FrameCutter(() => this.toDevice);
  /** bytes each way, for tests and the report */
  readonly bytes = { toDevice: 0, toHost: 0 };
  /** fault injection on frames from the firmware to the host (null: a clean wire) */
  toHost: FrameTamper | null = null;
  /** fault injection on frames from the host to the firmware (null: a clean wire) */
  toDevice: FrameTamper | null = null;

  constructor(readonly sim: CoolerSim) {
    this.off = sim.onTx((b) => {
      if (!this.port) return; // nothing listens: the bytes are lost, as on a dead line
      this.toHostCutter.feed(b, this.out);
      this.schedule();
    });
  }

  /** Sends bytes to the host as if the device had sent them (noise, junk, forged frames). */
  injectToHost(bytes: Uint8Array | number[]): void {
    if (!this.port) return;
    this.out.push(...bytes);
    this.schedule();
  }

  async attach(devicePath: string, baudRate = 115200): Promise<void> {
    await this.detach();
    const port = new SerialPort({ path: devicePath, baudRate, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
    port.on('data', (d: Buffer) => {
      this.bytes.toDevice += d.length;
      const pass: number[] = [];
      for (const b of d) this.toDeviceCutter.feed(b, pass);
      if (pass.length > 0) this.sim.write(pass);
    });
    port.on('error', () => {}); // the pair going away is expected (unplug)
    port.on('close', () => {
      if (this.port === port) this.port = null;
    });
    this.port = port;
  }

  async detach(): Promise<void> {
    const port = this.port;
    this.port = null;
    this.out = [];
    this.toHostCutter.reset();
    this.toDeviceCutter.reset();
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  }

  async dispose(): Promise<void> {
    this.off();
    await this.detach();
  }

  private schedule(): void {
    if (this.out.length === 0 || this.flushing) return;
    this.flushing = true;
    setImmediate(this.flush);
  }

  private flush = (): void => {
    this.flushing = false;
    if (!this.port || this.out.length === 0) return;
    const chunk = Buffer.from(this.out);
    this.out = [];
    this.bytes.toHost += chunk.length;
    this.port.write(chunk);
  };
}
