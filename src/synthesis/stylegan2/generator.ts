/**
 * Builds a StyleGAN2 generator (stylegan2-ada-pytorch's Generator, 'skip' architecture) as an
 * ONNX graph from a state dict. Weights stay static initializers: the per-sample style scales
 * the activations (or, with `modulation: 'weight'`, a fixed-batch copy of the weights made in
 * the graph), and demodulation is a per-sample, per-channel scale computed from a static table
 * of squared weight sums. Small vector work (mapping, styles, demod) runs in float32; the image
 * path runs in the chosen dtype.
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
  /** Fixed batch size; required by modulation 'weight' (conv groups are static), else null = any. */
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
  upsample: 'subpixel',
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
}

export const OPSET = 17;
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
  if (opt.modulation === 'weight' && opt.batch === null) throw new Error("modulation 'weight' needs a fixed batch size (conv groups are static)");
  if (opt.batch !== null && !(Number.isInteger(opt.batch) && opt.batch >= 1)) throw new Error(`batch must be a positive integer or null, got ${opt.batch}`);
  const b = new GeneratorGraph(dict, shape, opt);
  return b.build();
}

class GeneratorGraph {
  readonly g: OnnxGraph;
  readonly act: 'float32' | 'float16';
  readonly N: number | string;
  private readonly cache = new Map<string, string>();

