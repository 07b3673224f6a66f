/**
 * Builds a StyleGAN2 generator (stylegan2-ada-pytorch's Generator, 'skip' architecture) as an
 * ONNX graph from a state dict. Weights stay static initializers: the per-sample style scales
 * the activations (or, with `modulation: 'weight'` at batch 1, a modulated copy of the weights
 * is made in the graph each run), and demodulation is a per-sample, per-channel scale computed
 * from a static table of squared weight sums.
 *
 * GPU providers pay a fixed cost per node, so the graph is built for few nodes: the styles and
 * demodulation factors of all layers are computed together on padded [layers, channels] stacks
 * (a handful of nodes for the whole network), each layer slices its own, and sqrt(2) gains,
 * weight pre-scaling and biases are folded into initializers or into the conv. The small vector
 * work runs in float32; the image path runs in the chosen dtype.
 */
import { OnnxGraph, float, int, ints, str, type DType } from './../onnx/graph.ts';
import { blockResolutions, channelsAt, checkShape, numWs, synthesisLayers, type GeneratorShape, type LayerInfo } from './shape.ts';
import { getTensor, validateStateDict, type StateDict } from './state-dict.ts';
import { defaultResampleFilter } from './random-weights.ts';
import { firDepthwise, fusedUpsampleWeights, imageUpsampleSubpixel, imageUpsampleTranspose, subpixelWeights, transposeOI } from './kernels.ts';
import type { TensorContract } from './sidecar.ts';

export type Modulation = 'activation' | 'weight';
export type Upsample = 'transpose' | 'subpixel' | 'fused';
export type OutputKind = 'frames' | 'image';

export interface BuildOptions {
  /** Precision inside the graph (inputs and outputs keep the contract's dtypes). */
  dtype: 'float32' | 'float16';
  /** z [N, zDim] with the mapping network and truncation in the graph, or w [N, numWs, wDim]. */
  input: 'z' | 'w';
  /** 'const': the network's noise_const buffers; 'input': one input per conv layer; 'none': no noise. */
  noise: 'const' | 'input' | 'none';
  outputs: OutputKind[];
  /** In-graph resize of the frames output. */
  resize?: { width: number; height: number; mode: 'linear' | 'cubic' | 'nearest' };
  modulation: Modulation;
  upsample: Upsample;
  /** Fixed batch size, or null for any. Modulation 'weight' needs 1 (the weights are made per sample). */
  batch: number | null;
  /** Recorded in the sidecar as the intended psi. */
  truncationPsi: number;
}

export const DEFAULT_BUILD: BuildOptions = {
  dtype: 'float32',
  input: 'z',
  noise: 'const',
  outputs: ['frames'],
  modulation: 'activation',
  upsample: 'transpose',
  batch: null,
  truncationPsi: 1,
};

export interface BuiltGenerator {
  onnx: Uint8Array;
  inputs: TensorContract[];
  outputs: TensorContract[];
  numWs: number;
  output: { width: number; height: number; resize: 'none' | 'linear' | 'cubic' | 'nearest' };
  parameters: number;
  opCounts: Record<string, number>;
  /** Names of the small-vector nodes (mapping, styles, demod): pass them as WebGPU's forceCpuNodeNames. */
  hostNodes: string[];
}

export const OPSET = 17;
/** Node-name prefix of the small-vector part (mapping, styles, demod) meant for the host. */
export const HOST_SCOPE = 'host';
/** WebGPU binds at most 16 storage buffers per shader: Split nodes get at most 14 outputs. */
export const MAX_SPLIT_OUTPUTS = 14;
const CAST_TO: Record<'float32' | 'float16', number> = { float32: 1, float16: 10 };

/** Noise input name of a conv layer ("noise_b8_conv0"). */
export function noiseInputName(layer: LayerInfo): string {
  return `noise_${layer.prefix.replace(/^synthesis\./, '').replace(/\./g, '_')}`;
}

