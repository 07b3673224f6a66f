/**
 * A small ONNX graph builder: declares inputs, outputs, initializers and nodes, and encodes the
 * model with protobufjs against the ONNX schema in onnx.proto (never by hand-assembled bytes).
 */
import protobuf from 'protobufjs';
import { fileURLToPath } from 'node:url';
import { toFloat16Array } from './float16.ts';

export type DType = 'float32' | 'float16' | 'uint8' | 'int32' | 'int64';
/** A dimension: a fixed size, or a symbolic name such as "N" for the batch. */
export type Dim = number | string;

/** ONNX TensorProto.DataType codes. */
export const DATA_TYPE: Record<DType, number> = { float32: 1, uint8: 2, int32: 6, int64: 7, float16: 10 };

export type Attr =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'ints'; value: readonly number[] }
  | { kind: 'floats'; value: readonly number[] }
  | { kind: 'string'; value: string };

export const int = (value: number): Attr => ({ kind: 'int', value });
export const float = (value: number): Attr => ({ kind: 'float', value });
export const ints = (value: readonly number[]): Attr => ({ kind: 'ints', value });
export const floats = (value: readonly number[]): Attr => ({ kind: 'floats', value });
export const str = (value: string): Attr => ({ kind: 'string', value });

const ATTR_TYPE = { float: 1, int: 2, string: 3, floats: 6, ints: 7 } as const;

let cachedRoot: protobuf.Root | undefined;
/** The protobufjs root for onnx.proto (loaded once). */
export function onnxSchema(): protobuf.Root {
  cachedRoot ??= protobuf.loadSync(fileURLToPath(new URL('./onnx.proto', import.meta.url)));
  return cachedRoot;
}

interface TensorInit {
  name: string;
  dims: number[];
  dataType: number;
  rawData: Uint8Array;
}

interface ValueInfo {
  name: string;
  dtype: DType;
  shape: Dim[];
}

interface NodeInit {
  opType: string;
  domain: string;
  name: string;
  input: string[];
  output: string[];
  attribute: Array<Record<string, unknown>>;
}

export interface ModelMetadata {
  [key: string]: string;
}

/** Number of elements of a shape. */
export function numel(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

function rawBytes(dtype: DType, data: ArrayLike<number> | BigInt64Array): Uint8Array {
  let typed: ArrayBufferView;
  switch (dtype) {
    case 'float32':
      typed = data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>);
      break;
    case 'float16':
      typed = toFloat16Array(data as ArrayLike<number>);
      break;
    case 'uint8':
      typed = data instanceof Uint8Array ? data : Uint8Array.from(data as ArrayLike<number>);
      break;
    case 'int32':
      typed = data instanceof Int32Array ? data : Int32Array.from(data as ArrayLike<number>);
      break;
    case 'int64':
      typed =
        data instanceof BigInt64Array ? data : BigInt64Array.from(Array.from(data as ArrayLike<number>, (v) => BigInt(v)));
      break;
  }
  // raw_data is little-endian; so are the typed arrays on every platform gance runs on.
  return new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
}

export class OnnxGraph {
  private readonly inputs: ValueInfo[] = [];
  private readonly outputs: ValueInfo[] = [];
  private readonly initializers = new Map<string, TensorInit>();
  private readonly nodes: NodeInit[] = [];
  private readonly names = new Set<string>();
  private counter = 0;
  private scope = '';
  private readonly scoped = new Map<string, string[]>();

  constructor(readonly name: string) {}

  /** Nodes added inside `fn` get names starting with `${scope}/` and are listed by nodesIn(scope). */
  inScope<T>(scope: string, fn: () => T): T {
    const prev = this.scope;
    this.scope = scope;
    try {
      return fn();
    } finally {
      this.scope = prev;
    }
  }

  nodesIn(scope: string): string[] {
    return [...(this.scoped.get(scope) ?? [])];
  }

  /** A fresh value name with the given stem. */
  fresh(stem: string): string {
    let candidate = stem;
    while (this.names.has(candidate)) candidate = `${stem}_${++this.counter}`;
    this.names.add(candidate);
    return candidate;
  }

  input(name: string, dtype: DType, shape: Dim[]): string {
    if (this.names.has(name)) throw new Error(`ONNX graph: value '${name}' defined twice`);
    this.names.add(name);
    this.inputs.push({ name, dtype, shape });
    return name;
  }

  output(name: string, dtype: DType, shape: Dim[]): void {
    if (!this.names.has(name)) throw new Error(`ONNX graph: output '${name}' is not produced by any node`);
    this.outputs.push({ name, dtype, shape });
  }