  constructor(
    readonly dict: StateDict,
    readonly shape: GeneratorShape,
    readonly opt: BuildOptions,
  ) {
    this.g = new OnnxGraph('stylegan2_generator');
    this.act = opt.dtype;
    this.N = opt.batch ?? 'N';
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

  private unsqueeze4(x2d: string): string {
    return this.g.node('Unsqueeze', [x2d, this.i64([2, 3])]);
  }

  build(): BuiltGenerator {
    const { g, shape, opt } = this;
    const inputs: TensorContract[] = [];
    const nWs = numWs(shape);
    const layers = synthesisLayers(shape);
    const stylesOf = this.mappingAndStyles(inputs, nWs, layers);

    // noise inputs, declared in layer order after the latent inputs
    const noiseIn = new Map<string, string>();
    if (opt.noise === 'input') {
      for (const l of layers) {
        if (l.kind === 'torgb') continue;
        const name = noiseInputName(l);
        g.input(name, 'float32', [this.N, 1, l.resolution, l.resolution]);
        inputs.push({ name, role: 'noise', dtype: 'float32', shape: [this.N, 1, l.resolution, l.resolution], layer: l.prefix });
        noiseIn.set(l.prefix, this.castAct(name));
      }
    }

    // synthesis
    const constC = channelsAt(shape, 4);
    const constName = g.initializer('synthesis.b4.const', this.act, [1, constC, 4, 4], this.t('synthesis.b4.const'));
    let x = opt.batch === 1 ? constName : this.broadcastConst(constName, constC);
    let img: string | undefined;
    for (const res of blockResolutions(shape)) {
      for (const l of layers.filter((q) => q.block === res)) {
        if (l.kind === 'torgb') {
          const y = this.toRGB(x, l, stylesOf(l));
          if (img === undefined) img = y;
          else img = g.node('Add', [this.upsampleImage(img, res / 2), y]);
        } else {
          x = this.modConv(x, l, stylesOf(l), noiseIn.get(l.prefix));
        }
      }
    }
    if (!img) throw new Error('no toRGB layer');
    return this.outputs(img, inputs, nWs);
  }

  /** [1,C,4,4] const to [N,C,4,4] (conv layers need the batch dim to match the styles). */
  private broadcastConst(constName: string, C: number): string {
    const { g } = this;
    if (typeof this.N === 'number') return g.node('Expand', [constName, this.i64([this.N, C, 4, 4])]);
    const n = g.node('Slice', [g.node('Shape', [this.latentName]), this.i64([0]), this.i64([1])]);
    const target = g.node('Concat', [n, this.i64([C, 4, 4])], { axis: int(0) });
    return g.node('Expand', [constName, target]);
  }

  private latentName = '';

  /**
   * Declares the latent inputs and returns a function giving each layer's styles [N, I] (float32).
   * With z every layer sees the same w, so all affine layers run as one MatMul and are sliced.
   */
  private mappingAndStyles(inputs: TensorContract[], nWs: number, layers: LayerInfo[]): (l: LayerInfo) => string {
    const { g, shape, opt } = this;
    const wDim = shape.wDim;
    const affineW = (l: LayerInfo) => {
      // affine: FullyConnectedLayer(w_dim, in, bias_init=1): weight_gain 1/sqrt(w_dim); toRGB styles also take 1/sqrt(in)
      const a = this.t(`${l.prefix}.affine.weight`);
      const ab = this.t(`${l.prefix}.affine.bias`);
      const extra = l.kind === 'torgb' ? 1 / Math.sqrt(l.inChannels) : 1;
      const gain = extra / Math.sqrt(wDim);
      const wt = new Float32Array(wDim * l.inChannels);
      for (let i = 0; i < l.inChannels; i++) for (let k = 0; k < wDim; k++) wt[k * l.inChannels + i] = a[i * wDim + k]! * gain;
      return { wt, bias: Float32Array.from(ab, (v) => v * extra) };
    };

    if (opt.input === 'w') {
      const w = g.input('w', 'float32', [this.N, nWs, wDim]);
      this.latentName = w;
      inputs.push({ name: 'w', role: 'latent', dtype: 'float32', shape: [this.N, nWs, wDim] });
      const perIndex = new Map<number, string>();
      return (l) => {
        let wi = perIndex.get(l.wIndex);
        if (!wi) {
          wi = g.node('Gather', [w, this.constOf('int64', [], [l.wIndex], 'idx')], { axis: int(1) });
          perIndex.set(l.wIndex, wi);
        }
        const { wt, bias } = affineW(l);
        return g.node('Gemm', [wi, g.initializer(`${l.prefix}.affine.wt`, 'float32', [wDim, l.inChannels], wt), g.initializer(`${l.prefix}.affine.b`, 'float32', [l.inChannels], bias)]);
      };
    }

    const z = g.input('z', 'float32', [this.N, shape.zDim]);
    const psi = g.input('psi', 'float32', [this.N]);
    this.latentName = z;
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
    const w = g.node('Add', [wAvg, g.node('Mul', [psi2, g.node('Sub', [x, wAvg])])]);
    // every layer's affine in one MatMul
    const total = layers.reduce((a, l) => a + l.inChannels, 0);
    const allW = new Float32Array(wDim * total);
    const allB = new Float32Array(total);
    const offsets = new Map<string, number>();
    let off = 0;
    for (const l of layers) {
      const { wt, bias } = affineW(l);
      for (let k = 0; k < wDim; k++) allW.set(wt.subarray(k * l.inChannels, (k + 1) * l.inChannels), k * total + off);
      allB.set(bias, off);
      offsets.set(l.prefix, off);
      off += l.inChannels;
    }
    const styles = g.node('Gemm', [w, g.initializer('synthesis.affine.wt', 'float32', [wDim, total], allW), g.initializer('synthesis.affine.b', 'float32', [total], allB)]);
    return (l) => {
      const start = offsets.get(l.prefix)!;
      return g.node('Slice', [styles, this.i64([start]), this.i64([start + l.inChannels]), this.i64([1])]);
    };
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
  private modConv(x: string, l: LayerInfo, styles: string, noiseInput: string | undefined): string {
    const { g, opt, shape } = this;
    const I = l.inChannels;
    const O = l.outChannels;
    const ws = this.scaledWeight(l);
    // styles normalized by their max |s| per sample (fp16 range; demod cancels the scale)
    const smax = g.node('ReduceMax', [g.node('Abs', [styles])], { axes: ints([1]), keepdims: int(1) });
    const sn = g.node('Div', [styles, smax]);
    // demod with lrelu's sqrt(2): sqrt2 * rsqrt(sum s^2 w^2 + 1e-8) = rsqrt(sum s^2 (w^2/2) + 0.5e-8)
    const w2t = new Float32Array(I * O);
    for (let o = 0; o < O; o++)
      for (let i = 0; i < I; i++) {
        let acc = 0;
        for (let k = 0; k < 9; k++) acc += ws[(o * I + i) * 9 + k]! ** 2;
        w2t[i * O + o] = acc / 2;
      }
    const q = g.node('MatMul', [g.node('Mul', [sn, sn]), g.initializer(`${l.prefix}.demod`, 'float32', [I, O], w2t)]);
    const d = g.node('Reciprocal', [g.node('Sqrt', [g.node('Add', [q, this.constOf('float32', [], [0.5e-8])])])]);
    const bias = Float32Array.from(this.t(`${l.prefix}.bias`), (v) => v * Math.SQRT2);
    const up = l.kind === 'conv0';
    const fir = this.dict.get(`${l.prefix}.resample_filter`)?.data ?? defaultResampleFilter();

    let y: string;
    let biasDone = false;
    if (opt.modulation === 'activation') {
      const xm = g.node('Mul', [x, this.unsqueeze4(this.castAct(sn))]);
      y = up ? this.upConv(xm, ws, I, O, fir, l.prefix) : g.node('Conv', [xm, g.initializer(`${l.prefix}.weight`, this.act, [O, I, 3, 3], ws)], { pads: ints([1, 1, 1, 1]) });
      y = g.node('Mul', [y, this.unsqueeze4(this.castAct(d))]);
    } else {
      // per-sample weights: static weight * style (input channel) * demod (output channel)
      const B = this.opt.batch!;
      if (up && opt.upsample === 'transpose') {
        // ConvTranspose weight [I, O, 3, 3]: demod applies after the FIR (it commutes with it)
        const wt = g.initializer(`${l.prefix}.weight`, this.act, [1, I, O, 3, 3], transposeOI(ws, O, I, 3));
        const s5 = g.node('Reshape', [this.castAct(sn), this.i64([B, I, 1, 1, 1])]);
        const wn = g.node('Reshape', [g.node('Mul', [wt, s5]), this.i64([B * I, O, 3, 3])]);
        const xg = B === 1 ? x : g.node('Reshape', [x, this.i64([1, B * I, l.resolution / 2, l.resolution / 2])]);
        let t = g.node('ConvTranspose', [xg, wn], { strides: ints([2, 2]), group: int(B) });
        t = g.node('Conv', [t, g.initializer(`${l.prefix}.fir`, this.act, [B * O, 1, 4, 4], firDepthwise(fir, B * O))], { group: int(B * O), pads: ints([1, 1, 1, 1]) });
        if (B !== 1) t = g.node('Reshape', [t, this.i64([B, O, l.resolution, l.resolution])]);
        y = g.node('Mul', [t, this.unsqueeze4(this.castAct(d))]);
      } else {
        const phases = up ? 4 : 1;
        const k = up ? (opt.upsample === 'fused' ? 3 : 2) : 3;
        const base = !up ? ws : opt.upsample === 'fused' ? fusedUpsampleWeights(ws, O, I, fir) : subpixelWeights(ws, O, I);
        const wb = g.initializer(`${l.prefix}.weight`, this.act, [1, O, phases, I, k, k], base);
        const s6 = g.node('Reshape', [this.castAct(sn), this.i64([B, 1, 1, I, 1, 1])]);
        const d6 = g.node('Reshape', [this.castAct(d), this.i64([B, O, 1, 1, 1, 1])]);
        const wn = g.node('Reshape', [g.node('Mul', [g.node('Mul', [wb, s6]), d6]), this.i64([B * O * phases, I, k, k])]);
        const xg = B === 1 ? x : g.node('Reshape', [x, this.i64([1, B * I, -1, 0])]);
        const pads = k === 2 ? [1, 1, 1, 1] : [1, 1, 1, 1];
        // bias goes into the conv where nothing linear-spatial follows it (no FIR after)
        const fuseBias = !up || opt.upsample === 'fused';
        const convInputs = [xg, wn];
        if (fuseBias) {
          const bt = phases === 1 ? bias : Float32Array.from({ length: O * 4 }, (_, j) => bias[Math.floor(j / 4)]!);
          const bb = new Float32Array(B * bt.length);
          for (let s = 0; s < B; s++) bb.set(bt, s * bt.length);
          convInputs.push(g.initializer(`${l.prefix}.bias`, this.act, [bb.length], bb));
          biasDone = true;
        }
        let t = g.node('Conv', convInputs, { pads: ints(pads), group: int(B) });
        if (B !== 1) t = g.node('Reshape', [t, this.i64([B, O * phases, 0, 0])]);
        if (up) {
          t = g.node('DepthToSpace', [t], { blocksize: int(2), mode: str('CRD') });
          if (opt.upsample === 'subpixel') t = this.fir(t, O, fir, [1, 1, 0, 0], l.prefix);
        }
        y = t;
      }
    }
    // noise (already scaled by sqrt2 via the strength), bias, activation, clamp
    const strength = this.t(`${l.prefix}.noise_strength`)[0]! * Math.SQRT2;
    if (opt.noise === 'const') {
      const nc = Float32Array.from(this.t(`${l.prefix}.noise_const`), (v) => v * strength);
      y = g.node('Add', [y, g.initializer(`${l.prefix}.noise`, this.act, [1, 1, l.resolution, l.resolution], nc)]);
    } else if (opt.noise === 'input') {
      y = g.node('Add', [y, g.node('Mul', [noiseInput!, this.constOf(this.act, [], [strength], 'strength')])]);
    }
    if (!biasDone) y = g.node('Add', [y, g.initializer(`${l.prefix}.bias`, this.act, [1, O, 1, 1], bias)]);
    y = g.node('LeakyRelu', [y], { alpha: float(0.2) });
    if (shape.convClamp !== null) y = this.clip(y, shape.convClamp);
    return y;
  }

  private clip(x: string, c: number): string {
    return this.g.node('Clip', [x, this.constOf(this.act, [], [-c], 'lo'), this.constOf(this.act, [], [c], 'hi')]);
  }

  /** Depthwise FIR (gain 4) with the given pads [top, left, bottom, right]. */
  private fir(x: string, C: number, fir: Float32Array, pads: number[], stem: string): string {
    return this.g.node('Conv', [x, this.g.initializer(`${stem}.fir`, this.act, [C, 1, 4, 4], firDepthwise(fir, C))], { group: int(C), pads: ints(pads) });
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
        const c = g.node('Conv', [xm, g.initializer(`${prefix}.weight_sp`, this.act, [4 * O, I, 2, 2], subpixelWeights(ws, O, I))], { pads: ints([1, 1, 1, 1]) });
        return this.fir(g.node('DepthToSpace', [c], { blocksize: int(2), mode: str('CRD') }), O, fir, [1, 1, 0, 0], prefix);
      }
      case 'fused': {
        const c = g.node('Conv', [xm, g.initializer(`${prefix}.weight_fused`, this.act, [4 * O, I, 3, 3], fusedUpsampleWeights(ws, O, I, fir))], { pads: ints([1, 1, 1, 1]) });
        return g.node('DepthToSpace', [c], { blocksize: int(2), mode: str('CRD') });
      }
    }
  }

  /** ToRGB: modulated 1x1 conv without demod, bias, clamp. */
  private toRGB(x: string, l: LayerInfo, styles: string): string {
    const { g, shape } = this;
    const w = g.initializer(`${l.prefix}.weight`, this.act, [l.outChannels, l.inChannels, 1, 1], this.t(`${l.prefix}.weight`));
    const xm = g.node('Mul', [x, this.unsqueeze4(this.castAct(styles))]);
    let y = g.node('Conv', [xm, w, g.initializer(`${l.prefix}.bias`, this.act, [l.outChannels], this.t(`${l.prefix}.bias`))]);
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
    };
  }
}
