/**
 * GANce projection files (gance/projection/projector_file_writer.py): HDF5 with the projection's
 * attributes on the root, one dataset per frame in `target_images`, `final_latents` (1 x num_ws x 512,
 * float32) and `final_images`, named `<group>_<index>`, plus per-frame history groups. Version 1 names
 * the network `model`, version 2 `network`.
 */
import { register } from 'node:module';
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

/** The loader hook that keeps h5wasm out of tsx's transform (test/latents/projection checks it works). */
export const H5WASM_HOOK = './h5wasm-hook.mjs';

let loaded: Promise<typeof H5> | null = null;

/**
 * h5wasm, loaded once, when a projection file is first opened or written, not with this module, and
 * past tsx: under tsx (how `gance` runs) its 4 MB wasm wrapper would go through the loader's
 * transform, which costs seconds of CPU and leaves the process about 600 MB larger for good. The
 * hook registered here (a plain .mjs, so the loader thread needs no tsx for it) runs before tsx's
 * and gives node h5wasm's files untouched. Registering it again in a thread that already has it is
 * harmless: the first one short-circuits.
 */
export async function h5Library(): Promise<typeof H5> {
  loaded ??= (async () => {
    register(H5WASM_HOOK, import.meta.url);
    const m = await import('h5wasm/node');
    await m.default.ready;
    return m;
  })();
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
