/**
 * What the WebGPU engine computes, read from a network's ONNX file and sidecar: the same tables
 * the graph holds (pre-scaled weights, folded gains, stacked affine and demodulation tables,
 * pre-scaled constant noise), rearranged for the kernels. Reading the graph's own initializers,
 * rather than recomputing them from a state dict, makes the engine compute the graph's function
 * with the same network files (a float16 graph's tables are widened to float32).
 */
import { readFileSync } from 'node:fs';
import { decodeModel } from '../onnx/graph.ts';
import { fromFloat16Array } from '../onnx/float16.ts';
import { synthesisLayers, type GeneratorShape, type LayerInfo } from '../stylegan2/shape.ts';
import type { NetworkSidecar } from '../stylegan2/sidecar.ts';

export class PlanError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = 'PlanError';
  }
}

interface Tensor {
  dims: number[];
  data: Float32Array;
}

interface GraphNode {
  opType: string;
  input: string[];
  output: string[];
  attribute?: Array<{ name: string; i?: number }>;
}

/** One dispatch of the conv GEMM: a plain 3x3 conv, or one phase of the stride-2 transposed conv. */
export interface ConvPass {
  /** (dy, dx) input offset per tap. */
  taps: Array<[number, number]>;
  /** [inC * taps, outC]: row (i * taps + t). */
  weights: Float32Array;
  /** Output grid of this pass and where it lands in the output tensor: (gy * sy + ry, gx * sx + rx). */
  gh: number;
  gw: number;
  sy: number;
  ry: number;
  rx: number;
}

export interface ConvLayerPlan {
  info: LayerInfo;
  /** Index among the conv layers (slot in the style and demod stacks). */
  slot: number;
  inRes: number;
  /** Size of the passes' output tensor: inRes for a plain conv, 2 * inRes + 1 before the FIR. */
  passRes: number;
  passes: ConvPass[];
  bias: Float32Array;
  /** conv0: the FIR as the graph's depthwise Conv holds it (4x4). */
  fir?: Float32Array;
  noiseConst?: Float32Array;
  noiseInput?: { name: string; strength: number };
}

export interface RgbLayerPlan {
  info: LayerInfo;
  slot: number;
  weight: Float32Array; // [imgC, inC]
  bias: Float32Array;
  /** Up-sampling kernel of the previous skip image (4x4, transposed-conv layout); absent at 4 px. */
  up?: Float32Array;
}

export interface EnginePlan {
  file: string;
  shape: GeneratorShape;
  input: 'z' | 'w';
  /** Input names by role, as the sidecar declares them. */
  latentName: string;
  psiName?: string;
  outputs: Array<{ name: string; role: 'frames' | 'image' }>;
  mapping?: { layers: Array<{ wt: Float32Array; b: Float32Array; inF: number; outF: number }>; wAvg: Float32Array };
  numWs: number;
  Lc: number;
  Lr: number;
  P: number;
  Q: number;
  affineConv: { A: Float32Array; B: Float32Array };
  affineRgb: { A: Float32Array; B: Float32Array };
  demod: Float32Array;
  convWIdx: Uint32Array;
  rgbWIdx: Uint32Array;
  const4: Float32Array;
  convs: ConvLayerPlan[];
  rgbs: RgbLayerPlan[];
  clamp: number | null;
  /** Multiply-adds per image of the conv GEMMs (the bulk of the work), for throughput figures. */
  macsPerImage: number;
}

function toFloat32(file: string, t: { name: string; dataType: number; rawData?: Buffer; floatData?: number[]; int64Data?: number[] }): Float32Array {
  const raw = t.rawData ?? Buffer.alloc(0);
  const copy = new Uint8Array(raw.byteLength);
  copy.set(raw);
  switch (t.dataType) {
    case 1:
      return raw.byteLength > 0 ? new Float32Array(copy.buffer) : Float32Array.from(t.floatData ?? []);
    case 10:
      return fromFloat16Array(new Uint16Array(copy.buffer));
    case 7:
      return raw.byteLength > 0 ? Float32Array.from(new BigInt64Array(copy.buffer), Number) : Float32Array.from(t.int64Data ?? []);
    default:
      throw new PlanError(file, `initializer '${t.name}' has ONNX data type ${t.dataType}; the WebGPU engine reads float32, float16 and int64`);
  }
}

export function shapeOf(sc: NetworkSidecar): GeneratorShape {
  const channels: Record<number, number> = {};
  for (const [k, v] of Object.entries(sc.channels)) channels[Number(k)] = v;
  return {
    resolution: sc.resolution,
    zDim: sc.zDim,
    wDim: sc.wDim,
    mappingLayers: sc.mappingLayers,
    mappingLrMultiplier: sc.mappingLrMultiplier,
    channelBase: 0,
    channelMax: 0,
    channels,
    imgChannels: sc.imgChannels,
    convClamp: sc.convClamp,
  };
}

