/**
 * Generator weights under stylegan2-ada-pytorch's state-dict names, what a network of a given
 * shape must contain, and the checks that turn a bad file into an error naming the tensor.
 */
import { checkShape, channelsAt, blockResolutions, isPowerOfTwo, synthesisLayers, type GeneratorShape } from './shape.ts';

export interface WeightTensor {
  shape: number[];
  data: Float32Array;
}

export type StateDict = Map<string, WeightTensor>;

export interface TensorSpec {
  name: string;
  shape: number[];
  /** Buffers the builder can do without (the FIR filter is fixed by the architecture). */
  optional?: boolean;
}

export class WeightsError extends Error {
  constructor(
    message: string,
    readonly file?: string,
  ) {
    super(file ? `${file}: ${message}` : message);
    this.name = 'WeightsError';
  }
}

const fmt = (shape: readonly number[]) => `[${shape.join(', ')}]`;

/** Every tensor a generator of this shape reads, with its expected shape. */
export function expectedTensors(shape: GeneratorShape): TensorSpec[] {
  const specs: TensorSpec[] = [];
  for (let i = 0; i < shape.mappingLayers; i++) {
    const inF = i === 0 ? shape.zDim : shape.wDim;
    specs.push({ name: `mapping.fc${i}.weight`, shape: [shape.wDim, inF] });
    specs.push({ name: `mapping.fc${i}.bias`, shape: [shape.wDim] });
  }
  specs.push({ name: 'mapping.w_avg', shape: [shape.wDim] });
  specs.push({ name: 'synthesis.b4.const', shape: [channelsAt(shape, 4), 4, 4] });
  for (const res of blockResolutions(shape)) {
    specs.push({ name: `synthesis.b${res}.resample_filter`, shape: [4, 4], optional: true });
  }
  for (const layer of synthesisLayers(shape)) {
    const p = layer.prefix;
    specs.push({ name: `${p}.affine.weight`, shape: [layer.inChannels, shape.wDim] });
    specs.push({ name: `${p}.affine.bias`, shape: [layer.inChannels] });
    const k = layer.kind === 'torgb' ? 1 : 3;
    specs.push({ name: `${p}.weight`, shape: [layer.outChannels, layer.inChannels, k, k] });
    specs.push({ name: `${p}.bias`, shape: [layer.outChannels] });
    if (layer.kind !== 'torgb') {
      specs.push({ name: `${p}.noise_strength`, shape: [] });
      specs.push({ name: `${p}.noise_const`, shape: [layer.resolution, layer.resolution] });
    }
    if (layer.kind === 'conv0') specs.push({ name: `${p}.resample_filter`, shape: [4, 4], optional: true });
  }
  return specs;
}

/** Throws a WeightsError listing every missing or mis-shaped tensor (not just the first). */
export function validateStateDict(dict: StateDict, shape: GeneratorShape, file?: string): void {
  const problems: string[] = [];
  for (const spec of expectedTensors(shape)) {
    const t = dict.get(spec.name);
    if (!t) {
      if (!spec.optional) problems.push(`missing tensor '${spec.name}' (expected shape ${fmt(spec.shape)})`);
      continue;
    }
    const same = t.shape.length === spec.shape.length && t.shape.every((d, i) => d === spec.shape[i]);
    if (!same) problems.push(`tensor '${spec.name}' has shape ${fmt(t.shape)}, expected ${fmt(spec.shape)}`);
    else if (t.data.length !== spec.shape.reduce((a, b) => a * b, 1)) {
      problems.push(`tensor '${spec.name}' holds ${t.data.length} values, shape ${fmt(spec.shape)} needs more`);
    } else if (!t.data.every(Number.isFinite)) {
      problems.push(`tensor '${spec.name}' contains NaN or infinite values`);
    }
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, 12).join('; ');
    const more = problems.length > 12 ? `; and ${problems.length - 12} more` : '';
    throw new WeightsError(`not a StyleGAN2 generator of the expected shape: ${shown}${more}`, file);
  }
}

export function getTensor(dict: StateDict, name: string): WeightTensor {
  const t = dict.get(name);
  if (!t) throw new WeightsError(`missing tensor '${name}'`);
  return t;
}