export function buildGenerator(dict: StateDict, shape: GeneratorShape, options: Partial<BuildOptions> = {}): BuiltGenerator {
  const opt: BuildOptions = { ...DEFAULT_BUILD, ...options };
  checkShape(shape);
  validateStateDict(dict, shape);
  if (opt.outputs.length === 0) throw new Error('outputs: at least one of frames, image');
  if (opt.modulation === 'weight' && opt.batch !== 1) throw new Error("modulation 'weight' makes the weights per sample: it needs batch 1");
  if (opt.batch !== null && !(Number.isInteger(opt.batch) && opt.batch >= 1)) throw new Error(`batch must be a positive integer or null, got ${opt.batch}`);
  const b = new GeneratorGraph(dict, shape, opt);
  return b.build();
}

class GeneratorGraph {
  readonly g: OnnxGraph;
  readonly act: 'float32' | 'float16';
  readonly N: number | string;
  private readonly cache = new Map<string, string>();
  private readonly convLayers: LayerInfo[];
  private readonly rgbLayers: LayerInfo[];
  /** Padded widths of the style (in-channel) and demod (out-channel) stacks. */
  private readonly P: number;
  private readonly Q: number;
  /** Per-layer slices of the style/demod stacks (index = conv or rgb slot), made by one Split per stack. */
  private bank!: { s: string[]; d: string[]; rgb: string[]; sRows?: string[]; dCols?: string[] };

  constructor(
    readonly dict: StateDict,
    readonly shape: GeneratorShape,
    readonly opt: BuildOptions,
  ) {
    this.g = new OnnxGraph('stylegan2_generator');
    this.act = opt.dtype;
    this.N = opt.batch ?? 'N';
    const layers = synthesisLayers(shape);
    this.convLayers = layers.filter((l) => l.kind !== 'torgb');
    this.rgbLayers = layers.filter((l) => l.kind === 'torgb');
    this.P = Math.max(...layers.map((l) => l.inChannels));
    this.Q = Math.max(...this.convLayers.map((l) => l.outChannels));
  }

  private t(name: string): Float32Array {
    return getTensor(this.dict, name).data;
  }

  /** Shared small constants (one initializer per distinct value). */
  private constOf(dtype: DType, dims: number[], values: number[], stem = 'c'): string {
    const key = `${dtype}|${dims.join(',')}|${values.join(',')}`;
    let name = this.cache.get(key);
    if (!name) {
      name = this.g.initializer(stem, dtype, dims, values);
      this.cache.set(key, name);
    }
    return name;
  }

  private i64(values: number[]): string {
    return this.constOf('int64', [values.length], values, 'shape');
  }

  private castAct(x: string): string {
    return this.act === 'float32' ? x : this.g.node('Cast', [x], { to: int(CAST_TO[this.act]) });
  }

  build(): BuiltGenerator {
    const { g, shape, opt } = this;
    const inputs: TensorContract[] = [];
    const nWs = numWs(shape);
    // mapping, styles and demod factors are small vectors: GPU providers should run them on the host
    g.inScope(HOST_SCOPE, () => this.styleBank(inputs, nWs));
    this.splitBanks();

    const noiseIn = new Map<string, string>();
    if (opt.noise === 'input') {
      for (const l of this.convLayers) {
        const name = noiseInputName(l);
        g.input(name, 'float32', [this.N, 1, l.resolution, l.resolution]);
        inputs.push({ name, role: 'noise', dtype: 'float32', shape: [this.N, 1, l.resolution, l.resolution], layer: l.prefix });
        noiseIn.set(l.prefix, name);
      }
    }

    // The const input is [1, C, 4, 4]; the first layer's modulation broadcasts it to the batch.
    let x = g.initializer('synthesis.b4.const', this.act, [1, channelsAt(shape, 4), 4, 4], this.t('synthesis.b4.const'));
    let img: string | undefined;
    for (const res of blockResolutions(shape)) {
      for (const l of this.convLayers.filter((q) => q.block === res)) x = this.modConv(x, l, noiseIn.get(l.prefix));
      const rgb = this.rgbLayers.find((q) => q.block === res)!;
      const y = this.toRGB(x, rgb);
      img = img === undefined ? y : g.node('Add', [this.upsampleImage(img, res / 2), y]);
    }
    if (!img) throw new Error('no toRGB layer');
    return this.outputs(img, inputs, nWs);
  }

