/**
 * The frame layer of the cooler protocol (firmware/PROTOCOL.md "Frame"):
 *
 *   0xA5 | LEN | SEQ | TYPE | PAYLOAD (LEN bytes, LEN <= 64) | CRC16 hi | CRC16 lo
 *
 * CRC-16/CCITT-FALSE over LEN, SEQ, TYPE and PAYLOAD. The parser resynchronises byte by byte: on
 * any bad frame it drops only the sync byte and rescans what it had, as the firmware does.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { stallTolerantTimeout, type Timeout } from '../timeout.ts';
import { crc16 } from './crc16.ts';

export const SYNC = 0xa5;
export const MAX_PAYLOAD = 64;
export const FRAME_OVERHEAD = 6;
export const MAX_FRAME = MAX_PAYLOAD + FRAME_OVERHEAD;

export interface Frame {
  seq: number;
  type: number;
  payload: Buffer;
}

export function encodeFrame(seq: number, type: number, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  if (!Number.isInteger(seq) || seq < 0 || seq > 255) throw new RangeError(`frame seq: expected an integer 0..255, got ${seq}`);
  if (!Number.isInteger(type) || type < 0 || type > 255) throw new RangeError(`frame type: expected an integer 0..255, got ${type}`);
  if (payload.length > MAX_PAYLOAD) throw new RangeError(`frame payload: at most ${MAX_PAYLOAD} bytes, got ${payload.length}`);
  const out = Buffer.alloc(payload.length + FRAME_OVERHEAD);
  out[0] = SYNC;
  out[1] = payload.length;
  out[2] = seq;
  out[3] = type;
  out.set(payload, 4);
  out.writeUInt16BE(crc16(out, 1, 4 + payload.length), 4 + payload.length);
  return out;
}

/** What the parser threw away, by reason; totals since it was made. */
export interface ParserStats {
  frames: number;
  crcErrors: number;
  /** LEN above MAX_PAYLOAD */
  lengthErrors: number;
  /** bytes skipped while looking for a sync byte */
  junkBytes: number;
  /** partial frames dropped by flushPartial() */
  truncated: number;
}

export type ParserEvent = keyof Omit<ParserStats, 'frames' | 'junkBytes'>;

export interface ParserHooks {
  /** a frame was dropped; seq when the frame got far enough to have one (untrusted) */
  onBad?: (event: ParserEvent, seq: number | null) => void;
  /** bytes were skipped while hunting for a sync byte; `data` is only valid during the call */
  onJunk?: (bytes: number, data: Uint8Array) => void;
}

/** Byte-stream -> frames. Never throws on input; a frame only comes out with a correct CRC. */
export class FrameParser {
  readonly stats: ParserStats = { frames: 0, crcErrors: 0, lengthErrors: 0, junkBytes: 0, truncated: 0 };
  private buf = Buffer.alloc(MAX_FRAME * 2);
  private n = 0;
  private readonly onBad: ParserHooks['onBad'];
  private readonly onJunk: ParserHooks['onJunk'];

  constructor(hooks: ParserHooks = {}) {
    this.onBad = hooks.onBad;
    this.onJunk = hooks.onJunk;
  }

  /** Feeds bytes; returns the complete valid frames they finish, in order. */
  push(chunk: Uint8Array): Frame[] {
    const frames: Frame[] = [];
    for (let i = 0; i < chunk.length; ) {
      const take = Math.min(chunk.length - i, this.buf.length - this.n);
      this.buf.set(chunk.subarray(i, i + take), this.n);
      this.n += take;
      i += take;
      this.scan(frames);
    }
    return frames;
  }

  /** Bytes held of a frame not yet complete. */
  get pending(): number {
    return this.n;
  }

  /** Drops a partial frame (the line went quiet mid-frame), then rescans what followed its sync. */
  flushPartial(): Frame[] {
    const frames: Frame[] = [];
    if (this.n === 0) return frames;
    this.stats.truncated++;
    this.onBad?.('truncated', this.n >= 3 ? this.buf[2]! : null);
    this.drop(1);
    this.scan(frames);
    return frames;
  }

  reset(): void {
    this.n = 0;
  }

  private drop(k: number): void {
    this.buf.copy(this.buf, 0, k, this.n);
    this.n -= k;
  }

  private scan(out: Frame[]): void {
    while (this.n > 0) {
      const b = this.buf;
      if (b[0] !== SYNC) {
        // skip to the next sync byte in one step
        let k = 1;
        while (k < this.n && b[k] !== SYNC) k++;
        this.stats.junkBytes += k;
        this.onJunk?.(k, b.subarray(0, k));
        this.drop(k);
        continue;
      }
      if (this.n < 2) return;
      const len = b[1]!;
      if (len > MAX_PAYLOAD) {
        this.stats.lengthErrors++;
        this.onBad?.('lengthErrors', null);
        this.drop(1);
        continue;
      }
      const total = len + FRAME_OVERHEAD;
      if (this.n < total) return;
      if (crc16(b, 1, 4 + len) !== b.readUInt16BE(4 + len)) {
        this.stats.crcErrors++;
        this.onBad?.('crcErrors', b[2]!);
        this.drop(1);
        continue;
      }
      this.stats.frames++;
      out.push({ seq: b[2]!, type: b[3]!, payload: Buffer.from(b.subarray(4, 4 + len)) });
      this.drop(total);
    }
  }
}

/**
 * The parser as a stream: bytes in (e.g. `port.pipe(parser)`), Frame objects out. Partial frames
 * older than `timeoutMs` with no new bytes are dropped and counted as truncated.
 */
export class FrameParserStream extends Transform {
  readonly parser: FrameParser;
  private timer: Timeout | undefined;

  constructor(opts: ParserHooks & { timeoutMs?: number } = {}) {
    super({ readableObjectMode: true });
    this.parser = new FrameParser(opts);
    this.timeoutMs = opts.timeoutMs ?? 100;
  }

  private readonly timeoutMs: number;

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    for (const f of this.parser.push(chunk)) this.push(f);
    this.arm();
    done();
  }

  override _flush(done: TransformCallback): void {
    this.timer?.cancel();
    done();
  }

  override _destroy(err: Error | null, done: (error?: Error | null) => void): void {
    this.timer?.cancel();
    done(err);
  }

  private arm(): void {
    this.timer?.cancel();
    this.timer = undefined;
    if (this.parser.pending === 0) return;
    // after an event-loop stall, the rest of the frame may be waiting unread: read it first
    this.timer = stallTolerantTimeout(
      this.timeoutMs,
      () => {
        for (const f of this.parser.flushPartial()) this.push(f);
        this.arm();
      },
      { unref: true },
    );
  }
}
