/**
 * Reads generator weights from safetensors or NumPy .npz files into a state dict (float32).
 * safetensors: 8-byte little-endian header length, JSON header, raw little-endian data; no
 * maintained Node reader for local files exists on npm, and the format is this small.
 * .npz: a zip of .npy files (fflate unzips, npyjs parses), inflated under a limit (a zip bomb
 * would otherwise exhaust memory).
 */
import { readFileSync } from 'node:fs';
import { Unzip, UnzipInflate, unzipSync } from 'fflate';
import { parse as parseNpy } from 'npyjs';
import { WeightsError, type StateDict } from './state-dict.ts';

export interface WeightsFile {
  dict: StateDict;
  /** safetensors `__metadata__` (string map); empty for .npz. */
  metadata: Record<string, string>;
  kind: 'safetensors' | 'npz';
  bytes: Uint8Array;
}

// U8 only for fixtures (reference frames); weights are float
const SAFETENSORS_DTYPES: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, U8: 1 };

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

export function parseSafetensors(bytes: Uint8Array, file: string): { dict: StateDict; metadata: Record<string, string> } {
  if (bytes.length < 8) throw new WeightsError(`not a safetensors file: ${bytes.length} bytes, too short for the header length`, file);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = view.getBigUint64(0, true);
  if (headerLen > BigInt(bytes.length - 8) || headerLen > 100_000_000n) {
    throw new WeightsError(`not a safetensors file: header length ${headerLen} exceeds the file (${bytes.length} bytes)`, file);
  }
  const hl = Number(headerLen);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + hl))) as Record<string, unknown>;
  } catch (err) {
    throw new WeightsError(`not a safetensors file: header is not JSON (${(err as Error).message})`, file);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new WeightsError('not a safetensors file: header is not a JSON object', file);
  const dataStart = 8 + hl;
  const dataLen = bytes.length - dataStart;
  const dict: StateDict = new Map();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = (entry ?? {}) as Record<string, string>;
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e?.dtype !== 'string' || !Array.isArray(e.shape) || !Array.isArray(e.data_offsets) || e.data_offsets.length !== 2) {
      throw new WeightsError(`tensor '${name}': malformed header entry (needs dtype, shape, data_offsets)`, file);
    }
    const size = SAFETENSORS_DTYPES[e.dtype];
    if (size === undefined) throw new WeightsError(`tensor '${name}': dtype ${e.dtype} is not supported (expected F32, F16, BF16 or F64)`, file);
    const shape = e.shape as number[];
    if (!shape.every((d) => Number.isInteger(d) && d >= 0)) throw new WeightsError(`tensor '${name}': bad shape ${JSON.stringify(e.shape)}`, file);
    const [begin, end] = e.data_offsets as [number, number];
    const n = shape.reduce((a, b) => a * b, 1);
    if (!Number.isInteger(begin) || !Number.isInteger(end) || begin < 0 || end > dataLen || end - begin !== n * size) {
      throw new WeightsError(`tensor '${name}': data offsets [${begin}, ${end}] do not hold ${n} ${e.dtype} values within the ${dataLen}-byte data section (file truncated?)`, file);
    }
    const at = dataStart + begin;
    const data = new Float32Array(n);
    const dv = new DataView(bytes.buffer, bytes.byteOffset + at, end - begin);
    for (let i = 0; i < n; i++) {
      switch (e.dtype) {
        case 'F32':
          data[i] = dv.getFloat32(i * 4, true);
          break;
        case 'F16':
          data[i] = halfToFloat(dv.getUint16(i * 2, true));
          break;
        case 'BF16':
          data[i] = new Float32Array(new Uint32Array([dv.getUint16(i * 2, true) << 16]).buffer)[0]!;
          break;
        case 'F64':
          data[i] = dv.getFloat64(i * 8, true);
          break;
        case 'U8':
          data[i] = dv.getUint8(i);
          break;
      }
    }
    dict.set(name, { shape, data });
  }
  return { dict, metadata };
}

/**
 * The most any .npz may inflate to, all its arrays together. stylegan2's largest generator
 * (config-f, 1024 px, ~30 M parameters) is ~120 MiB as float32, ~240 MiB as float64: this leaves
 * room for far wider networks and still bounds what a bomb can take.
 */
export const NPZ_INFLATE_MAX_BYTES = 4 * 1024 ** 3;
/**
 * Trained (or random) weights are noise-like floats that deflate barely (np.savez stores them
 * 1:1), so an archive inflating to many times its size is no network...
 */
export const NPZ_INFLATE_MAX_RATIO = 32;
/** ...except a small one, whose zero biases may weigh as much as its weights. */
export const NPZ_INFLATE_FLOOR_BYTES = 64 * 1024 ** 2;

/** What a .npz of `compressedBytes` may inflate to: NPZ_INFLATE_MAX_RATIO x its size, within [floor, max]. */
export function npzInflateLimit(compressedBytes: number): number {
  return Math.min(NPZ_INFLATE_MAX_BYTES, Math.max(NPZ_INFLATE_FLOOR_BYTES, NPZ_INFLATE_MAX_RATIO * compressedBytes));
}