  /**
   * Declares the latent inputs and computes, for all layers at once, the styles (padded to P
   * per layer) and the demodulation factors (padded to Q, with lrelu's sqrt(2) folded in).
   */
  private styleBank(inputs: TensorContract[], nWs: number): void {
    const { g, shape, opt, P, Q } = this;
    const wDim = shape.wDim;
    const Lc = this.convLayers.length;
    const Lr = this.rgbLayers.length;

    // affine: FullyConnectedLayer(w_dim, in, bias_init=1), weight gain 1/sqrt(w_dim); toRGB styles also take 1/sqrt(in)
    const affineStack = (layers: LayerInfo[]) => {
      const A = new Float32Array(layers.length * wDim * P);
      const B = new Float32Array(layers.length * P);
      layers.forEach((l, li) => {
        const a = this.t(`${l.prefix}.affine.weight`);
        const ab = this.t(`${l.prefix}.affine.bias`);
        const extra = l.kind === 'torgb' ? 1 / Math.sqrt(l.inChannels) : 1;
        const gain = extra / Math.sqrt(wDim);
        for (let i = 0; i < l.inChannels; i++) {
          for (let k = 0; k < wDim; k++) A[(li * wDim + k) * P + i] = a[i * wDim + k]! * gain;
          B[li * P + i] = ab[i]! * extra;
        }
      });
      return { A, B };
    };

    // w per layer as [N, L, 1, wDim] (z: one w broadcast over layers; w: gathered by index)
    let wConv: string;
    let wRgb: string;
    if (opt.input === 'w') {
      const w = g.input('w', 'float32', [this.N, nWs, wDim]);
      inputs.push({ name: 'w', role: 'latent', dtype: 'float32', shape: [this.N, nWs, wDim] });
      const pick = (layers: LayerInfo[]) =>
        g.node('Unsqueeze', [g.node('Gather', [w, g.initializer('w_index', 'int64', [layers.length], layers.map((l) => l.wIndex))], { axis: int(1) }), this.i64([2])]);
      wConv = pick(this.convLayers);
      wRgb = pick(this.rgbLayers);
    } else {
      const w = this.mapping(inputs);
      wConv = wRgb = g.node('Unsqueeze', [w, this.i64([1, 2])]);
    }

    const conv = affineStack(this.convLayers);
    let s = g.node('Add', [
      g.node('MatMul', [wConv, g.initializer('synthesis.affine.conv', 'float32', [Lc, wDim, P], conv.A)]),
      g.initializer('synthesis.affine.conv_b', 'float32', [Lc, 1, P], conv.B),
    ]); // [N, Lc, 1, P]
    if (opt.modulation === 'activation') {
      // styles scale activations: normalize by max |s| per layer (fp16 range; demod cancels it exactly)
      s = g.node('Div', [s, g.node('ReduceMax', [g.node('Abs', [s])], { axes: ints([3]), keepdims: int(1) })]);
    }
    // demod (with sqrt2): sqrt2 * rsqrt(sum s^2 w^2 + 1e-8) = rsqrt(sum s^2 (w^2/2) + 0.5e-8)
    const W2 = new Float32Array(Lc * P * Q);
    this.convLayers.forEach((l, li) => {
      const ws = this.scaledWeight(l);
      const I = l.inChannels;
      for (let o = 0; o < l.outChannels; o++)
        for (let i = 0; i < I; i++) {
          let acc = 0;
          for (let k = 0; k < 9; k++) acc += ws[(o * I + i) * 9 + k]! ** 2;
          W2[(li * P + i) * Q + o] = acc / 2;
        }
    });
    const q = g.node('MatMul', [g.node('Mul', [s, s]), g.initializer('synthesis.demod', 'float32', [Lc, P, Q], W2)]);
    const d = g.node('Reciprocal', [g.node('Sqrt', [g.node('Add', [q, this.constOf('float32', [], [0.5e-8])])])]); // [N, Lc, 1, Q]

    const rgb = affineStack(this.rgbLayers);
    const r = g.node('Add', [
      g.node('MatMul', [wRgb, g.initializer('synthesis.affine.rgb', 'float32', [Lr, wDim, P], rgb.A)]),
      g.initializer('synthesis.affine.rgb_b', 'float32', [Lr, 1, P], rgb.B),
    ]);

    const sh = this.castAct(s);
    const dh = this.castAct(d);
    const rh = this.castAct(r);
    if (opt.modulation === 'activation') {
      // [N, L*P, 1, 1]: each layer takes its channels on axis 1 and scales activations with them
      const flat = (x: string) => g.node('Reshape', [x, this.i64([0, -1, 1, 1])]);
      this.stacks = { s: flat(sh), d: flat(dh), rgb: flat(rh) };
    } else {
      // batch 1: conv weights [O, I, k, k] take s on axis 1 and d on axis 0; transposed ones the other way
      const cols = (x: string) => g.node('Reshape', [x, this.i64([1, -1, 1, 1])]);
      const rows = (x: string) => g.node('Reshape', [x, this.i64([-1, 1, 1, 1])]);
      this.stacks = { s: cols(sh), d: rows(dh), rgb: cols(rh) };
      if (opt.upsample === 'transpose') {
        this.stacks.sRows = rows(sh);
        this.stacks.dCols = cols(dh);
      }
    }
  }

