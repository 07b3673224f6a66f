/**
 * Writes a built generator as NAME.onnx + NAME.json, and lists the networks of a folder.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { buildGenerator, DEFAULT_BUILD, OPSET, type BuildOptions } from './generator.ts';
import { numWs, blockResolutions, channelsAt, type GeneratorShape } from './shape.ts';
import { getTensor, type StateDict } from './state-dict.ts';
import { parseSidecar, readSidecar, SIDECAR_FORMAT, SIDECAR_VERSION, type NetworkSidecar } from './sidecar.ts';

export interface NetworkSource {
  kind: 'random' | 'safetensors' | 'npz';
  file?: string;
  seed?: number;
  /** "sha256:<hex>" */
  hash: string;
}

export function sha256(data: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Hash standing for a random network: its seed and shape. */
export function randomSourceHash(shape: GeneratorShape, seed: number): string {
  return sha256(JSON.stringify({ seed, shape }));
}

/** The sidecar's path for an ONNX path (x.onnx -> x.json). */
export function sidecarPathFor(onnxPath: string): string {
  return onnxPath.replace(/\.onnx$/i, '') + '.json';
}

export interface WrittenNetwork {
  onnxPath: string;
  sidecarPath: string;
  sidecar: NetworkSidecar;
  opCounts: Record<string, number>;
}

/**
 * Builds the graph and writes NAME.onnx and NAME.json next to each other. Files are written
 * under temporary names and renamed, so a failed build never leaves half a network behind.
 */
export function writeNetwork(
  dict: StateDict,
  shape: GeneratorShape,
  onnxPath: string,
  source: NetworkSource,
  options: Partial<BuildOptions> = {},
): WrittenNetwork {
  if (!/\.onnx$/i.test(onnxPath)) throw new Error(`output path must end in .onnx, got '${onnxPath}'`);
  const opt = { ...DEFAULT_BUILD, ...options };
  const built = buildGenerator(dict, shape, opt);
  const name = basename(onnxPath).replace(/\.onnx$/i, '');
  const channels: Record<string, number> = {};
  for (const res of blockResolutions(shape)) channels[String(res)] = channelsAt(shape, res);
  const sidecar = parseSidecar(
    {
      format: SIDECAR_FORMAT,
      version: SIDECAR_VERSION,
      name,
      onnx: basename(onnxPath),
      resolution: shape.resolution,
      numWs: numWs(shape),
      zDim: shape.zDim,
      wDim: shape.wDim,
      imgChannels: shape.imgChannels,
      channels,
      mappingLayers: shape.mappingLayers,
      mappingLrMultiplier: shape.mappingLrMultiplier,
      convClamp: shape.convClamp,
      dtype: opt.dtype,
      wAvg: Array.from(getTensor(dict, 'mapping.w_avg').data),
      truncationPsi: opt.truncationPsi,
      noise: opt.noise,
      batch: opt.batch,
      output: built.output,
      inputs: built.inputs,
      outputs: built.outputs,
      sourceHash: source.hash,
      source: { kind: source.kind, ...(source.file ? { file: basename(source.file) } : {}), ...(source.seed !== undefined ? { seed: source.seed } : {}) },
      builder: { modulation: opt.modulation, upsample: opt.upsample, opset: OPSET, parameters: built.parameters, hostNodes: built.hostNodes },
      createdAt: new Date().toISOString(),
    },
    sidecarPathFor(onnxPath),
  );
  const dir = dirname(resolve(onnxPath));
  mkdirSync(dir, { recursive: true });
  const sidecarPath = sidecarPathFor(onnxPath);
  publishPair(onnxPath, built.onnx, sidecarPath, JSON.stringify(sidecar, null, 2) + '\n');
  return { onnxPath, sidecarPath, sidecar, opCounts: built.opCounts };
}

/**
 * Puts NAME.onnx and NAME.json in place so that the catalogue (which lists by sidecar) never sees
 * half a network: both are written under temporary names first; the ONNX file is renamed into
 * place before the sidecar, so a network becomes visible only once its ONNX file is there. On any
 * failure both temporary files and whatever was already renamed are removed, and a network that
 * was being replaced is put back as it was. The error names the file that could not be written.
 */
export function publishPair(onnxPath: string, onnx: Uint8Array, sidecarPath: string, json: string): void {
  const tag = `${process.pid}-${Date.now().toString(36)}`;
  const tmpOnnx = `${onnxPath}.tmp-${tag}`;
  const tmpJson = `${sidecarPath}.tmp-${tag}`;
  const oldOnnx = `${onnxPath}.old-${tag}`;
  const oldJson = `${sidecarPath}.old-${tag}`;
  const remove = (p: string) => {
    try {
      rmSync(p, { force: true });
    } catch {
      // best effort: the error that got us here is the one to report
    }
  };
  const isFile = (p: string) => statSync(p, { throwIfNoEntry: false })?.isFile() === true;
  const step = (what: string, file: string, fn: () => void) => {
    try {
      fn();
    } catch (err) {
      throw new Error(`${file}: cannot ${what}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; nothing was written`, { cause: err });
    }
  };
  let placedOnnx = false;
  let savedOnnx = false;
  let savedJson = false;
  try {
    step('write', tmpOnnx, () => writeFileSync(tmpOnnx, onnx));
    step('write', tmpJson, () => writeFileSync(tmpJson, json));
    // keep a network being replaced until the new one is complete
    if (isFile(sidecarPath)) {
      step('move aside the old sidecar', sidecarPath, () => renameSync(sidecarPath, oldJson));
      savedJson = true;
    }
    if (isFile(onnxPath)) {
      step('move aside the old ONNX file', onnxPath, () => renameSync(onnxPath, oldOnnx));
      savedOnnx = true;
    }
    step('rename into place', onnxPath, () => renameSync(tmpOnnx, onnxPath));
    placedOnnx = true;
    step('rename into place', sidecarPath, () => renameSync(tmpJson, sidecarPath));
  } catch (err) {
    remove(tmpOnnx);
    remove(tmpJson);
    if (placedOnnx) remove(onnxPath);
    try {
      if (savedOnnx) renameSync(oldOnnx, onnxPath);
      if (savedJson) renameSync(oldJson, sidecarPath);
    } catch {
      // the error below says what failed; the old files keep their .old- names
    }
    throw err;
  }
  if (savedOnnx) remove(oldOnnx);
  if (savedJson) remove(oldJson);
}

export interface ListedNetwork {
  id: string;
  onnxPath: string;
  sidecarPath: string;
  sidecar?: NetworkSidecar;
  /** Why the network cannot be used (bad sidecar, missing ONNX file). */
  error?: string;
}

/** Every NAME.json + NAME.onnx pair in a folder; broken ones are listed with their error. */
export function listNetworks(dir: string): ListedNetwork[] {
  if (!existsSync(dir)) return [];
  const out: ListedNetwork[] = [];
  for (const file of readdirSync(dir).sort()) {
    if (!file.endsWith('.json')) continue;
    const sidecarPath = join(dir, file);
    const id = file.slice(0, -'.json'.length);
    try {
      const sidecar = readSidecar(sidecarPath);
      const onnxPath = join(dir, sidecar.onnx);
      if (!existsSync(onnxPath)) out.push({ id, onnxPath, sidecarPath, sidecar, error: `${onnxPath}: ONNX file missing` });
      else out.push({ id, onnxPath, sidecarPath, sidecar });
    } catch (err) {
      if ((err as Error).message.includes('not a gance network sidecar') && !existsSync(join(dir, `${id}.onnx`))) continue; // some other JSON
      out.push({ id, onnxPath: join(dir, `${id}.onnx`), sidecarPath, error: (err as Error).message });
    }
  }
  return out;
}
