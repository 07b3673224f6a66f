/** Connects the simulated firmware's UART to the device end of a pty through serialport. */
import { SerialPort } from 'serialport';
import type { CoolerSim } from './sim.ts';

export class UartBridge {
  private port: SerialPort | null = null;
  private out: number[] = [];
  private flushing = false;
  private readonly off: () => void;
  /** bytes each way, for tests and the report */
  readonly bytes = { toDevice: 0, toHost: 0 };

  constructor(readonly sim: CoolerSim) {
    this.off = sim.onTx((b) => {
      if (!this.port) return; // nothing listens: the bytes are lost, as on a dead line
      this.out.push(b);
      if (!this.flushing) {
        this.flushing = true;
        setImmediate(this.flush);
      }
    });
  }

  async attach(devicePath: string, baudRate = 115200): Promise<void> {
    await this.detach();
    const port = new SerialPort({ path: devicePath, baudRate, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
    port.on('data', (d: Buffer) => {
      this.bytes.toDevice += d.length;
      this.sim.write(d);
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
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  }

  async dispose(): Promise<void> {
    this.off();
    await this.detach();
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