  private stacks!: { s: string; d: string; rgb: string; sRows?: string; dCols?: string };

  private readonly splitCache = new Map<string, string[]>();

  /**
   * Split into `sizes` along `axis` with at most MAX_SPLIT_OUTPUTS outputs per node (a WebGPU
   * shader binds at most 16 storage buffers (one input, the outputs), kept with a margin): a first Split into
   * groups, then one per group.
   */
  private splitChunked(x: string, sizes: number[], axis: number): string[] {
    const key = `${x}|${axis}|${sizes.join(',')}`;
    const hit = this.splitCache.get(key);
    if (hit) return hit;
    const { g } = this;
    let out: string[];
    if (sizes.length === 1) out = [x];
    else if (sizes.length <= MAX_SPLIT_OUTPUTS) out = g.nodeN('Split', [x, this.i64(sizes)], { axis: int(axis) }, sizes.length);
    else {
      const groups: number[][] = [];
      for (let i = 0; i < sizes.length; i += MAX_SPLIT_OUTPUTS) groups.push(sizes.slice(i, i + MAX_SPLIT_OUTPUTS));
      if (groups.length > MAX_SPLIT_OUTPUTS) throw new Error(`too many layers to split (${sizes.length})`);
      const parts = g.nodeN('Split', [x, this.i64(groups.map((q) => q.reduce((a, b) => a + b, 0)))], { axis: int(axis) }, groups.length);
      out = groups.flatMap((q, gi) => this.splitChunked(parts[gi]!, q, axis));
    }
    this.splitCache.set(key, out);
    return out;
  }

  /** One Split per stack (chunked) gives every layer its slice, instead of one Slice node per layer. */
  private splitBanks(): void {
    const { P, Q, opt } = this;
    const split = (stack: string, layers: LayerInfo[], width: number, count: (l: LayerInfo) => number, axis: number): string[] => {
      const sizes: number[] = [];
      const pick: number[] = [];
      for (const l of layers) {
        pick.push(sizes.length);
        sizes.push(count(l));
        if (width - count(l) > 0) sizes.push(width - count(l));
      }
      return pick.map((i) => this.splitChunked(stack, sizes, axis)[i]!);
    };
    const inC = (l: LayerInfo) => l.inChannels;
    const outC = (l: LayerInfo) => l.outChannels;
    const act = opt.modulation === 'activation';
    this.bank = {
      s: split(this.stacks.s, this.convLayers, P, inC, 1),
      d: split(this.stacks.d, this.convLayers, Q, outC, act ? 1 : 0),
      rgb: split(this.stacks.rgb, this.rgbLayers, P, inC, 1),
    };
    if (this.stacks.sRows) this.bank.sRows = split(this.stacks.sRows, this.convLayers, P, inC, 0);
    if (this.stacks.dCols) this.bank.dCols = split(this.stacks.dCols, this.convLayers, Q, outC, 1);
  }

