/**
 * Reads GANce projection files lazily: opening reads the attributes and the list of per-frame dataset
 * names; each latent or image is read from the file when asked for.
 */
import { existsSync } from 'node:fs';
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
  type ProjectionAttributes,
} from './format.ts';

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
    const lib = await h5();
    let file: H5File;
    try {
      file = new lib.File(abs, 'r');
    } catch (err) {
      throw new ProjectionError('PROJECTION_UNREADABLE', `not an HDF5 file (${String(err)})`, path, { cause: err });
    }
    if (!file.file_id || file.file_id < 0n) {
      throw new ProjectionError('PROJECTION_UNREADABLE', 'not an HDF5 file', path);
    }
    try {
      const attributes = readAttributes(file, path);
      const names = {
        latents: datasetNames(file, FINAL_LATENTS_GROUP, path, true),
        targets: datasetNames(file, TARGET_IMAGES_GROUP, path, false),
        finals: datasetNames(file, FINAL_IMAGES_GROUP, path, false),
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
        const ds = file.get(`${FINAL_LATENTS_GROUP}/${names.latents[0]}`) as Dataset;
        const shape = ds.shape ?? [];
        const ok = shape.length === 3 && shape[0] === 1 && shape[2] === LATENT_WIDTH;
        if (!ok) throw new ProjectionError('PROJECTION_BAD_FORMAT', `final latents have shape [${shape.join(', ')}], expected [1, num_ws, ${LATENT_WIDTH}]`, path);
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
      file.close();
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
    const ds = this.file.get(`${FINAL_LATENTS_GROUP}/${this.latentNames[i]}`) as Dataset;
    const v = ds.value;
    if (!(v instanceof Float32Array) && !(v instanceof Float64Array)) {
      throw new ProjectionError('PROJECTION_BAD_FORMAT', `latent ${i} is not floating point (dtype ${String(ds.dtype)})`, this.path);
    }
    return v instanceof Float32Array ? v : Float32Array.from(v);
  }

  /** Row 0 of frame i's final latent (GANce blends only this row; the projector ties all rows). */
  finalLatentRow0(i: number): Float32Array {
    this.check(i, this.latentCount, 'latent');
    const ds = this.file.get(`${FINAL_LATENTS_GROUP}/${this.latentNames[i]}`) as Dataset;
    const v = ds.slice([[0, 1], [0, 1], []]);
    if (!(v instanceof Float32Array)) return Float32Array.from(v as ArrayLike<number>);
    return v;
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
    const ds = this.file.get(path) as Dataset;
    const shape = ds.shape ?? [];
    const v = ds.value;
    if (!(v instanceof Uint8Array) || shape.length !== 3) {
      throw new ProjectionError('PROJECTION_BAD_FORMAT', `${path} is not an HxWxC uint8 image`, this.path);
    }
    return { height: shape[0]!, width: shape[1]!, channels: shape[2]!, data: v };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.file.close();
  }
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