// input fed to the inflater per step: deflate tops out near 1032:1, so one step yields at most
// ~64 MiB before the count below sees it
const NPZ_STEP_BYTES = 64 * 1024;

/** The .npy entries of a zip, inflated; their sum (declared, then actual) never past `limit`. */
function inflateNpz(bytes: Uint8Array, file: string, limit: number): Map<string, Uint8Array> {
  const tooBig = (entry: string, what: string) =>
    new WeightsError(
      `'${entry}' ${what}: the .npz may inflate to at most its size x ${NPZ_INFLATE_MAX_RATIO}, at least ${NPZ_INFLATE_FLOOR_BYTES}, at most ${NPZ_INFLATE_MAX_BYTES} bytes (limit ${limit} bytes for this file); no network is that large (a zip bomb?)`,
      file,
    );
  const notZip = (err: unknown) => (err instanceof WeightsError ? err : new WeightsError(`not a .npz (zip) file: ${(err as Error).message}`, file));
  // the central directory's sizes first: an honest bomb is refused before a byte is inflated
  let declared = 0;
  try {
    unzipSync(bytes, {
      filter: (f) => {
        if (f.name.endsWith('.npy')) {
          declared += f.originalSize;
          if (declared > limit) throw tooBig(f.name, `declares ${f.originalSize} bytes${declared > f.originalSize ? ` (${declared} with the arrays before it)` : ''}`);
        }
        return false;
      },
    });
  } catch (err) {
    throw notZip(err);
  }
  // then the bytes actually inflated, since declared sizes can lie
  const entries = new Map<string, Uint8Array>();
  let inflated = 0;
  const unzip = new Unzip((entry) => {
    if (!entry.name.endsWith('.npy')) return;
    const chunks: Uint8Array[] = [];
    entry.ondata = (err, chunk, final) => {
      // a throw here leaves through push() below (fflate's inflater hands it back as `err` first)
      if (err) throw err;
      inflated += chunk.length;
      if (inflated > limit) throw tooBig(entry.name, `inflates to more than its declared ${entry.originalSize ?? '(unstated)'} bytes (${inflated} bytes inflated so far)`);
      chunks.push(chunk);
      if (final) entries.set(entry.name, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    };
    entry.start();
  });
  unzip.register(UnzipInflate);
  try {
    for (let at = 0; at < bytes.length; at += NPZ_STEP_BYTES) unzip.push(bytes.subarray(at, at + NPZ_STEP_BYTES), at + NPZ_STEP_BYTES >= bytes.length);
  } catch (err) {
    throw notZip(err);
  }
  return entries;
}

export function parseNpz(bytes: Uint8Array, file: string, maxInflatedBytes = npzInflateLimit(bytes.length)): StateDict {
  const entries = inflateNpz(bytes, file, maxInflatedBytes);
  const dict: StateDict = new Map();
  for (const [entry, content] of entries) {
    const name = entry.slice(0, -4);
    let arr;
    try {
      const ab = content.buffer.slice(content.byteOffset, content.byteOffset + content.byteLength) as ArrayBuffer;
      arr = parseNpy(ab);
    } catch (err) {
      throw new WeightsError(`array '${name}': not a valid .npy (${(err as Error).message})`, file);
    }
    if (arr.fortranOrder) throw new WeightsError(`array '${name}': Fortran order is not supported (save C-contiguous arrays)`, file);
    if (!['f2', 'f4', 'f8'].includes(arr.dtype)) throw new WeightsError(`array '${name}': dtype ${arr.dtype} is not a float type`, file);
    const src = arr.data as unknown as ArrayLike<number>;
    dict.set(name, { shape: [...arr.shape], data: src instanceof Float32Array ? src : Float32Array.from(src) });
  }
  if (dict.size === 0) throw new WeightsError('no .npy arrays in the archive', file);
  return dict;
}

export interface ReadWeightsOptions {
  /** What a .npz may inflate to, all arrays together (default: npzInflateLimit of its size). */
  maxInflatedBytes?: number;
}

/** Reads a weights file; the format comes from its content (zip magic) or extension. */
export function readWeightsFile(file: string, options: ReadWeightsOptions = {}): WeightsFile {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new WeightsError(`cannot read weights file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, file);
  }
  const isZip = bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
  if (isZip || /\.npz$/i.test(file)) return { dict: parseNpz(bytes, file, options.maxInflatedBytes), metadata: {}, kind: 'npz', bytes };
  if (/\.pkl$/i.test(file)) {
    throw new WeightsError('a .pkl cannot be read outside Python; dump its state dict to safetensors first (see `gance network import --help`)', file);
  }
  const { dict, metadata } = parseSafetensors(bytes, file);
  return { dict, metadata, kind: 'safetensors', bytes };
}