  /** Mapping network and truncation: z [N, zDim], psi [N] -> w [N, wDim]. */
  private mapping(inputs: TensorContract[]): string {
    const { g, shape } = this;
    const wDim = shape.wDim;
    const z = g.input('z', 'float32', [this.N, shape.zDim]);
    const psi = g.input('psi', 'float32', [this.N]);
    inputs.push({ name: 'z', role: 'latent', dtype: 'float32', shape: [this.N, shape.zDim] });
    inputs.push({ name: 'psi', role: 'psi', dtype: 'float32', shape: [this.N] });
    // normalize_2nd_moment
    const ms = g.node('ReduceMean', [g.node('Mul', [z, z])], { axes: ints([1]), keepdims: int(1) });
    let x = g.node('Div', [z, g.node('Sqrt', [g.node('Add', [ms, this.constOf('float32', [], [1e-8])])])]);
    const lr = shape.mappingLrMultiplier;
    for (let i = 0; i < shape.mappingLayers; i++) {
      const w = this.t(`mapping.fc${i}.weight`);
      const bias = this.t(`mapping.fc${i}.bias`);
      const inF = i === 0 ? shape.zDim : wDim;
      // equalized lr (gain lr/sqrt(in), bias gain lr) and lrelu's sqrt(2) folded in: lrelu(a*x) = a*lrelu(x), a > 0
      const gain = (lr / Math.sqrt(inF)) * Math.SQRT2;
      const wt = new Float32Array(inF * wDim);
      for (let o = 0; o < wDim; o++) for (let k = 0; k < inF; k++) wt[k * wDim + o] = w[o * inF + k]! * gain;
      const bt = Float32Array.from(bias, (v) => v * lr * Math.SQRT2);
      x = g.node('Gemm', [x, g.initializer(`mapping.fc${i}.wt`, 'float32', [inF, wDim], wt), g.initializer(`mapping.fc${i}.b`, 'float32', [wDim], bt)]);
      x = g.node('LeakyRelu', [x], { alpha: float(0.2) });
    }
    // truncation: w_avg + psi * (w - w_avg)
    const wAvg = g.initializer('mapping.w_avg', 'float32', [1, wDim], this.t('mapping.w_avg'));
    const psi2 = g.node('Unsqueeze', [psi, this.i64([1])]);
    return g.node('Add', [wAvg, g.node('Mul', [psi2, g.node('Sub', [x, wAvg])])]);
  }

  /** Weight pre-scaling (stylegan2-ada's fp16 path): per output channel to max |w| = 1/sqrt(fan-in). Demod makes it exact. */
  private scaledWeight(l: LayerInfo): Float32Array {
    const w = this.t(`${l.prefix}.weight`);
    const per = l.inChannels * 9;
    const out = new Float32Array(w.length);
    for (let o = 0; o < l.outChannels; o++) {
      let m = 0;
      for (let k = 0; k < per; k++) m = Math.max(m, Math.abs(w[o * per + k]!));
      const c = m > 0 ? 1 / (Math.sqrt(per) * m) : 1;
      for (let k = 0; k < per; k++) out[o * per + k] = w[o * per + k]! * c;
    }
    return out;
  }


