/** Loads test/fixtures/audio/gance-reference (made by gance_reference.py with numpy/scipy/sklearn/pandas). */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const REFERENCE_DIR = fileURLToPath(new URL('../../fixtures/audio/gance-reference/', import.meta.url));
export const REFERENCE_WAV = `${REFERENCE_DIR}crosscheck.wav`;
export const H5PY_PROJECTION = fileURLToPath(new URL('../../fixtures/projection/gance_v2_h5py.h5', import.meta.url));
export const H5PY_PROJECTION_INCOMPLETE = fileURLToPath(new URL('../../fixtures/projection/gance_v2_h5py_incomplete.h5', import.meta.url));

export interface ReferenceManifest {
  fps: number;
  vector_length: number;
  frames: number;
  scaled_rate: number;
  alpha: number;
  blend_depth: number;
  projection_frames: number;
  projection_target_vectors: number;
  network_indices_noise_blend: number[];
  network_indices_projection_blend: number[];
  arrays: { name: string; dtype: string; length: number; offset: number }[];
}

export function loadReference(): { manifest: ReferenceManifest; array: (name: string) => Float32Array | Float64Array } {
  const manifest = JSON.parse(readFileSync(`${REFERENCE_DIR}gance-reference.json`, 'utf8')) as ReferenceManifest;
  const bin = readFileSync(`${REFERENCE_DIR}gance-reference.bin`);
  const array = (name: string) => {
    const a = manifest.arrays.find((x) => x.name === name);
    if (!a) throw new Error(`no reference array ${name}`);
    const bytes = a.dtype === '<f8' ? 8 : 4;
    const copy = Buffer.from(bin.subarray(a.offset, a.offset + a.length * bytes));
    return a.dtype === '<f8' ? new Float64Array(copy.buffer, copy.byteOffset, a.length) : new Float32Array(copy.buffer, copy.byteOffset, a.length);
  };
  return { manifest, array };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
