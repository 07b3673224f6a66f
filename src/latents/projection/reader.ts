/**
 * Reads GANce projection files lazily: opening reads the attributes and the list of per-frame dataset
 * names; each latent or image is read from the file when asked for.
 */
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Dataset, File as H5File, Group } from 'h5wasm/node';
import { ProjectionError } from './errors.ts';
import {
  FINAL_IMAGES_GROUP,
  FINAL_LATENTS_GROUP,
  LATENT_WIDTH,
  TARGET_IMAGES_GROUP,
  frameIndexOf,
  h5,
  h5Library,
  type ProjectionAttributes,
} from './format.ts';

let h5Module: (typeof import('h5wasm/node'))['Module'] | null = null;

export interface OpenOptions {
  /** Accept files whose `complete` flag is false (inspection only; GANce's blend refuses them). */
  allowIncomplete?: boolean;
  /** Rows per latent the synthesis network takes (18 at 1024 px); a file with another count is refused. */
  numWs?: number;
  /** MD5 of the network that will render; a file projected with another network is refused. */
  networkMd5?: string;
  /** Largest allowed |latents in file - projection_frame_count| (GANce: 2). */
  maxCountDifference?: number;
}

export interface ImageFrame {
  height: number;
  width: number;
  channels: number;
  data: Uint8Array;
}

type AttrValue = unknown;

function toNumber(v: AttrValue): number | null {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (ArrayBuffer.isView(v) && (v as unknown as ArrayLike<unknown>).length === 1) return toNumber((v as unknown as ArrayLike<unknown>)[0]);
  return null;
}

function toList(v: AttrValue): number[] | null {
  if (Array.isArray(v)) return v.map((x) => toNumber(x) ?? NaN);
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<number | bigint>, (x) => Number(x));
  return null;
}

/**
 * Runs h5wasm calls with HDF5's error handler set to throw. By default HDF5 prints its error stack
 * to stderr and the call returns as if it had worked: h5wasm ignores H5Dread's status, so a
 * damaged compressed chunk came back as a buffer of garbage. Restored afterwards, so other
 * h5wasm users keep the default. (A throw out of a failed read leaks that read's dataset handles;
 * the file is unusable by then anyway.)
 */
function checked<T>(fn: () => T): T {
  // set by open(), which loads h5wasm before any call comes here
  const Module = h5Module!;
  Module.activate_throwing_error_handler();
  try {
    return fn();
  } finally {
    Module.deactivate_throwing_error_handler();
  }
}