  /** Modulated, demodulated 3x3 conv (+ up-sampling for conv0), noise, bias, lrelu*sqrt2, clamp. */
  private modConv(x: string, l: LayerInfo, noiseInput: string | undefined): string {
    const { g, opt, shape } = this;
    const I = l.inChannels;
    const O = l.outChannels;
    const slot = this.convLayers.indexOf(l);
    const ws = this.scaledWeight(l);
    const bias = Float32Array.from(this.t(`${l.prefix}.bias`), (v) => v * Math.SQRT2);
    const up = l.kind === 'conv0';
    const fir = this.dict.get(`${l.prefix}.resample_filter`)?.data ?? defaultResampleFilter();
    const pads = ints([1, 1, 1, 1]);
    const conv = (input: string, weight: string, withBias: boolean) =>
      g.node('Conv', withBias ? [input, weight, g.initializer(`${l.prefix}.bias`, this.act, [O], bias)] : [input, weight], { pads });

    let y: string;
    let biasDone = false;
    if (opt.modulation === 'activation') {
      const xm = g.node('Mul', [x, this.bank.s[slot]!]);
      const dl = this.bank.d[slot]!;
      if (!up) y = conv(xm, g.initializer(`${l.prefix}.weight`, this.act, [O, I, 3, 3], ws), false);
      else y = this.upConv(xm, ws, I, O, fir, l.prefix);
      y = g.node('Mul', [y, dl]);
    } else {
      // batch 1: weight * style (per input channel) * demod (per output channel), made each run
      const sl = () => this.bank.s[slot]!; // [1, I, 1, 1]
      const dl = () => this.bank.d[slot]!; // [O, 1, 1, 1]
      if (!up) {
        const wn = g.node('Mul', [g.node('Mul', [g.initializer(`${l.prefix}.weight`, this.act, [O, I, 3, 3], ws), sl()]), dl()]);
        y = conv(x, wn, true);
        biasDone = true;
      } else if (opt.upsample === 'transpose') {
        // ConvTranspose weight [I, O, 3, 3]; demod commutes with the FIR, the bias rides on the FIR conv
        const sr = this.bank.sRows![slot]!;
        const dc = this.bank.dCols![slot]!;
        const wn = g.node('Mul', [g.node('Mul', [g.initializer(`${l.prefix}.weight_t`, this.act, [I, O, 3, 3], transposeOI(ws, O, I, 3)), sr]), dc]);
        const t = g.node('ConvTranspose', [x, wn], { strides: ints([2, 2]) });
        y = this.fir(t, O, fir, [1, 1, 1, 1], l.prefix, bias);
        biasDone = true;
      } else {
        // phase-major weights [4O, I, k, k] viewed as [O, 4I, k, k] for the per-output demod
        const k = opt.upsample === 'fused' ? 3 : 2;
        const base = opt.upsample === 'fused' ? fusedUpsampleWeights(ws, O, I, fir) : subpixelWeights(ws, O, I);
        const ms = g.node('Mul', [g.initializer(`${l.prefix}.weight_${opt.upsample}`, this.act, [4 * O, I, k, k], base), sl()]);
        const md = g.node('Mul', [g.node('Reshape', [ms, this.i64([O, 4 * I, k, k])]), dl()]);
        const wn = g.node('Reshape', [md, this.i64([4 * O, I, k, k])]);
        const fused = opt.upsample === 'fused';
        const inputs = [x, wn];
        if (fused) inputs.push(g.initializer(`${l.prefix}.bias4`, this.act, [4 * O], Float32Array.from({ length: 4 * O }, (_, j) => bias[Math.floor(j / 4)]!)));
        y = g.node('DepthToSpace', [g.node('Conv', inputs, { pads })], { blocksize: int(2), mode: str('CRD') });
        if (fused) biasDone = true;
        else {
          y = this.fir(y, O, fir, [1, 1, 0, 0], l.prefix, bias);
          biasDone = true;
        }
      }
    }
    // noise (scaled by strength * sqrt2), bias, activation, clamp
    const strength = this.t(`${l.prefix}.noise_strength`)[0]! * Math.SQRT2;
    if (opt.noise === 'const') {
      const nc = Float32Array.from(this.t(`${l.prefix}.noise_const`), (v) => v * strength);
      y = g.node('Add', [y, g.initializer(`${l.prefix}.noise`, this.act, [1, 1, l.resolution, l.resolution], nc)]);
    } else if (opt.noise === 'input') {
      y = g.node('Add', [y, g.node('Mul', [this.castAct(noiseInput!), this.constOf(this.act, [], [strength], 'strength')])]);
    }
    if (!biasDone) y = g.node('Add', [y, g.initializer(`${l.prefix}.bias`, this.act, [1, O, 1, 1], bias)]);
    y = g.node('LeakyRelu', [y], { alpha: float(0.2) });
    if (shape.convClamp !== null) y = this.clip(y, shape.convClamp);
    return y;
  }

