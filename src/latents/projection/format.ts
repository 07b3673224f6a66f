/**
 * GANce projection files (gance/projection/projector_file_writer.py): HDF5 with the projection's
 * attributes on the root, one dataset per frame in `target_images`, `final_latents` (1 x num_ws x 512,
 * float32) and `final_images`, named `<group>_<index>`, plus per-frame history groups. Version 1 names
 * the network `model`, version 2 `network`.
 */
import type * as H5 from 'h5wasm/node';

export const TARGET_IMAGES_GROUP = 'target_images';
export const FINAL_LATENTS_GROUP = 'final_latents';
export const FINAL_IMAGES_GROUP = 'final_images';
export const LATENTS_HISTORIES_GROUP = 'latents_histories';
export const IMAGES_HISTORIES_GROUP = 'images_histories';
export const NOISES_HISTORIES_GROUP = 'noises_histories';
export const PER_FRAME_DATASET_GROUPS = [TARGET_IMAGES_GROUP, FINAL_LATENTS_GROUP, FINAL_IMAGES_GROUP] as const;
export const PER_FRAME_SUBGROUP_GROUPS = [LATENTS_HISTORIES_GROUP, IMAGES_HISTORIES_GROUP, NOISES_HISTORIES_GROUP] as const;
export const LATEST_VERSION = 2;
export const COMPRESSION_LEVEL = 9;
export const LATENT_WIDTH = 512;

export interface ProjectionAttributes {
  versionNumber: number;
  complete: boolean;
  originalTargetPath: string;
  originalWidthHeight: [number, number];
  projectionWidthHeight: [number, number];
  targetMd5Hash: string;
  originalNetworkPath: string;
  networkMd5Hash: string;
  stepsInProjection: number;
  /** null when GANce stored NaN (no noise shapes recorded). */
  noisesShapes: number[][] | null;
  latentsHistoriesEnabled: boolean;
  noisesHistoriesEnabled: boolean;
  imagesHistoriesEnabled: boolean;
  originalFps: number | null;
  projectionFps: number | null;
  originalFrameCount: number | null;
  projectionFrameCount: number | null;
}

let loaded: Promise<typeof H5> | null = null;

/**
 * h5wasm, loaded once, when a projection file is first opened or written, not with this module: under
 * tsx (how `gance` runs) its 4 MB wasm wrapper goes through the loader's transform, which leaves the
 * process about 600 MB larger for good, a price no render without a projection file should pay.
 */
export async function h5Library(): Promise<typeof H5> {
  loaded ??= import('h5wasm/node').then(async (m) => {
    await m.default.ready;
    return m;
  });
  return loaded;
}

/** h5wasm's default export, ready. */
export async function h5(): Promise<typeof H5.default> {
  return (await h5Library()).default;
}

/** Frame index from a GANce dataset/group name (`final_latents_12` -> 12), as its reader sorts them. */
export function frameIndexOf(name: string): number {
  const tail = name.split('_').at(-1) ?? '';
  return /^\d+$/.test(tail) ? Number(tail) : NaN;
}
