/**
 * Imports a trained stylegan2-ada-pytorch generator (state dict in safetensors or .npz) as
 * NAME.onnx + NAME.json, and builds seeded random networks the same way.
 */
import { inferShape, WeightsError } from './state-dict.ts';
import { readWeightsFile } from './weights-file.ts';
import { randomStateDict } from './random-weights.ts';
import { randomSourceHash, sha256, writeNetwork, type WrittenNetwork } from './network-file.ts';
import type { BuildOptions } from './generator.ts';
import { blockResolutions, channelsAt, type GeneratorShape } from './shape.ts';

export { readWeightsFile };

export interface ImportOptions extends Partial<BuildOptions> {
  /** Overrides what the file's metadata says (or the stylegan2-ada defaults: 0.01 and 256). */
  mappingLrMultiplier?: number;
  convClamp?: number | null;
}

/** The architecture G.init_kwargs declares (the fields it has; the rest default as in stylegan2-ada-pytorch). */
interface Declared {
  zDim?: number;
  wDim?: number;
  mappingLayers?: number;
  resolution?: number;
  imgChannels?: number;
  channelBase?: number;
  channelMax?: number;
}

interface HyperParams {
  mappingLrMultiplier?: number;
  convClamp?: number | null;
  declared: Declared;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * G.init_kwargs, when the dump stored it as safetensors metadata "init_kwargs": the hyper-parameters
 * that leave no trace in the weights, and the declared architecture the tensors must match.
 */
function hyperParams(metadata: Record<string, string>, file: string): HyperParams {
  const raw = metadata.init_kwargs;
  if (raw === undefined) return { declared: {} };
  const bad = (msg: string) => new WeightsError(`metadata 'init_kwargs': ${msg}`, file);
  if (typeof raw !== 'string') throw bad(`expected a JSON string (json.dumps(G.init_kwargs)), got ${typeof raw}`);
  let k: unknown;
  try {
    k = JSON.parse(raw);
  } catch (err) {
    throw new WeightsError(`metadata 'init_kwargs' is not JSON: ${(err as Error).message}`, file);
  }
  if (!isObject(k)) throw bad(`expected a JSON object (G.init_kwargs), got ${JSON.stringify(k)}`);
  const section = (name: string): Record<string, unknown> => {
    const v = k[name];
    if (v === undefined) return {};
    if (!isObject(v)) throw bad(`'${name}' must be an object, got ${JSON.stringify(v)}`);
    return v;
  };
  const mapping = section('mapping_kwargs');
  const synthesis = section('synthesis_kwargs');
  const int = (obj: Record<string, unknown>, key: string, path: string, min: number): number | undefined => {
    const v = obj[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw bad(`'${path}' must be an integer >= ${min}, got ${JSON.stringify(v)}`);
    return v;
  };
  const cDim = int(k, 'c_dim', 'c_dim', 0);
  if (cDim) throw new WeightsError(`conditional generators (c_dim=${cDim}) are not supported`, file);
  const arch = synthesis.architecture;
  if (arch !== undefined && arch !== 'skip') throw new WeightsError(`synthesis architecture '${String(arch)}' is not supported (only 'skip', stylegan2-ada's generator default)`, file);
  const out: HyperParams = {
    declared: {
      zDim: int(k, 'z_dim', 'z_dim', 1),
      wDim: int(k, 'w_dim', 'w_dim', 1),
      mappingLayers: int(mapping, 'num_layers', 'mapping_kwargs.num_layers', 1),
      resolution: int(k, 'img_resolution', 'img_resolution', 4),
      imgChannels: int(k, 'img_channels', 'img_channels', 1),
      channelBase: int(synthesis, 'channel_base', 'synthesis_kwargs.channel_base', 1),
      channelMax: int(synthesis, 'channel_max', 'synthesis_kwargs.channel_max', 1),
    },
  };
  const lr = mapping.lr_multiplier;
  if (lr !== undefined) {
    if (typeof lr !== 'number' || !(lr > 0)) throw bad(`'mapping_kwargs.lr_multiplier' must be a positive number, got ${JSON.stringify(lr)}`);
    out.mappingLrMultiplier = lr;
  }
  if ('conv_clamp' in synthesis) {
    const c = synthesis.conv_clamp;
    if (c !== null && (typeof c !== 'number' || !(c > 0))) throw bad(`'synthesis_kwargs.conv_clamp' must be a positive number or null, got ${JSON.stringify(c)}`);
    out.convClamp = c;
  }
  return out;
}

/**
 * Refuses tensors that contradict the architecture init_kwargs declares, naming the kwarg, the
 * tensor and both values. This is what catches a file missing its whole last mapping layer or its
 * top block: by their names alone those look like a smaller, complete network.
 */
export function checkDeclared(shape: GeneratorShape, d: Declared, file: string): void {
  const problems: string[] = [];
  const lastFc = `mapping.fc${shape.mappingLayers - 1}`;
  if (d.zDim !== undefined && d.zDim !== shape.zDim) {
    problems.push(`init_kwargs.z_dim is ${d.zDim} but tensor 'mapping.fc0.weight' takes ${shape.zDim} inputs`);
  }
  if (d.wDim !== undefined && d.wDim !== shape.wDim) {
    problems.push(`init_kwargs.w_dim is ${d.wDim} but tensor '${lastFc}.weight' gives ${shape.wDim} outputs`);
  }
  if (d.mappingLayers !== undefined && d.mappingLayers !== shape.mappingLayers) {
    const missing = d.mappingLayers > shape.mappingLayers ? ` (missing 'mapping.fc${shape.mappingLayers}.weight'${d.mappingLayers - shape.mappingLayers > 1 ? ` .. 'mapping.fc${d.mappingLayers - 1}.weight'` : ''})` : '';
    problems.push(`init_kwargs.mapping_kwargs.num_layers is ${d.mappingLayers} but the weights have ${shape.mappingLayers} mapping layers, fc0..fc${shape.mappingLayers - 1}${missing}`);
  }
  if (d.resolution !== undefined && d.resolution !== shape.resolution) {
    const missing = d.resolution > shape.resolution ? ` (missing block 'synthesis.b${shape.resolution * 2}'${d.resolution > shape.resolution * 2 ? ` .. 'synthesis.b${d.resolution}'` : ''})` : '';
    problems.push(`init_kwargs.img_resolution is ${d.resolution} but the deepest block is 'synthesis.b${shape.resolution}'${missing}`);
  }
  if (d.imgChannels !== undefined && d.imgChannels !== shape.imgChannels) {
    problems.push(`init_kwargs.img_channels is ${d.imgChannels} but tensor 'synthesis.b${shape.resolution}.torgb.weight' gives ${shape.imgChannels} channels`);
  }
  if (d.channelBase !== undefined || d.channelMax !== undefined) {
    // stylegan2-ada-pytorch's SynthesisNetwork: channels_dict = {res: min(channel_base // res, channel_max)}
    const base = d.channelBase ?? 32768;
    const max = d.channelMax ?? 512;
    for (const res of blockResolutions(shape)) {
      const want = Math.min(Math.floor(base / res), max);
      const got = channelsAt(shape, res);
      if (want !== got) {
        problems.push(`init_kwargs.synthesis_kwargs channel_base ${base} / channel_max ${max} give ${want} channels at ${res} px but tensor 'synthesis.b${res}.conv1.weight' has ${got}`);
      }
    }
  }
  if (problems.length > 0) throw new WeightsError(`the weights contradict metadata 'init_kwargs': ${problems.join('; ')}`, file);
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
  checkDeclared(shape, meta.declared, weightsFile);
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