  private clip(x: string, c: number): string {
    return this.g.node('Clip', [x, this.constOf(this.act, [], [-c], 'lo'), this.constOf(this.act, [], [c], 'hi')]);
  }

  /** Depthwise FIR (gain 4) with the given pads [top, left, bottom, right], optionally adding a bias. */
  private fir(x: string, C: number, fir: Float32Array, pads: number[], stem: string, bias?: Float32Array): string {
    const inputs = [x, this.g.initializer(`${stem}.fir`, this.act, [C, 1, 4, 4], firDepthwise(fir, C))];
    if (bias) inputs.push(this.g.initializer(`${stem}.bias`, this.act, [C], bias));
    return this.g.node('Conv', inputs, { group: int(C), pads: ints(pads) });
  }

  /** conv0 of a block with activation modulation: x (already modulated) -> up-sampled conv output. */
  private upConv(xm: string, ws: Float32Array, I: number, O: number, fir: Float32Array, prefix: string): string {
    const { g, opt } = this;
    switch (opt.upsample) {
      case 'transpose': {
        const t = g.node('ConvTranspose', [xm, g.initializer(`${prefix}.weight_t`, this.act, [I, O, 3, 3], transposeOI(ws, O, I, 3))], { strides: ints([2, 2]) });
        return this.fir(t, O, fir, [1, 1, 1, 1], prefix);
      }
      case 'subpixel': {
        const c = g.node('Conv', [xm, g.initializer(`${prefix}.weight_subpixel`, this.act, [4 * O, I, 2, 2], subpixelWeights(ws, O, I))], { pads: ints([1, 1, 1, 1]) });
        return this.fir(g.node('DepthToSpace', [c], { blocksize: int(2), mode: str('CRD') }), O, fir, [1, 1, 0, 0], prefix);
      }
      case 'fused': {
        const c = g.node('Conv', [xm, g.initializer(`${prefix}.weight_fused`, this.act, [4 * O, I, 3, 3], fusedUpsampleWeights(ws, O, I, fir))], { pads: ints([1, 1, 1, 1]) });
        return g.node('DepthToSpace', [c], { blocksize: int(2), mode: str('CRD') });
      }
    }
  }

  /** ToRGB: modulated 1x1 conv without demod, bias, clamp. */
  private toRGB(x: string, l: LayerInfo): string {
    const { g, shape, opt } = this;
    const slot = this.rgbLayers.indexOf(l);
    const w = g.initializer(`${l.prefix}.weight`, this.act, [l.outChannels, l.inChannels, 1, 1], this.t(`${l.prefix}.weight`));
    const b = g.initializer(`${l.prefix}.bias`, this.act, [l.outChannels], this.t(`${l.prefix}.bias`));
    const sl = this.bank.rgb[slot]!;
    let y = opt.modulation === 'activation' ? g.node('Conv', [g.node('Mul', [x, sl]), w, b]) : g.node('Conv', [x, g.node('Mul', [w, sl]), b]);
    if (shape.convClamp !== null) y = this.clip(y, shape.convClamp);
    return y;
  }

