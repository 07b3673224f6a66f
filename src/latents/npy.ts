/**
 * NumPy `.npy` (format 1.0) writing, streamed: the header from the shape, then the rows as they
 * come, so a long track's w latents (frames x 18 x 512 float32, 36 KiB a frame) never sit in
 * memory whole. float32, C order, the host's byte order (little-endian on every rig); the header
 * is the one `numpy.save` writes for the same shape, byte for byte.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { endianness } from 'node:os';

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

async function writeAll(fh: FileHandle, buf: Buffer): Promise<void> {
  for (let off = 0; off < buf.length; ) off += (await fh.write(buf, off, buf.length - off)).bytesWritten;
}

/** The float32 dtype as numpy names it, in the byte order Float32Array uses here. */
export const FLOAT32_DESCR = endianness() === 'LE' ? '<f4' : '>f4';

/** The header of a C-order array of `shape` in `descr`: magic, version 1.0, length, dict, padding, newline. */
export function npyHeader(shape: readonly number[], descr: string = FLOAT32_DESCR): Buffer {
  for (const d of shape) if (!Number.isSafeInteger(d) || d < 0) throw new RangeError(`npy shape must be non-negative integers, got [${shape.join(', ')}]`);
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  // numpy's own layout, byte for byte: the dict, room for the first axis to grow to 21 digits,
  // spaces up to a 64-byte boundary (a whole 64 when already on one), a newline
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${dims}), }` + ' '.repeat(shape.length > 0 ? Math.max(0, 21 - String(shape[0]).length) : 0);
  const prefix = MAGIC.length + 4;
  const total = prefix + dict.length + 1 + (64 - ((prefix + dict.length + 1) % 64));
  const headerLength = total - prefix;
  if (headerLength > 0xffff) throw new RangeError('npy header longer than format 1.0 allows');
  const buf = Buffer.alloc(total, 0x20);
  MAGIC.copy(buf, 0);
  buf[6] = 1;
  buf[7] = 0;
  buf.writeUInt16LE(headerLength, 8);
  buf.write(dict, 10, 'latin1');
  buf[total - 1] = 0x0a;
  return buf;
}

/**
 * A float32 .npy file written row by row. `close()` refuses (and leaves the file short) unless
 * exactly the shape's element count was written.
 */
export class NpyFloat32Writer {
  private readonly expected: number;
  private written = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  private constructor(
    readonly path: string,
    readonly shape: readonly number[],
    private readonly fh: FileHandle,
  ) {
    this.expected = shape.reduce((a, b) => a * b, 1);
  }

  /** Creates `path` (refusing one that exists: callers write to a fresh temp name) and writes the header. */
  static async create(path: string, shape: readonly number[]): Promise<NpyFloat32Writer> {
    const header = npyHeader(shape);
    const fh = await open(path, 'wx');
    try {
      await writeAll(fh, header);
    } catch (err) {
      await fh.close();
      throw err;
    }
    return new NpyFloat32Writer(path, shape, fh);
  }

  /** Appends values in C order; written out in chunks of about 1 MiB. */
  async write(values: Float32Array): Promise<void> {
    if (this.written + values.length > this.expected) throw new RangeError(`${this.path}: more values than the shape [${this.shape.join(', ')}] holds`);
    this.written += values.length;
    // a copy: the caller may reuse its array
    this.pending.push(Buffer.from(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength)));
    this.pendingBytes += values.byteLength;
    if (this.pendingBytes >= 1 << 20) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.pendingBytes === 0) return;
    const chunk = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    await writeAll(this.fh, chunk);
  }

  /** Flushes, syncs and closes; throws when the values written do not fill the shape. */
  async close(): Promise<void> {
    try {
      if (this.written !== this.expected) throw new RangeError(`${this.path}: ${this.written} values written, the shape [${this.shape.join(', ')}] holds ${this.expected}`);
      await this.flush();
      await this.fh.sync();
    } finally {
      await this.fh.close();
    }
  }

  /** Closes without checking (the caller removes the file). */
  async abort(): Promise<void> {
    this.pending = [];
    await this.fh.close().catch(() => undefined);
  }
}
