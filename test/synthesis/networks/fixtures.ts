import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUNDLED_NETWORKS_DIR } from '../../../src/synthesis/networks/catalogue.ts';
import type { NetworkSidecar } from '../../../src/synthesis/stylegan2/sidecar.ts';

export const DEMO_ID = 'demo-64';

export function tempDir(prefix = 'gance-nets-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function demoSidecar(): NetworkSidecar {
  return JSON.parse(readFileSync(join(BUNDLED_NETWORKS_DIR, `${DEMO_ID}.json`), 'utf8')) as NetworkSidecar;
}

/**
 * Puts a network named `id` into `dir`: the demo's ONNX (or `onnx` bytes) and the demo's sidecar
 * renamed (and changed by `edit`).
 */
export function placeNetwork(dir: string, id: string, opts: { onnx?: Uint8Array | string; edit?: (s: NetworkSidecar) => unknown } = {}): { onnxPath: string; sidecarPath: string } {
  mkdirSync(dir, { recursive: true });
  const onnxPath = join(dir, `${id}.onnx`);
  const sidecarPath = join(dir, `${id}.json`);
  if (opts.onnx !== undefined) writeFileSync(onnxPath, opts.onnx);
  else copyFileSync(join(BUNDLED_NETWORKS_DIR, `${DEMO_ID}.onnx`), onnxPath);
  const sidecar = { ...demoSidecar(), name: id, onnx: `${id}.onnx` };
  const edited = opts.edit ? (opts.edit(sidecar) ?? sidecar) : sidecar;
  writeFileSync(sidecarPath, typeof edited === 'string' ? edited : JSON.stringify(edited, null, 2));
  return { onnxPath, sidecarPath };
}