  /** upfirdn2d.upsample2d of the skip image (from resolution res to 2*res). */
  private upsampleImage(img: string, res: number): string {
    const { g, shape, opt } = this;
    const C = shape.imgChannels;
    const fir = this.dict.get(`synthesis.b${res * 2}.resample_filter`)?.data ?? defaultResampleFilter();
    if (opt.upsample === 'transpose') {
      return g.node('ConvTranspose', [img, g.initializer('img.up', this.act, [C, 1, 4, 4], imageUpsampleTranspose(fir, C))], {
        strides: ints([2, 2]),
        pads: ints([1, 1, 1, 1]),
        group: int(C),
      });
    }
    const c = g.node('Conv', [img, g.initializer('img.up', this.act, [4 * C, 1, 3, 3], imageUpsampleSubpixel(fir, C))], { pads: ints([1, 1, 1, 1]), group: int(C) });
    return g.node('DepthToSpace', [c], { blocksize: int(2), mode: str('CRD') });
  }

  private outputs(img: string, inputs: TensorContract[], nWs: number): BuiltGenerator {
    const { g, shape, opt } = this;
    const res = shape.resolution;
    const C = shape.imgChannels;
    const outputs: TensorContract[] = [];
    let outW = res;
    let outH = res;
    if (opt.outputs.includes('frames')) {
      let f = img;
      if (opt.resize && (opt.resize.width !== res || opt.resize.height !== res)) {
        outW = opt.resize.width;
        outH = opt.resize.height;
        const nc = g.node('Slice', [g.node('Shape', [img]), this.i64([0]), this.i64([2])]);
        const sizes = g.node('Concat', [nc, this.i64([outH, outW])], { axis: int(0) });
        f = g.node('Resize', [img, '', '', sizes], {
          mode: str(opt.resize.mode),
          coordinate_transformation_mode: str(opt.resize.mode === 'nearest' ? 'asymmetric' : 'half_pixel'),
          ...(opt.resize.mode === 'cubic' ? { cubic_coeff_a: float(-0.5) } : {}),
          ...(opt.resize.mode === 'nearest' ? { nearest_mode: str('floor') } : {}),
        });
      }
      // (x * 127.5 + 128) clamped to [0, 255] and truncated, as stylegan2-ada's gen_images
      f = g.node('Add', [g.node('Mul', [f, this.constOf(this.act, [], [127.5], 'scale')]), this.constOf(this.act, [], [128], 'offset')]);
      f = g.node('Clip', [f, this.constOf(this.act, [], [0], 'lo'), this.constOf(this.act, [], [255], 'hi')]);
      // transpose while still float: GPU providers handle float transposes, and it can cancel a layout transpose
      f = g.node('Transpose', [f], { perm: ints([0, 2, 3, 1]) });
      f = g.node('Cast', [f], { to: int(2) });
      g.rename(f, 'frames');
      g.output('frames', 'uint8', [this.N, outH, outW, C]);
      outputs.push({ name: 'frames', role: 'frames', dtype: 'uint8', shape: [this.N, outH, outW, C], layout: 'NHWC' });
    }
    if (opt.outputs.includes('image')) {
      const f = this.act === 'float32' ? img : g.node('Cast', [img], { to: int(1) });
      g.rename(f, 'image');
      g.output('image', 'float32', [this.N, C, res, res]);
      outputs.push({ name: 'image', role: 'image', dtype: 'float32', shape: [this.N, C, res, res], layout: 'NCHW' });
    }
    const onnx = g.toBytes({ opset: OPSET, doc: `StyleGAN2 generator ${res}px, ${opt.dtype}, input ${opt.input}, noise ${opt.noise}` });
    return {
      onnx,
      inputs,
      outputs,
      numWs: nWs,
      output: { width: outW, height: outH, resize: opt.resize && (outW !== res || outH !== res) ? opt.resize.mode : 'none' },
      parameters: g.parameterCount(),
      opCounts: g.opCounts(),
      hostNodes: g.nodesIn(HOST_SCOPE),
    };
  }
}
