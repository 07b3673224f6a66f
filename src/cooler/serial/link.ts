/**
 * One open serial connection to the cooler firmware: frames out, frames in, requests matched to
 * replies by sequence number, with per-request timeouts and retries. Knows nothing of fans; the
 * driver (driver.ts) owns reconnecting and what the commands mean.
 */
import { EventEmitter } from 'node:events';
import { SerialPort, type SerialPortMock } from 'serialport';
import { LinkTimeoutError } from '../cooler.ts';
import { stallTolerantTimeout } from '../timeout.ts';
import { FrameParserStream, encodeFrame, type Frame } from '../protocol/frame.ts';
import { Command, ErrorCode, ProtocolError, REPLY_BIT, TYPE_ERROR, commandName, decodeError, errorName } from '../protocol/messages.ts';
import type { CoolerLinkMetrics } from './metrics.ts';

export class LinkClosedError extends Error {
  override name = 'LinkClosedError';
}

export class RequestTimeoutError extends LinkTimeoutError {
  override name = 'RequestTimeoutError';
}

/** The firmware answered with an error frame (bad argument, unknown command...). */
export class DeviceErrorReply extends Error {
  override name = 'DeviceErrorReply';
  constructor(
    readonly code: number,
    readonly about: number,
  ) {
    super(`cooler firmware rejected ${commandName(about)}: ${errorName(code)}`);
  }
}

export interface LinkOptions {
  path: string;
  baudRate: number;
  metrics: CoolerLinkMetrics;
  /** wait for one answer, ms */
  requestTimeoutMs: number;
  /** extra attempts after a timeout or a CRC error reply */
  retries: number;
  /** opening the port may take this long, ms */
  openTimeoutMs?: number;
  /** makes the (not yet opened) port; default: the OS serial port. Tests pass one on a fake binding. */
  createPort?: (o: { path: string; baudRate: number }) => LinkPort;
}

/** What the link needs of a port: serialport's SerialPort, or its SerialPortMock in tests. */
export type LinkPort = SerialPort | SerialPortMock;

/**
 * The start of StandardFirmata's firmware report (sysex 0xF0, REPORT_FIRMWARE 0x79, major, minor),
 * which a Firmata board sends at every reset: our parser sees it as junk (Firmata never sends 0xA5).
 * Four bytes, two of them fixed, so line noise does not pass for it.
 */
const FIRMATA_GREETING = [0xf0, 0x79, -1, -1] as const;

const REPLY_TYPES = new Set<number>(Object.values(Command).map((c) => c | REPLY_BIT));
const isReplyType = (type: number): boolean => REPLY_TYPES.has(type);

interface Pending {
  type: number;
  settle: (frame: Frame) => void;
}

/** Events: 'close' (error?) once, when the port goes away or close() is called. */
export class SerialLink extends EventEmitter {
  private readonly pending = new Map<number, Pending>();
  private seq = 0;
  private closed = false;
  /** time of the last frame written, ms (performance.now) */
  lastWriteAt = 0;
  /** bytes received that were no part of a frame, since open */
  junkBytes = 0;
  /** a Firmata board's greeting came in: this is no gance cooler firmware */
  firmataSeen = false;
  private greetingAt = 0;

  private constructor(
    private readonly port: LinkPort,
    private readonly parser: FrameParserStream,
    private readonly opts: LinkOptions,
  ) {
    super();
    parser.on('data', (f: Frame) => this.onFrame(f));
    port.on('close', (err?: Error | null) => this.shutdown(err ?? null));
    port.on('error', (err: Error) => this.shutdown(err));
  }

  static async open(opts: LinkOptions): Promise<SerialLink> {
    const port = opts.createPort
      ? opts.createPort({ path: opts.path, baudRate: opts.baudRate })
      : new SerialPort({ path: opts.path, baudRate: opts.baudRate, autoOpen: false });
    const timeoutMs = opts.openTimeoutMs ?? 2000;
    await new Promise<void>((resolve, reject) => {
      let gaveUp = false;
      const timer = setTimeout(() => {
        gaveUp = true;
        reject(new Error(`opening ${opts.path}: no answer from the OS within ${timeoutMs} ms`));
      }, timeoutMs);
      port.open((err) => {
        clearTimeout(timer);
        if (gaveUp) {
          // Nobody waits for this port any more: an open that finally succeeded would hold the
          // device (and its lock) until the process exits, and every reconnect would fail on it.
          if (!err) port.close(() => {});
          return;
        }
        if (err) reject(new Error(`opening ${opts.path}: ${err.message}`));
        else resolve();
      });
    });
    const m = opts.metrics;
    let link: SerialLink | null = null;
    const parser = new FrameParserStream({
      timeoutMs: 100,
      onBad: (event) => {
        if (event === 'crcErrors') m.crcErrors.inc({ side: 'host' });
        else m.badFrames.inc({ side: 'host', reason: event === 'lengthErrors' ? 'length' : 'truncated' });
      },
      onJunk: (n, data) => {
        m.junkBytes.inc({ side: 'host' }, n);
        link?.sniff(data);
      },
    });
    port.pipe(parser);
    link = new SerialLink(port, parser, opts);
    return link;
  }

