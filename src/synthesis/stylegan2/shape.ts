/**
 * The architecture parameters of a StyleGAN2 generator (stylegan2-ada-pytorch's Generator with
 * the 'skip' synthesis architecture), and the quantities derived from them.
 */

export interface GeneratorShape {
  /** Output resolution: a power of two from 4 to 1024. */
  resolution: number;
  zDim: number;
  wDim: number;
  /** Fully connected layers in the mapping network (8 in every published config). */
  mappingLayers: number;
  /** Learning-rate multiplier of the mapping layers; it scales their weights at run time. */
  mappingLrMultiplier: number;
  /** Feature maps per block: min(channelBase / res, channelMax), unless given per resolution. */
  channelBase: number;
  channelMax: number;
  /** Explicit channel counts per block resolution (an imported network's own counts). */
  channels?: Record<number, number>;
  imgChannels: number;
  /** Activations are clamped to +-convClamp after each conv (stylegan2-ada trains with 256); null: no clamp. */
  convClamp: number | null;
}

/** Config F of the StyleGAN2 paper as stylegan2-ada-pytorch builds it (30.4 M parameters at 1024 px). */
export function configF(resolution = 1024): GeneratorShape {
  return {
    resolution,
    zDim: 512,
    wDim: 512,
    mappingLayers: 8,
    mappingLrMultiplier: 0.01,
    channelBase: 32768,
    channelMax: 512,
    imgChannels: 3,
    convClamp: null,
  };
}

/** The bundled demo network: 64 px, few channels, so it runs anywhere in a few milliseconds. */
export function demoShape(): GeneratorShape {
  return {
    resolution: 64,
    zDim: 512,
    // w stays small so the file stays small (the mapping is most of the parameters)
    wDim: 128,
    mappingLayers: 8,
    mappingLrMultiplier: 0.01,
    channelBase: 1024,
    channelMax: 64,
    imgChannels: 3,
    convClamp: 256,
  };
}

export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

export function checkShape(shape: GeneratorShape): void {
  if (!isPowerOfTwo(shape.resolution) || shape.resolution < 4 || shape.resolution > 1024) {
    throw new Error(`resolution must be a power of two from 4 to 1024, got ${shape.resolution}`);
  }
  for (const key of ['zDim', 'wDim', 'mappingLayers', 'channelBase', 'channelMax', 'imgChannels'] as const) {
    const v = shape[key];
    if (!Number.isInteger(v) || v < 1) throw new Error(`${key} must be a positive integer, got ${v}`);
  }
  if (!(shape.mappingLrMultiplier > 0)) throw new Error(`mappingLrMultiplier must be > 0, got ${shape.mappingLrMultiplier}`);
  if (shape.convClamp !== null && !(shape.convClamp > 0)) throw new Error(`convClamp must be > 0 or null, got ${shape.convClamp}`);
}

/** Block resolutions 4, 8, ..., resolution. */
export function blockResolutions(shape: GeneratorShape): number[] {
  const out: number[] = [];
  for (let r = 4; r <= shape.resolution; r *= 2) out.push(r);
  return out;
}

export function channelsAt(shape: GeneratorShape, res: number): number {
  const explicit = shape.channels?.[res];
  if (explicit !== undefined) return explicit;
  return Math.min(Math.floor(shape.channelBase / res), shape.channelMax);
}

/** Number of w vectors the synthesis network consumes: one per conv layer, plus the last toRGB. */
export function numWs(shape: GeneratorShape): number {
  const blocks = blockResolutions(shape).length;
  return 1 + 2 * (blocks - 1) + 1;
}

/** One modulated layer of the synthesis network, in execution order. */
export interface LayerInfo {
  /** stylegan2-ada-pytorch module path, e.g. "synthesis.b8.conv0". */
  prefix: string;
  block: number;
  kind: 'conv0' | 'conv1' | 'torgb';
  inChannels: number;
  outChannels: number;
  /** Output resolution. */
  resolution: number;
  /** Index of the w vector this layer uses. */
  wIndex: number;
}

export function synthesisLayers(shape: GeneratorShape): LayerInfo[] {
  const layers: LayerInfo[] = [];
  let wIndex = 0;
  let prevChannels = 0;
  for (const res of blockResolutions(shape)) {
    const out = channelsAt(shape, res);
    const prefix = `synthesis.b${res}`;
    if (res === 4) {
      layers.push({ prefix: `${prefix}.conv1`, block: res, kind: 'conv1', inChannels: out, outChannels: out, resolution: res, wIndex });
      wIndex += 1;
    } else {
      layers.push({ prefix: `${prefix}.conv0`, block: res, kind: 'conv0', inChannels: prevChannels, outChannels: out, resolution: res, wIndex });
      layers.push({ prefix: `${prefix}.conv1`, block: res, kind: 'conv1', inChannels: out, outChannels: out, resolution: res, wIndex: wIndex + 1 });
      wIndex += 2;
    }
    // toRGB shares its w with the next block's first conv (stylegan2-ada-pytorch's w_idx).
    layers.push({ prefix: `${prefix}.torgb`, block: res, kind: 'torgb', inChannels: out, outChannels: shape.imgChannels, resolution: res, wIndex });
    prevChannels = out;
  }
  return layers;
}
