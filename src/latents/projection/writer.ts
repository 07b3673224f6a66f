/**
 * Writes projection files in GANce's format (version 2 names) so GANce and this daemon can both read
 * them. Flags are stored as int8 (h5wasm cannot write HDF5 enums; h5py reads them as integers and
 * GANce's truth tests accept them). Datasets are gzip level 9; h5wasm applies one filter per dataset,
 * so GANce's byte-shuffle stage is omitted (readers do not depend on it).
 */
import { resolve } from 'node:path';
import type { File as H5File, Group } from 'h5wasm/node';
import { ProjectionError } from './errors.ts';
import {
  COMPRESSION_LEVEL,
  FINAL_IMAGES_GROUP,
  FINAL_LATENTS_GROUP,
  LATENT_WIDTH,
  LATEST_VERSION,
  PER_FRAME_DATASET_GROUPS,
  PER_FRAME_SUBGROUP_GROUPS,
  TARGET_IMAGES_GROUP,
  h5,
  type ProjectionAttributes,
} from './format.ts';
import type { ImageFrame } from './reader.ts';

export type NewProjectionAttributes = Omit<ProjectionAttributes, 'versionNumber' | 'complete'>;

export interface ProjectionFrame {
  targetImage: ImageFrame;
  /** num_ws x 512 float32. */
  finalLatents: Float32Array;
  finalImage: ImageFrame;
}

export class ProjectionFileWriter {
  readonly path: string;
  private readonly file: H5File;
  private readonly attrs: NewProjectionAttributes;
  private readonly numWs: number;
  private frames = 0;
  private closed = false;

  private constructor(path: string, file: H5File, attrs: NewProjectionAttributes, numWs: number) {
    this.path = path;
    this.file = file;
    this.attrs = attrs;
    this.numWs = numWs;
  }

  /** Create (truncate) the file; it is marked incomplete until `complete()`. */
  static async create(path: string, attrs: NewProjectionAttributes, numWs = 18): Promise<ProjectionFileWriter> {
    const lib = await h5();
    let file: H5File;
    try {
      file = new lib.File(resolve(path), 'w');
    } catch (err) {
      throw new ProjectionError('PROJECTION_WRITE_FAILED', `cannot create file (${String(err)})`, path, { cause: err });
    }
    const w = new ProjectionFileWriter(path, file, attrs, numWs);
    w.writeAttributes(false);
    for (const g of [...PER_FRAME_DATASET_GROUPS, ...PER_FRAME_SUBGROUP_GROUPS]) file.create_group(g);
    file.flush();
    return w;
  }

  get frameCount(): number {
    return this.frames;
  }

  addFrame(frame: ProjectionFrame): void {
    if (this.closed) throw new ProjectionError('PROJECTION_WRITE_FAILED', 'writer is closed', this.path);
    const expected = this.numWs * LATENT_WIDTH;
    if (frame.finalLatents.length !== expected) {
      throw new ProjectionError('PROJECTION_WRITE_FAILED', `final latents of frame ${this.frames} have ${frame.finalLatents.length} values, expected ${this.numWs} x ${LATENT_WIDTH}`, this.path);
    }
    const i = this.frames;
    this.writeImage(TARGET_IMAGES_GROUP, i, frame.targetImage);
    const lat = this.file.get(FINAL_LATENTS_GROUP) as Group;
    lat.create_dataset({
      name: `${FINAL_LATENTS_GROUP}_${i}`,
      data: frame.finalLatents,
      shape: [1, this.numWs, LATENT_WIDTH],
      dtype: '<f',
      chunks: [1, this.numWs, LATENT_WIDTH],
      compression: 'gzip',
      compression_opts: COMPRESSION_LEVEL,
    });
    this.writeImage(FINAL_IMAGES_GROUP, i, frame.finalImage);
    this.frames++;
    this.file.flush();
  }

  private writeImage(group: string, i: number, img: ImageFrame): void {
    if (img.data.length !== img.height * img.width * img.channels) {
      throw new ProjectionError('PROJECTION_WRITE_FAILED', `${group} frame ${i}: ${img.data.length} bytes for ${img.height}x${img.width}x${img.channels}`, this.path);
    }
    (this.file.get(group) as Group).create_dataset({
      name: `${group}_${i}`,
      data: img.data,
      shape: [img.height, img.width, img.channels],
      dtype: '<B',
      chunks: [img.height, img.width, img.channels],
      compression: 'gzip',
      compression_opts: COMPRESSION_LEVEL,
    });
  }

  private writeAttributes(complete: boolean): void {
    const f = this.file;
    const a = this.attrs;
    const set = (name: string, data: number | string | number[], shape: number[] | null, dtype: string) => {
      if (f.attrs[name]) f.delete_attribute(name);
      f.create_attribute(name, data, shape, dtype);
    };
    set('version_number', LATEST_VERSION, null, '<q');
    set('complete', complete ? 1 : 0, null, '<b');
    set('original_target_path', a.originalTargetPath, null, 'S');
    set('original_width_height', a.originalWidthHeight, [2], '<q');
    set('projection_width_height', a.projectionWidthHeight, [2], '<q');
    set('target_md5_hash', a.targetMd5Hash, null, 'S');
    set('original_network_path', a.originalNetworkPath, null, 'S');
    set('network_md5_hash', a.networkMd5Hash, null, 'S');
    set('steps_in_projection', a.stepsInProjection, null, '<q');
    if (a.noisesShapes && a.noisesShapes.length > 0) {
      set('noises_shapes', a.noisesShapes.flat(), [a.noisesShapes.length, a.noisesShapes[0]!.length], '<q');
    } else set('noises_shapes', NaN, null, '<d');
    set('latents_histories_enabled', a.latentsHistoriesEnabled ? 1 : 0, null, '<b');
    set('noises_histories_enabled', a.noisesHistoriesEnabled ? 1 : 0, null, '<b');
    set('images_histories_enabled', a.imagesHistoriesEnabled ? 1 : 0, null, '<b');
    set('original_fps', a.originalFps ?? NaN, null, '<d');
    set('projection_fps', a.projectionFps ?? NaN, null, '<d');
    set('original_frame_count', a.originalFrameCount ?? -1, null, '<q');
    set('projection_frame_count', a.projectionFrameCount ?? this.frames, null, '<q');
  }

  /** Mark complete (GANce's last step) and close. */
  complete(): void {
    if (this.closed) throw new ProjectionError('PROJECTION_WRITE_FAILED', 'writer is closed', this.path);
    this.writeAttributes(true);
    this.close();
  }

  /** Close without marking complete (an interrupted projection stays readable but incomplete). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.file.flush();
    this.file.close();
  }
}
