/**
 * Framing for messages between the pool and a worker process over a byte pipe. A message is a
 * JSON header plus the raw bytes of its tensors; the bytes go to the pipe straight from the typed
 * arrays (no serializer pass) and come out as views on one ArrayBuffer per message, 8-byte aligned,
 * which the pool can hand on without copying again.
 *
 * Frame: u32 LE length of the rest | rest. Rest (one ArrayBuffer on arrival): u32 LE header length |
 *       u32 zero | header JSON | pad to 8 | tensor bytes, each padded to 8.
 */
import { writeSync } from 'node:fs';
import type { Writable } from 'node:stream';
import type { FromWorker, TensorData, TensorMsg, TensorType, ToWorker } from './protocol.ts';

type Message = ToWorker | FromWorker;

interface TensorSlot {
  name: string;
  type: TensorType;
  dims: number[];
  offset: number;
  byteLength: number;
}

const pad8 = (n: number) => (n + 7) & ~7;

function tensorsOf(msg: Message): TensorMsg[] | undefined {
  if (msg.t === 'run') return msg.feeds;
  if (msg.t === 'result') return msg.outputs;
  return undefined;
}

/** The bytes of one message, as buffers to write in order (tensor data is referenced, not copied). */
export function encodeMessage(msg: Message): Buffer[] {
  const tensors = tensorsOf(msg) ?? [];
  const slots: TensorSlot[] = [];
  let body = 0;
  for (const tensor of tensors) {
    slots.push({ name: tensor.name, type: tensor.type, dims: tensor.dims, offset: body, byteLength: tensor.data.byteLength });
    body += pad8(tensor.data.byteLength);
  }
  const header = tensors.length > 0 ? { ...msg, [msg.t === 'run' ? 'feeds' : 'outputs']: slots } : msg;
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const restHead = pad8(8 + json.length);
  const head = Buffer.alloc(4 + restHead);
  head.writeUInt32LE(restHead + body, 0);
  head.writeUInt32LE(json.length, 4);
  json.copy(head, 12);
  const parts: Buffer[] = [head];
  for (const tensor of tensors) {
    parts.push(Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength));
    const pad = pad8(tensor.data.byteLength) - tensor.data.byteLength;
    if (pad > 0) parts.push(ZEROS.subarray(0, pad));
  }
  return parts;
}

const ZEROS = Buffer.alloc(8);

/** Writes one message to a stream; resolves when the stream has taken it (back-pressure). */
export function writeMessage(out: Writable, msg: Message): Promise<void> {
  let ok = true;
  for (const part of encodeMessage(msg)) ok = out.write(part) && ok;
  if (ok) return Promise.resolve();
  return new Promise((resolve) => out.once('drain', resolve));
}

/** Writes buffers to a file descriptor completely before returning (blocking). */
export function writeAllSync(fd: number, parts: readonly Uint8Array[]): void {
  for (const part of parts) {
    let at = 0;
    while (at < part.length) {
      try {
        at += writeSync(fd, part, at, part.length - at);
      } catch (err) {
        // a non-blocking descriptor whose buffer is full: give the reader a moment
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
        Atomics.wait(WAIT, 0, 0, 1);
      }
    }
  }
}

const WAIT = new Int32Array(new SharedArrayBuffer(4));

function view(type: TensorType, buffer: ArrayBuffer, offset: number, byteLength: number): TensorData {
  switch (type) {
    case 'float32':
      return new Float32Array(buffer, offset, byteLength / 4);
    case 'float16':
      return new Uint16Array(buffer, offset, byteLength / 2);
    case 'uint8':
      return new Uint8Array(buffer, offset, byteLength);
    case 'int32':
      return new Int32Array(buffer, offset, byteLength / 4);
    case 'int64':
      return new BigInt64Array(buffer, offset, byteLength / 8);
  }
}

/**
 * Reassembles messages from pipe chunks. Each message's bytes are copied once, from the chunks
 * into its own ArrayBuffer, whose tensor views are then handed out as they are.
 */
export class MessageReader {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** the message being filled: its buffer and how much of it has arrived */
  private current: { buf: Uint8Array; filled: number } | undefined;

  constructor(private readonly onMessage: (msg: Message) => void) {}

  push(chunk: Buffer): void {
    let data = chunk;
    while (data.length > 0) {
      if (!this.current) {
        // collect the 4 length bytes (they may straddle chunks)
        this.pending.push(data);
        this.pendingBytes += data.length;
        if (this.pendingBytes < 4) return;
        const joined = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
        this.pending = [];
        this.pendingBytes = 0;
        const total = joined.readUInt32LE(0);
        this.current = { buf: new Uint8Array(new ArrayBuffer(total)), filled: 0 };
        data = joined.subarray(4);
        continue;
      }
      const need = this.current.buf.length - this.current.filled;
      const take = Math.min(need, data.length);
      this.current.buf.set(data.subarray(0, take), this.current.filled);
      this.current.filled += take;
      data = data.subarray(take);
      if (this.current.filled === this.current.buf.length) {
        const buf = this.current.buf;
        this.current = undefined;
        this.onMessage(decode(buf));
      }
    }
  }
}

function decode(buf: Uint8Array): Message {
  const jsonLength = new DataView(buf.buffer, buf.byteOffset, buf.byteLength).getUint32(0, true);
  const header = JSON.parse(Buffer.from(buf.buffer, buf.byteOffset + 8, jsonLength).toString('utf8')) as Message;
  const bodyStart = pad8(8 + jsonLength);
  if (header.t !== 'run' && header.t !== 'result') return header;
  const slots = (header.t === 'run' ? header.feeds : header.outputs) as unknown as TensorSlot[];
  // buf owns its ArrayBuffer from offset 0, so every tensor view is 8-byte aligned
  const tensors: TensorMsg[] = slots.map((s) => ({
    name: s.name,
    type: s.type,
    dims: s.dims,
    data: view(s.type, buf.buffer as ArrayBuffer, bodyStart + s.offset, s.byteLength),
  }));
  if (header.t === 'run') return { ...header, feeds: tensors };
  return { ...header, outputs: tensors };
}
