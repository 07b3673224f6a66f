/**
 * Reads the declared inputs and outputs of an ONNX file without loading it: the protobuf
 * length prefixes let the reader hop over the nodes and weights (which come before the graph's
 * inputs and outputs in the file), so checking a 120 MB network reads a few kilobytes.
 */
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { onnxSchema } from '../onnx/graph.ts';

export interface OnnxValue {
  name: string;
  /** onnxruntime's name for the element type (float32, uint8, ...), or "type <code>" */
  type: string;
  /** numbers for fixed sizes, strings for symbolic ones (the batch "N"), null when unspecified */
  shape: Array<number | string | null>;
}

export interface OnnxIo {
  /** run-time inputs: graph inputs that are also initializers (old exporters list them) are left out */
  inputs: OnnxValue[];
  outputs: OnnxValue[];
  irVersion?: number;
}

const ELEM_TYPES: Record<number, string> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  8: 'string',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  12: 'uint32',
  13: 'uint64',
  16: 'bfloat16',
};

export class OnnxFileError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = 'OnnxFileError';
  }
}

class FileCursor {
  private readonly buf = Buffer.alloc(10);
  constructor(
    private readonly fd: number,
    readonly size: number,
    private readonly file: string,
  ) {}

  /** A varint at `pos`: its value and the position after it. */
  varint(pos: number): [number, number] {
    const n = readSync(this.fd, this.buf, 0, 10, pos);
    let value = 0;
    let mul = 1;
    for (let i = 0; i < n; i++) {
      const b = this.buf[i]!;
      value += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return [value, pos + i + 1];
      mul *= 128;
    }
    throw new OnnxFileError(this.file, `not an ONNX model: truncated varint at byte ${pos}`);
  }

  bytes(pos: number, length: number): Buffer {
    if (pos + length > this.size) throw new OnnxFileError(this.file, `not an ONNX model: a field runs past the end of the file (byte ${pos}, ${length} bytes)`);
    const out = Buffer.alloc(length);
    readSync(this.fd, out, 0, length, pos);
    return out;
  }

  /** Calls `visit(field, wireType, start, end)` for each field of the message in [start, end). */
  fields(start: number, end: number, visit: (field: number, wire: number, at: number, to: number) => void): void {
    let pos = start;
    while (pos < end) {
      const [key, afterKey] = this.varint(pos);
      const field = Math.floor(key / 8);
      const wire = key & 7;
      let to: number;
      let at = afterKey;
      switch (wire) {
        case 0:
          to = this.varint(afterKey)[1];
          break;
        case 1:
          to = afterKey + 8;
          break;
        case 2: {
          const [len, after] = this.varint(afterKey);
          at = after;
          to = after + len;
          break;
        }
        case 5:
          to = afterKey + 4;
          break;
        default:
          throw new OnnxFileError(this.file, `not an ONNX model: wire type ${wire} at byte ${pos}`);
      }
      if (field === 0 || to > end) throw new OnnxFileError(this.file, `not an ONNX model: bad field at byte ${pos}`);
      visit(field, wire, at, to);
      pos = to;
    }
  }
}

interface DecodedValueInfo {
  name?: string;
  type?: { tensorType?: { elemType?: number; shape?: { dim?: Array<{ dimValue?: number; dimParam?: string }> } } };
}

function toValue(info: DecodedValueInfo): OnnxValue {
  const tensor = info.type?.tensorType;
  const code = tensor?.elemType ?? 0;
  return {
    name: info.name ?? '',
    type: ELEM_TYPES[code] ?? `type ${code}`,
    shape: (tensor?.shape?.dim ?? []).map((d) => (d.dimValue !== undefined && d.dimValue !== null ? Number(d.dimValue) : d.dimParam ? d.dimParam : null)),
  };
}

export function readOnnxIo(file: string): OnnxIo {
  let fd: number;
  try {
    // opening a FIFO blocks until someone writes to it: the daemon's event loop would stop here
    if (!statSync(file).isFile()) throw new OnnxFileError(file, 'not a regular file');
    fd = openSync(file, 'r');
  } catch (err) {
    if (err instanceof OnnxFileError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new OnnxFileError(file, code === 'ENOENT' ? 'file not found' : `cannot read: ${(err as Error).message}`);
  }
  try {
    const cursor = new FileCursor(fd, fstatSync(fd).size, file);
    const ValueInfo = onnxSchema().lookupType('onnx.ValueInfoProto');
    const inputs: OnnxValue[] = [];
    const outputs: OnnxValue[] = [];
    const initializers = new Set<string>();
    let graph: [number, number] | undefined;
    let irVersion: number | undefined;
    cursor.fields(0, cursor.size, (field, wire, at, to) => {
      if (field === 7 && wire === 2) graph = [at, to];
      if (field === 1 && wire === 0) irVersion = cursor.varint(at)[0];
    });
    if (!graph) throw new OnnxFileError(file, 'not an ONNX model: no graph');
    cursor.fields(graph[0], graph[1], (field, wire, at, to) => {
      if (wire !== 2) return;
      if (field === 11 || field === 12) {
        const info = ValueInfo.toObject(ValueInfo.decode(cursor.bytes(at, to - at)), { longs: Number }) as DecodedValueInfo;
        (field === 11 ? inputs : outputs).push(toValue(info));
      } else if (field === 5) {
        // an initializer's name (TensorProto field 8) — old exporters list initializers as inputs too
        cursor.fields(at, to, (f, w, a, t) => {
          if (f === 8 && w === 2) initializers.add(cursor.bytes(a, t - a).toString('utf8'));
        });
      }
    });
    return { inputs: inputs.filter((v) => !initializers.has(v.name)), outputs, ...(irVersion !== undefined ? { irVersion } : {}) };
  } finally {
    closeSync(fd);
  }
}