  /** A constant tensor stored in the model; float data is converted to the requested dtype. */
  initializer(stem: string, dtype: DType, dims: readonly number[], data: ArrayLike<number> | BigInt64Array): string {
    if (data.length !== numel(dims)) {
      throw new Error(`ONNX graph: initializer '${stem}' has ${data.length} values, shape [${dims.join(', ')}] needs ${numel(dims)}`);
    }
    const name = this.fresh(stem);
    this.initializers.set(name, { name, dims: [...dims], dataType: DATA_TYPE[dtype], rawData: rawBytes(dtype, data) });
    return name;
  }

  /** 1-D int64 constant (shapes, axes, pads for ops that take them as inputs). */
  int64s(stem: string, values: readonly number[]): string {
    return this.initializer(stem, 'int64', [values.length], values);
  }

  scalar(stem: string, dtype: DType, value: number): string {
    return this.initializer(stem, dtype, [], [value]);
  }

  /** Adds a node and returns the names of its outputs (the first one for single-output ops). */
  nodeN(opType: string, inputs: readonly string[], attrs: Record<string, Attr> = {}, outputs = 1, domain = ''): string[] {
    const stem = opType.toLowerCase();
    const out = Array.from({ length: outputs }, () => this.fresh(stem));
    const name = this.fresh(this.scope ? `${this.scope}/${stem}` : `n_${stem}`);
    if (this.scope) this.scoped.set(this.scope, [...(this.scoped.get(this.scope) ?? []), name]);
    this.nodes.push({
      opType,
      domain,
      name,
      input: [...inputs],
      output: out,
      attribute: Object.entries(attrs).map(([name, attr]) => encodeAttr(name, attr)),
    });
    return out;
  }

  node(opType: string, inputs: readonly string[], attrs: Record<string, Attr> = {}): string {
    return this.nodeN(opType, inputs, attrs, 1)[0]!;
  }

  /** Renames a value to a declared name (graph outputs get stable names this way). */
  rename(from: string, to: string): string {
    if (this.names.has(to)) throw new Error(`ONNX graph: value '${to}' defined twice`);
    this.names.add(to);
    this.nodes.push({ opType: 'Identity', domain: '', name: this.fresh('n_identity'), input: [from], output: [to], attribute: [] });
    return to;
  }

  get nodeCount(): number {
    return this.nodes.length;
  }

  /** Counts of op types, for tests and profiles. */
  opCounts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const n of this.nodes) counts[n.opType] = (counts[n.opType] ?? 0) + 1;
    return counts;
  }

  parameterCount(): number {
    let total = 0;
    for (const t of this.initializers.values()) total += numel(t.dims);
    return total;
  }

  /** Encodes the model (opset 17 by default: every op used here is defined there). */
  toBytes(options: { opset?: number; producer?: string; doc?: string; metadata?: ModelMetadata } = {}): Uint8Array {
    const root = onnxSchema();
    const Model = root.lookupType('onnx.ModelProto');
    const valueInfo = (v: ValueInfo) => ({
      name: v.name,
      type: {
        tensorType: {
          elemType: DATA_TYPE[v.dtype],
          shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
        },
      },
    });
    const message = {
      irVersion: 8,
      opsetImport: [{ domain: '', version: options.opset ?? 17 }],
      producerName: options.producer ?? 'gance',
      producerVersion: '1',
      docString: options.doc ?? '',
      metadataProps: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
      graph: {
        name: this.name,
        node: this.nodes,
        initializer: [...this.initializers.values()],
        input: this.inputs.map(valueInfo),
        output: this.outputs.map(valueInfo),
      },
    };
    const err = Model.verify(message);
    if (err) throw new Error(`ONNX graph: invalid model message: ${err}`);
    return Model.encode(Model.fromObject(message)).finish();
  }
}

function encodeAttr(name: string, attr: Attr): Record<string, unknown> {
  const type = ATTR_TYPE[attr.kind];
  switch (attr.kind) {
    case 'int':
      return { name, type, i: attr.value };
    case 'float':
      return { name, type, f: attr.value };
    case 'ints':
      return { name, type, ints: [...attr.value] };
    case 'floats':
      return { name, type, floats: [...attr.value] };
    case 'string':
      return { name, type, s: Buffer.from(attr.value, 'utf8') };
  }
}

/** Decodes an ONNX file's bytes into a plain object (tests and `network list` use it). */
export function decodeModel(bytes: Uint8Array): Record<string, unknown> {
  const Model = onnxSchema().lookupType('onnx.ModelProto');
  return Model.toObject(Model.decode(bytes), { longs: Number, bytes: Buffer, defaults: false }) as Record<string, unknown>;
}