  private sniff(junk: Uint8Array): void {
    this.junkBytes += junk.length;
    for (const b of junk) {
      if (this.firmataSeen) return;
      const want = FIRMATA_GREETING[this.greetingAt]!;
      const hit = want >= 0 ? b === want : b < 0x80;
      this.greetingAt = hit ? this.greetingAt + 1 : b === FIRMATA_GREETING[0] ? 1 : 0;
      if (this.greetingAt === FIRMATA_GREETING.length) this.firmataSeen = true;
    }
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /**
   * Sends a command and resolves with the reply, read by `decode` (default: the payload as it is).
   * Retries after a timeout (no answer, or only corrupted ones), after an unreadable error frame or
   * reply (valid CRC but a shape `decode` refuses: counted as a malformed frame) and after the device
   * reporting our frame corrupted (CRC/truncated); other error replies reject at once with
   * DeviceErrorReply.
   */
  async request(type: number, payload?: Buffer, opts?: { timeoutMs?: number; retries?: number }): Promise<Buffer>;
  async request<T>(type: number, payload: Buffer | undefined, opts: { timeoutMs?: number; retries?: number; decode: (payload: Buffer) => T }): Promise<T>;
  async request<T>(type: number, payload: Buffer = Buffer.alloc(0), opts: { timeoutMs?: number; retries?: number; decode?: (payload: Buffer) => T } = {}): Promise<T | Buffer> {
    const name = commandName(type);
    const m = this.opts.metrics;
    const attempts = 1 + (opts.retries ?? this.opts.retries);
    const timeoutMs = opts.timeoutMs ?? this.opts.requestTimeoutMs;
    let lastError: Error = new RequestTimeoutError(`${name}: no answer`);
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (this.closed) throw new LinkClosedError(`${this.opts.path}: link closed`);
      if (attempt > 0) m.retries.inc({ command: name });
      m.requests.inc({ command: name });
      const end = m.duration.startTimer({ command: name });
      const frame = await this.exchange(type, payload, timeoutMs);
      if (frame === null) {
        m.timeouts.inc({ command: name });
        lastError = new RequestTimeoutError(`${this.opts.path}: no answer to ${name} within ${timeoutMs} ms (${attempt + 1} of ${attempts} attempts)`);
        continue;
      }
      if (frame === 'closed') throw new LinkClosedError(`${this.opts.path}: link closed while waiting for ${name}`);
      end();
      if (frame.type === TYPE_ERROR) {
        let err: ReturnType<typeof decodeError>;
        try {
          err = decodeError(frame.payload);
        } catch (e) {
          // an error frame we cannot read says nothing we can act on: dropped, and asked again
          m.badFrames.inc({ side: 'host', reason: 'malformed' });
          lastError = new Error(`${this.opts.path}: unreadable error reply to ${name} (${(e as Error).message})`);
          continue;
        }
        m.deviceErrors.inc({ code: err.name });
        lastError = new DeviceErrorReply(err.code, err.about);
        if (err.code === ErrorCode.badCrc || err.code === ErrorCode.truncated) continue;
        throw lastError;
      }
      if (!opts.decode) return frame.payload;
      try {
        return opts.decode(frame.payload);
      } catch (e) {
        if (!(e instanceof ProtocolError)) throw e;
        // a reply that passed its CRC but is not what this command answers: dropped, and asked again
        m.badFrames.inc({ side: 'host', reason: 'malformed' });
        lastError = new ProtocolError(`${this.opts.path}: malformed reply to ${name} (${e.message})`);
      }
    }
    throw lastError;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await new Promise<void>((resolve) => {
      if (!this.port.isOpen) return resolve();
      this.port.close(() => resolve());
    });
    this.shutdown(null);
  }

  private exchange(type: number, payload: Buffer, timeoutMs: number): Promise<Frame | null | 'closed'> {
    return new Promise((resolve) => {
      const seq = this.nextSeq();
      // not a plain setTimeout: after an event-loop stall it would fire before the reply that
      // arrived meanwhile is read (see timeout.ts)
      const timer = stallTolerantTimeout(timeoutMs, () => {
        this.pending.delete(seq);
        resolve(null);
      });
      this.pending.set(seq, {
        type,
        settle: (f) => {
          timer.cancel();
          this.pending.delete(seq);
          resolve(f.type === -1 ? 'closed' : f);
        },
      });
      this.lastWriteAt = performance.now();
      this.port.write(encodeFrame(seq, type, payload), (err) => {
        if (err) this.shutdown(err);
      });
    });
  }

  private nextSeq(): number {
    for (let i = 0; i < 256; i++) {
      this.seq = (this.seq + 1) & 0xff;
      if (this.seq !== 0 && !this.pending.has(this.seq)) return this.seq; // 0 is what the device uses when it cannot tell
    }
    throw new Error('cooler link: 255 requests in flight');
  }

  private onFrame(f: Frame): void {
    const p = this.pending.get(f.seq);
    if (p && (f.type === (p.type | REPLY_BIT) || f.type === TYPE_ERROR)) {
      p.settle(f);
      return;
    }
    const m = this.opts.metrics;
    if (f.type === TYPE_ERROR) {
      // not ours: e.g. BAD_LENGTH (seq 0) after line noise; still worth counting
      try {
        m.deviceErrors.inc({ code: decodeError(f.payload).name });
      } catch {
        m.badFrames.inc({ side: 'host', reason: 'malformed' });
      }
      return;
    }
    if (!isReplyType(f.type)) {
      // a well-formed frame of a type the device never sends: a firmware we do not know, or noise
      // that happened to pass the CRC; dropped (the request it may have answered times out and is retried)
      m.badFrames.inc({ side: 'host', reason: 'unknown_type' });
      return;
    }
    m.badFrames.inc({ side: 'host', reason: 'stale' }); // a late answer to a request we gave up on, or a reply of another type
  }

  private shutdown(err: Error | null): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of [...this.pending.values()]) p.settle({ seq: 0, type: -1, payload: Buffer.alloc(0) });
    this.pending.clear();
    this.parser.destroy();
    if (this.port.isOpen) this.port.close(() => {});
    this.emit('close', err);
  }
}
