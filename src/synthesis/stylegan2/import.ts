/**
 * Imports a trained stylegan2-ada-pytorch generator (state dict in safetensors or .npz) as
 * NAME.onnx + NAME.json, and builds seeded random networks the same way.
 */
import { inferShape, WeightsError } from './state-dict.ts';
import { readWeightsFile } from './weights-file.ts';
import { randomStateDict } from './random-weights.ts';
import { randomSourceHash, sha256, writeNetwork, type WrittenNetwork } from './network-file.ts';
import type { BuildOptions } from './generator.ts';
import type { GeneratorShape } from './shape.ts';

export { readWeightsFile };

export interface ImportOptions extends Partial<BuildOptions> {
  /** Overrides what the file's metadata says (or the stylegan2-ada defaults: 0.01 and 256). */
  mappingLrMultiplier?: number;
  convClamp?: number | null;
}

interface InitKwargs {
  c_dim?: number;
  mapping_kwargs?: { lr_multiplier?: number; num_layers?: number };
  synthesis_kwargs?: { conv_clamp?: number | null; architecture?: string };
}

/** Hyper-parameters from G.init_kwargs, when the dump stored them as safetensors metadata "init_kwargs". */
function hyperParams(metadata: Record<string, string>, file: string): { mappingLrMultiplier?: number; convClamp?: number | null } {
  const raw = metadata.init_kwargs;
  if (raw === undefined) return {};
  let k: InitKwargs;
  try {
    k = JSON.parse(raw) as InitKwargs;
  } catch (err) {
    throw new WeightsError(`metadata 'init_kwargs' is not JSON: ${(err as Error).message}`, file);
  }
  if (k.c_dim) throw new WeightsError(`conditional generators (c_dim=${k.c_dim}) are not supported`, file);
  const arch = k.synthesis_kwargs?.architecture;
  if (arch !== undefined && arch !== 'skip') throw new WeightsError(`synthesis architecture '${arch}' is not supported (only 'skip', stylegan2-ada's generator default)`, file);
  const out: { mappingLrMultiplier?: number; convClamp?: number | null } = {};
  if (k.mapping_kwargs?.lr_multiplier !== undefined) out.mappingLrMultiplier = k.mapping_kwargs.lr_multiplier;
  if (k.synthesis_kwargs && 'conv_clamp' in k.synthesis_kwargs) out.convClamp = k.synthesis_kwargs.conv_clamp ?? null;
  return out;
}

export function importNetwork(weightsFile: string, onnxPath: string, options: ImportOptions = {}): WrittenNetwork & { shape: GeneratorShape } {
  const wf = readWeightsFile(weightsFile);
  if ([...wf.dict.keys()].some((k) => k.startsWith('mapping.embed.'))) {
    throw new WeightsError(`tensor 'mapping.embed.weight' present: conditional generators are not supported`, weightsFile);
  }
  const meta = hyperParams(wf.metadata, weightsFile);
  const { mappingLrMultiplier, convClamp, ...build } = options;
  const known = {
    mappingLrMultiplier: mappingLrMultiplier ?? meta.mappingLrMultiplier,
    convClamp: convClamp !== undefined ? convClamp : meta.convClamp,
  };
  const shape = inferShape(wf.dict, known, weightsFile);
  let written: WrittenNetwork;
  try {
    written = writeNetwork(wf.dict, shape, onnxPath, { kind: wf.kind, file: weightsFile, hash: sha256(wf.bytes) }, build);
  } catch (err) {
    if (err instanceof WeightsError) throw new WeightsError(err.message, weightsFile);
    throw err;
  }
  return { ...written, shape };
}

export function buildRandomNetwork(shape: GeneratorShape, seed: number, onnxPath: string, options: Partial<BuildOptions> = {}): WrittenNetwork {
  const dict = randomStateDict(shape, seed);
  return writeNetwork(dict, shape, onnxPath, { kind: 'random', seed, hash: randomSourceHash(shape, seed) }, options);
}