/** The gist of an HDF5 error stack: its innermost entries' descriptions, without source paths. */
function hdf5Reason(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const entries = [...text.matchAll(/#\d+: .* in (\w+)\(\): (.*)$/gm)].map((m) => m[2]!.trim());
  if (entries.length === 0) return text.split('\n')[0]!.trim() || 'unknown error';
  const tail = entries.slice(-2);
  return tail.join(': ');
}

/** HDF5's format signature, at offset 0 or (after a user block) 512, 1024, 2048, ... */
function hasHdf5Signature(path: string): boolean {
  const sig = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];
  let fd: number | null = null;
  try {
    fd = openSync(path, 'r');
    const buf = Buffer.alloc(8);
    for (let at = 0; at < 2 ** 32; at = at === 0 ? 512 : at * 2) {
      if (readSync(fd, buf, 0, 8, at) < 8) return false;
      if (sig.every((b, i) => buf[i] === b)) return true;
    }
    return false;
  } catch {
    return false;
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

/** Turns whatever h5wasm threw into a ProjectionError naming the file and what was being read. */
function unreadable(err: unknown, path: string, what: string): ProjectionError {
  if (err instanceof ProjectionError) return err;
  return new ProjectionError('PROJECTION_UNREADABLE', `cannot read ${what} (HDF5: ${hdf5Reason(err)})`, path, { cause: err });
}

const H5T_FLOAT = 1;

export class ProjectionFileReader {
  readonly path: string;
  readonly attributes: ProjectionAttributes;
  /** Number of final latents in the file. */
  readonly latentCount: number;
  readonly numWs: number;
  private readonly file: H5File;
  private readonly latentNames: string[];
  private readonly targetNames: string[];
  private readonly finalImageNames: string[];
  private closed = false;

  private constructor(path: string, file: H5File, attributes: ProjectionAttributes, names: { latents: string[]; targets: string[]; finals: string[] }, numWs: number) {
    this.path = path;
    this.file = file;
    this.attributes = attributes;
    this.latentNames = names.latents;
    this.targetNames = names.targets;
    this.finalImageNames = names.finals;
    this.latentCount = names.latents.length;
    this.numWs = numWs;
  }

  static async open(path: string, opts: OpenOptions = {}): Promise<ProjectionFileReader> {
    const abs = resolve(path);
    if (!existsSync(abs)) throw new ProjectionError('PROJECTION_UNREADABLE', 'file does not exist', path);
    // h5wasm reads synchronously: a FIFO would block the process (the daemon's event loop) for good
    if (!statSync(abs).isFile()) throw new ProjectionError('PROJECTION_UNREADABLE', 'not a regular file', path);
    const lib = await h5();
    h5Module = (await h5Library()).Module;
    let file: H5File;
    try {
      file = checked(() => new lib.File(abs, 'r'));
    } catch (err) {
      if (!hasHdf5Signature(abs)) throw new ProjectionError('PROJECTION_UNREADABLE', 'not an HDF5 file (no HDF5 signature)', path, { cause: err });
      throw new ProjectionError('PROJECTION_UNREADABLE', `damaged or truncated HDF5 file (HDF5: ${hdf5Reason(err)})`, path, { cause: err });
    }
    if (!file.file_id || file.file_id < 0n) {
      throw new ProjectionError('PROJECTION_UNREADABLE', 'not an HDF5 file', path);
    }
    try {
      const attributes = checkedRead(path, 'the root attributes', () => readAttributes(file, path));
      const names = {
        latents: checkedRead(path, `the '${FINAL_LATENTS_GROUP}' group`, () => datasetNames(file, FINAL_LATENTS_GROUP, path, true)),
        targets: checkedRead(path, `the '${TARGET_IMAGES_GROUP}' group`, () => datasetNames(file, TARGET_IMAGES_GROUP, path, false)),
        finals: checkedRead(path, `the '${FINAL_IMAGES_GROUP}' group`, () => datasetNames(file, FINAL_IMAGES_GROUP, path, false)),
      };
      if (!attributes.complete && !opts.allowIncomplete) {
        throw new ProjectionError(
          'PROJECTION_INCOMPLETE',
          `projection is incomplete (${names.latents.length} of ${attributes.projectionFrameCount ?? '?'} frames projected); GANce refuses to blend it`,
          path,
        );
      }
      const maxDiff = opts.maxCountDifference ?? 2;
      if (attributes.projectionFrameCount !== null && Math.abs(names.latents.length - attributes.projectionFrameCount) > maxDiff && !opts.allowIncomplete) {
        throw new ProjectionError(
          'PROJECTION_COUNT_MISMATCH',
          `holds ${names.latents.length} final latents but projection_frame_count is ${attributes.projectionFrameCount} (more than ${maxDiff} apart)`,
          path,
        );
      }
      let numWs = 0;
      if (names.latents.length > 0) {
        const name = `${FINAL_LATENTS_GROUP}/${names.latents[0]}`;
        const shape = checkedRead(path, `dataset '${name}'`, () => latentDataset(file, name, path).shape);
        const ok = shape.length === 3 && shape[0] === 1 && shape[2] === LATENT_WIDTH;
        if (!ok) throw new ProjectionError('PROJECTION_BAD_FORMAT', `dataset '${name}': final latents have shape [${shape.join(', ')}], expected [1, num_ws, ${LATENT_WIDTH}]`, path);
        numWs = shape[1]!;
        if (opts.numWs !== undefined && numWs !== opts.numWs) {
          throw new ProjectionError(
            'PROJECTION_NETWORK_MISMATCH',
            `latents have ${numWs} w rows but the network takes ${opts.numWs}: the projection was made with a different network`,
            path,
          );
        }
      }
      if (opts.networkMd5 !== undefined && attributes.networkMd5Hash.toLowerCase() !== opts.networkMd5.toLowerCase()) {
        throw new ProjectionError(
          'PROJECTION_NETWORK_MISMATCH',
          `projected with network MD5 ${attributes.networkMd5Hash} (${attributes.originalNetworkPath}), not ${opts.networkMd5}`,
          path,
        );
      }
      return new ProjectionFileReader(path, file, attributes, names, numWs);
    } catch (err) {
      try {
        checked(() => file.close());
      } catch {
        // the error being reported says what is wrong with the file
      }
      throw err;
    }
  }

  private check(i: number, count: number, what: string): void {
    if (this.closed) throw new ProjectionError('PROJECTION_FRAME_RANGE', 'reader is closed', this.path);
    if (!Number.isInteger(i) || i < 0 || i >= count) throw new ProjectionError('PROJECTION_FRAME_RANGE', `${what} ${i} out of range 0..${count - 1}`, this.path);
  }

  /** Final latent of frame i as num_ws x 512 float32 (row-major). */
  finalLatents(i: number): Float32Array {
    this.check(i, this.latentCount, 'latent');
    const name = `${FINAL_LATENTS_GROUP}/${this.latentNames[i]}`;
    const v = checkedRead(this.path, `dataset '${name}'`, () => {
      const { ds } = this.frameLatentDataset(name);
      return ds.value;
    });
    return this.finiteLatents(v, name);
  }

  /** Row 0 of frame i's final latent (GANce blends only this row; the projector ties all rows). */
  finalLatentRow0(i: number): Float32Array {
    this.check(i, this.latentCount, 'latent');
    const name = `${FINAL_LATENTS_GROUP}/${this.latentNames[i]}`;
    const v = checkedRead(this.path, `dataset '${name}'`, () => {
      const { ds } = this.frameLatentDataset(name);
      return ds.slice([[0, 1], [0, 1], []]);
    });
    return this.finiteLatents(v, name);
  }

  /** A final-latents dataset, checked to be floating point of shape [1, numWs, 512]. */
  private frameLatentDataset(name: string): { ds: Dataset } {
    const { ds, shape } = latentDataset(this.file, name, this.path);
    const ok = shape.length === 3 && shape[0] === 1 && shape[1] === this.numWs && shape[2] === LATENT_WIDTH;
    if (!ok) throw new ProjectionError('PROJECTION_BAD_FORMAT', `dataset '${name}' has shape [${shape.join(', ')}], expected [1, ${this.numWs}, ${LATENT_WIDTH}] like the first frame's`, this.path);
    return { ds };
  }

  private finiteLatents(v: unknown, name: string): Float32Array {
    if (!(v instanceof Float32Array) && !(v instanceof Float64Array)) {
      throw new ProjectionError('PROJECTION_BAD_FORMAT', `dataset '${name}' did not read as floating point`, this.path);
    }
    const bad = v.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) {
      const row = Math.floor(bad / LATENT_WIDTH);
      throw new ProjectionError('PROJECTION_BAD_FORMAT', `dataset '${name}' holds a non-finite latent (${v[bad]} at w row ${row}, column ${bad % LATENT_WIDTH}); GANce's projector never writes one`, this.path);
    }
    return v instanceof Float32Array ? v : Float32Array.from(v);
  }

  get targetImageCount(): number {
    return this.targetNames.length;
  }

  targetImage(i: number): ImageFrame {
    this.check(i, this.targetNames.length, 'target image');
    return this.image(`${TARGET_IMAGES_GROUP}/${this.targetNames[i]}`);
  }

  finalImage(i: number): ImageFrame {
    this.check(i, this.finalImageNames.length, 'final image');
    return this.image(`${FINAL_IMAGES_GROUP}/${this.finalImageNames[i]}`);
  }

  private image(path: string): ImageFrame {
    const { shape, v } = checkedRead(this.path, `dataset '${path}'`, () => {
      const ds = this.file.get(path) as Dataset | null;
      if (!ds || ds.type !== 'Dataset') throw new ProjectionError('PROJECTION_BAD_FORMAT', `'${path}' is not a dataset`, this.path);
      return { shape: ds.shape ?? [], v: ds.value };
    });
    if (!(v instanceof Uint8Array) || shape.length !== 3) {
      throw new ProjectionError('PROJECTION_BAD_FORMAT', `${path} is not an HxWxC uint8 image`, this.path);
    }
    return { height: shape[0]!, width: shape[1]!, channels: shape[2]!, data: v };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    checkedRead(this.path, 'the file to close it', () => this.file.close());
  }
}

/** Runs reads of `what` with HDF5 errors thrown (not printed), any failure naming the file and `what`. */
function checkedRead<T>(path: string, what: string, fn: () => T): T {
  try {
    return checked(fn);
  } catch (err) {
    throw unreadable(err, path, what);
  }
}

/** A final-latents dataset and its shape, refused unless it holds floating-point numbers. */
function latentDataset(file: H5File, name: string, path: string): { ds: Dataset; shape: number[] } {
  const ds = file.get(name) as Dataset | null;
  if (!ds || ds.type !== 'Dataset') throw new ProjectionError('PROJECTION_BAD_FORMAT', `'${name}' is not a dataset`, path);
  const meta = ds.metadata;
  if (meta.type !== H5T_FLOAT) {
    throw new ProjectionError('PROJECTION_BAD_FORMAT', `dataset '${name}' has dtype ${String(ds.dtype)}, expected float32 (latents are floating point)`, path);
  }
  return { ds, shape: ds.shape ?? [] };
}

function datasetNames(file: H5File, groupName: string, path: string, required: boolean): string[] {
  const g = file.get(groupName);
  if (!g || (g as Group).type !== 'Group') {
    if (required) throw new ProjectionError('PROJECTION_BAD_FORMAT', `has no '${groupName}' group; not a GANce projection file`, path);
    return [];
  }
  const group = g as Group;
  const names = group.keys().filter((k) => Number.isFinite(frameIndexOf(k)));
  names.sort((a, b) => frameIndexOf(a) - frameIndexOf(b));
  return names;
}

function readAttributes(file: H5File, path: string): ProjectionAttributes {
  const attrs = file.attrs;
  const get = (name: string): AttrValue => attrs[name]?.value;
  const has = (name: string) => attrs[name] !== undefined;
  const need = (...names: string[]): string => {
    const found = names.find(has);
    if (!found) throw new ProjectionError('PROJECTION_BAD_FORMAT', `missing attribute '${names.join("' or '")}'; not a GANce projection file`, path);
    return found;
  };
  const num = (name: string): number => {
    const v = toNumber(get(need(name)));
    if (v === null) throw new ProjectionError('PROJECTION_BAD_FORMAT', `attribute '${name}' is not a number`, path);
    return v;
  };
  const optNum = (name: string): number | null => {
    if (!has(name)) return null;
    const v = toNumber(get(name));
    return v === null || Number.isNaN(v) ? null : v;
  };
  const str = (...names: string[]): string => {
    const v = get(need(...names));
    if (typeof v === 'string') return v;
    if (v instanceof Uint8Array) return new TextDecoder().decode(v);
    throw new ProjectionError('PROJECTION_BAD_FORMAT', `attribute '${names[0]}' is not a string`, path);
  };
  const pair = (name: string): [number, number] => {
    const l = toList(get(need(name)));
    if (!l || l.length !== 2) throw new ProjectionError('PROJECTION_BAD_FORMAT', `attribute '${name}' is not a (width, height) pair`, path);
    return [l[0]!, l[1]!];
  };
  const flag = (name: string): boolean => num(name) !== 0;
  const shapesRaw = attrs.noises_shapes;
  let noisesShapes: number[][] | null = null;
  if (shapesRaw) {
    const flat = toList(shapesRaw.value);
    const shape = shapesRaw.shape ?? [];
    if (flat && shape.length === 2) {
      noisesShapes = [];
      for (let r = 0; r < shape[0]!; r++) noisesShapes.push(flat.slice(r * shape[1]!, (r + 1) * shape[1]!));
    }
  }
  const version = num('version_number');
  return {
    versionNumber: version,
    complete: flag('complete'),
    originalTargetPath: str('original_target_path'),
    originalWidthHeight: pair('original_width_height'),
    projectionWidthHeight: pair('projection_width_height'),
    targetMd5Hash: str('target_md5_hash'),
    originalNetworkPath: str('original_network_path', 'original_model_path'),
    networkMd5Hash: str('network_md5_hash', 'model_md5_hash'),
    stepsInProjection: num('steps_in_projection'),
    noisesShapes,
    latentsHistoriesEnabled: flag('latents_histories_enabled'),
    noisesHistoriesEnabled: flag('noises_histories_enabled'),
    imagesHistoriesEnabled: flag('images_histories_enabled'),
    originalFps: optNum('original_fps'),
    projectionFps: optNum('projection_fps'),
    originalFrameCount: optNum('original_frame_count'),
    projectionFrameCount: optNum('projection_frame_count'),
  };
}