/** Taps of phase r of the 1-D stride-2 transposed 3x3 conv: t[2m + r] = sum x[m + d] k[idx]. */
const PHASE_TAPS: Array<Array<[number, number]>> = [
  [
    [0, 0],
    [-1, 2],
  ],
  [[0, 1]],
];

export function buildPlan(onnxPath: string, sc: NetworkSidecar): EnginePlan {
  const file = onnxPath;
  if (sc.output.resize !== 'none') throw new PlanError(file, `the WebGPU engine renders at the network's resolution; this network resizes its frames (output.resize "${sc.output.resize}")`);
  if (sc.builder.upsample !== 'transpose') throw new PlanError(file, `the WebGPU engine reads networks built with upsample "transpose"; this one has "${sc.builder.upsample}"`);
  if (sc.imgChannels > 4) throw new PlanError(file, `imgChannels ${sc.imgChannels}: the WebGPU engine handles at most 4`);
  const model = decodeModel(readFileSync(onnxPath)) as { graph: { initializer: Array<{ name: string; dims?: number[]; dataType: number; rawData?: Buffer }>; node: GraphNode[] } };
  const inits = new Map<string, Tensor>();
  for (const t of model.graph.initializer) inits.set(t.name, { dims: (t.dims ?? []).map(Number), data: toFloat32(file, t) });
  const nodes = model.graph.node;
  const get = (name: string, numel?: number): Float32Array => {
    const t = inits.get(name);
    if (!t) throw new PlanError(file, `initializer '${name}' is missing: not a graph gance built`);
    if (numel !== undefined && t.data.length !== numel) throw new PlanError(file, `initializer '${name}' has ${t.data.length} values, expected ${numel}`);
    return t.data;
  };

  const shape = shapeOf(sc);
  const layers = synthesisLayers(shape);
  const convLayers = layers.filter((l) => l.kind !== 'torgb');
  const rgbLayers = layers.filter((l) => l.kind === 'torgb');
  const P = Math.max(...layers.map((l) => l.inChannels));
  const Q = Math.max(...convLayers.map((l) => l.outChannels));
  const Lc = convLayers.length;
  const Lr = rgbLayers.length;
  const wDim = sc.wDim;
  const C = sc.imgChannels;

  const latent = sc.inputs.find((i) => i.role === 'latent');
  if (!latent) throw new PlanError(file, 'the sidecar declares no latent input');
  const input: 'z' | 'w' = latent.shape.length === 3 ? 'w' : 'z';
  const psi = sc.inputs.find((i) => i.role === 'psi');

  let mapping: EnginePlan['mapping'];
  if (input === 'z') {
    const mlayers = [];
    for (let i = 0; i < sc.mappingLayers; i++) {
      const inF = i === 0 ? sc.zDim : wDim;
      mlayers.push({ wt: get(`mapping.fc${i}.wt`, inF * wDim), b: get(`mapping.fc${i}.b`, wDim), inF, outF: wDim });
    }
    mapping = { layers: mlayers, wAvg: get('mapping.w_avg', wDim) };
  }

  const noiseStrength = (name: string): number => {
    // the input feeds Mul(input, strength), through a Cast in float16 graphs
    let value = name;
    for (let hop = 0; hop < 3; hop++) {
      const user = nodes.find((n) => n.input.includes(value));
      if (!user) break;
      if (user.opType === 'Cast') {
        value = user.output[0]!;
        continue;
      }
      if (user.opType === 'Mul') {
        const other = user.input.find((i) => i !== value);
        const t = other !== undefined ? inits.get(other) : undefined;
        if (t && t.data.length === 1) return t.data[0]!;
      }
      break;
    }
    throw new PlanError(file, `noise input '${name}': no constant strength found in the graph`);
  };

  const clampNone = sc.convClamp === null;
  let macs = 0;
  const convs: ConvLayerPlan[] = convLayers.map((l, slot) => {
    const I = l.inChannels;
    const O = l.outChannels;
    const inRes = l.kind === 'conv0' ? l.resolution / 2 : l.resolution;
    const bias = get(`${l.prefix}.bias`, O);
    let passes: ConvPass[];
    let passRes = inRes;
    let fir: Float32Array | undefined;
    if (l.kind === 'conv1') {
      const w = get(`${l.prefix}.weight`, O * I * 9);
      const wt = new Float32Array(I * 9 * O);
      for (let o = 0; o < O; o++) for (let i = 0; i < I; i++) for (let t = 0; t < 9; t++) wt[(i * 9 + t) * O + o] = w[(o * I + i) * 9 + t]!;
      const taps: Array<[number, number]> = [];
      for (let ky = 0; ky < 3; ky++) for (let kx = 0; kx < 3; kx++) taps.push([ky - 1, kx - 1]);
      passes = [{ taps, weights: wt, gh: inRes, gw: inRes, sy: 1, ry: 0, rx: 0 }];
      macs += O * I * 9 * inRes * inRes;
    } else {
      const w = get(`${l.prefix}.weight_t`, I * O * 9); // [I, O, 3, 3]
      passRes = 2 * inRes + 1;
      passes = [];
      for (let ry = 0; ry < 2; ry++)
        for (let rx = 0; rx < 2; rx++) {
          const taps: Array<[number, number]> = [];
          const idx: Array<[number, number]> = [];
          for (const [dy, ky] of PHASE_TAPS[ry]!)
            for (const [dx, kx] of PHASE_TAPS[rx]!) {
              taps.push([dy, dx]);
              idx.push([ky, kx]);
            }
          const T = taps.length;
          const wt = new Float32Array(I * T * O);
          for (let i = 0; i < I; i++)
            for (let o = 0; o < O; o++)
              idx.forEach(([ky, kx], t) => {
                wt[(i * T + t) * O + o] = w[((i * O + o) * 3 + ky) * 3 + kx]!;
              });
          const g = ry === 0 ? inRes + 1 : inRes;
          const gw = rx === 0 ? inRes + 1 : inRes;
          passes.push({ taps, weights: wt, gh: g, gw, sy: 2, ry, rx });
          macs += O * I * T * g * gw;
        }
      const f = get(`${l.prefix}.fir`, O * 16);
      for (let k = 16; k < f.length; k++) if (f[k] !== f[k % 16]) throw new PlanError(file, `${l.prefix}.fir differs between channels; the WebGPU engine takes one filter per layer`);
      fir = f.slice(0, 16);
    }
    const plan: ConvLayerPlan = { info: l, slot, inRes, passRes, passes, bias };
    if (fir) plan.fir = fir;
    if (sc.noise === 'const') plan.noiseConst = get(`${l.prefix}.noise`, l.resolution * l.resolution);
    else if (sc.noise === 'input') {
      const ni = sc.inputs.find((i) => i.role === 'noise' && i.layer === l.prefix);
      if (!ni) throw new PlanError(file, `no noise input declared for ${l.prefix}`);
      plan.noiseInput = { name: ni.name, strength: noiseStrength(ni.name) };
    }
    return plan;
  });

  // the skip image's up-sampling kernels, one per block from 8 px, in graph order
  const ups = nodes
    .filter((n) => n.opType === 'ConvTranspose' && (n.attribute ?? []).some((a) => a.name === 'group' && Number(a.i) === C))
    .map((n) => get(n.input[1]!, C * 16));
  if (ups.length !== rgbLayers.length - 1) throw new PlanError(file, `expected ${rgbLayers.length - 1} skip up-sampling nodes, found ${ups.length}`);
  const rgbs: RgbLayerPlan[] = rgbLayers.map((l, slot) => {
    const plan: RgbLayerPlan = { info: l, slot, weight: get(`${l.prefix}.weight`, C * l.inChannels), bias: get(`${l.prefix}.bias`, C) };
    if (slot > 0) plan.up = ups[slot - 1]!.slice(0, 16);
    return plan;
  });

  const frames = sc.outputs.filter((o) => o.role === 'frames' || o.role === 'image').map((o) => ({ name: o.name, role: o.role as 'frames' | 'image' }));
  const plan: EnginePlan = {
    file,
    shape,
    input,
    latentName: latent.name,
    outputs: frames,
    numWs: sc.numWs,
    Lc,
    Lr,
    P,
    Q,
    affineConv: { A: get('synthesis.affine.conv', Lc * wDim * P), B: get('synthesis.affine.conv_b', Lc * P) },
    affineRgb: { A: get('synthesis.affine.rgb', Lr * wDim * P), B: get('synthesis.affine.rgb_b', Lr * P) },
    demod: get('synthesis.demod', Lc * P * Q),
    convWIdx: Uint32Array.from(convLayers, (l) => (input === 'w' ? l.wIndex : 0)),
    rgbWIdx: Uint32Array.from(rgbLayers, (l) => (input === 'w' ? l.wIndex : 0)),
    const4: get('synthesis.b4.const', layers[0]!.inChannels * 16),
    convs,
    rgbs,
    clamp: clampNone ? null : sc.convClamp,
    macsPerImage: macs,
  };
  if (psi) plan.psiName = psi.name;
  if (mapping) plan.mapping = mapping;
  return plan;
}