function need(dict: StateDict, name: string, rank: number, file?: string): number[] {
  const t = dict.get(name);
  if (!t) throw new WeightsError(`missing tensor '${name}': cannot tell the network's shape without it`, file);
  if (t.shape.length !== rank) {
    throw new WeightsError(`tensor '${name}' has shape ${fmt(t.shape)}, expected ${rank} dimensions`, file);
  }
  return t.shape;
}

/**
 * Reads the architecture off the tensors themselves (resolution from the deepest block, channel
 * counts from the conv weights, dims from the mapping layers). Hyper-parameters that leave no
 * trace in the weights (learning-rate multiplier, conv clamp) come from `known`.
 *
 * The names imply the architecture: mapping layers fc0..fcN-1 where N-1 is the highest index
 * present, and blocks b4..bRES where RES is the deepest block present. Every tensor of that
 * architecture must be there with its shape (validateStateDict); a gap is refused, naming the
 * missing tensors. (A file missing its whole last mapping layer or top block still looks like a
 * smaller network: only the declared architecture, init_kwargs, can tell; see import.ts.)
 */
export function inferShape(
  dict: StateDict,
  known: { mappingLrMultiplier?: number; convClamp?: number | null } = {},
  file?: string,
): GeneratorShape {
  let resolution = 0;
  let maxFc = -1;
  for (const key of dict.keys()) {
    const m = /^synthesis\.b(\d+)\./.exec(key);
    if (m) resolution = Math.max(resolution, Number(m[1]));
    const f = /^mapping\.fc(\d+)\./.exec(key);
    if (f) maxFc = Math.max(maxFc, Number(f[1]));
  }
  if (resolution === 0) throw new WeightsError(`no 'synthesis.b*' tensors: not a stylegan2-ada-pytorch generator state dict`, file);
  if (!isPowerOfTwo(resolution) || resolution < 4 || resolution > 1024) {
    throw new WeightsError(`deepest block 'synthesis.b${resolution}' is not a resolution of a StyleGAN2 generator (a power of two from 4 to 1024)`, file);
  }
  if (maxFc < 0) throw new WeightsError(`missing tensor 'mapping.fc0.weight' (the mapping network)`, file);
  const mappingLayers = maxFc + 1;
  const fc0 = need(dict, 'mapping.fc0.weight', 2, file);
  const fcLast = need(dict, `mapping.fc${mappingLayers - 1}.weight`, 2, file);
  const channels: Record<number, number> = {};
  const unknown: string[] = [];
  for (let res = 4; res <= resolution; res *= 2) {
    // conv1's weight says the block's channels; conv0's or torgb's do when it is missing (the
    // missing tensor is then reported by validateStateDict with the others)
    const p = `synthesis.b${res}`;
    const c = dict.get(`${p}.conv1.weight`)?.shape[0] ?? dict.get(`${p}.conv0.weight`)?.shape[0] ?? dict.get(`${p}.torgb.weight`)?.shape[1];
    if (c === undefined) unknown.push(`missing block '${p}' (no ${p}.conv1.weight, ${p}.conv0.weight or ${p}.torgb.weight), below the deepest block 'synthesis.b${resolution}'`);
    else channels[res] = c;
  }
  if (unknown.length > 0) throw new WeightsError(`not a StyleGAN2 generator: ${unknown.join('; ')}`, file);
  const torgb = dict.get(`synthesis.b${resolution}.torgb.weight`);
  const shape: GeneratorShape = {
    resolution,
    zDim: fc0[1]!,
    wDim: fcLast[0]!,
    mappingLayers,
    mappingLrMultiplier: known.mappingLrMultiplier ?? 0.01,
    channelBase: 0,
    channelMax: 0,
    channels,
    imgChannels: torgb && torgb.shape.length === 4 ? torgb.shape[0]! : 3,
    convClamp: known.convClamp === undefined ? 256 : known.convClamp,
  };
  // channelBase/channelMax are only used where channels are not explicit: record the largest.
  shape.channelMax = Math.max(...Object.values(channels));
  shape.channelBase = shape.channelMax * 4;
  try {
    checkShape(shape);
  } catch (err) {
    throw new WeightsError((err as Error).message, file);
  }
  validateStateDict(dict, shape, file);
  return shape;
}
