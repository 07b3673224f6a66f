/**
 * StyleGAN2 synthesis as WGSL compute kernels on one WebGPU device: z (or w) in, uint8 frames
 * and/or the float image out, computing the function of the network's ONNX graph (see plan.ts).
 *
 * A run uploads its latents, encodes every dispatch of the network into one command buffer and
 * copies the outputs into a staging buffer that it maps; runs may be started before earlier ones
 * have returned (the queue keeps them in order, a small ring of staging buffers keeps their
 * results apart), so the GPU is not idle while the host reads a batch back.
 */
import type { ConvLayerPlan, EnginePlan } from './plan.ts';
import { installGlobals } from './gpu.ts';
import { modconvSource, wgsl, type ConvTile, type Precision } from './shaders.ts';
import { toFloat16Array } from '../onnx/float16.ts';

export interface EngineOptions {
  maxBatch: number;
  /** Each dispatch in its own pass with timestamps (the device needs timestamp-query). */
  profile?: boolean;
  /** Conv kernel: 'wide' (default; tiles shaped by the layer's channels, tap-major K) or 'square' (16 x 16 threads). */
  kernel?: 'wide' | 'square';
  /** Split K on layers with few output tiles (default true). */
  splitK?: boolean;
  /** Conv tile override, for tuning. */
  tile?: (layer: ConvLayerPlan, pixels: number) => ConvTile;
  /**
   * Arithmetic of the conv GEMMs (plain and transposed): 'f32' (default), or 'f16' (weights stored
   * in f16, activations rounded to f16 as they are gathered, products in f16, sums in f32; the
   * device must have been created with shader-f16). The other kernels and the activation buffers stay f32.
   */
  precision?: Precision;
}

export interface StepProfile {
  name: string;
  kind: string;
  ms: number;
  /** floating-point operations (2 per multiply-add) and bytes the step moves at least. */
  flop: number;
  bytes: number;
}

export interface EngineOutputs {
  frames?: Uint8Array;
  image?: Float32Array;
}

interface Step {
  name: string;
  kind: string;
  pipeline: GPUComputePipeline;
  bind: GPUBindGroup;
  uniform: GPUBuffer;
  params: (n: number) => ArrayBuffer;
  groups: (n: number) => [number, number, number];
  flop: (n: number) => number;
  bytes: (n: number) => number;
}

type Field = ['u' | 'f' | 'i', number];

function pack(fields: Field[], size: number): ArrayBuffer {
  const buf = new ArrayBuffer(size);
  const v = new DataView(buf);
  fields.forEach(([t, x], k) => {
    if (t === 'u') v.setUint32(k * 4, x, true);
    else if (t === 'i') v.setInt32(k * 4, x, true);
    else v.setFloat32(k * 4, x, true);
  });
  return buf;
}

function linear(total: number): [number, number, number] {
  const groups = Math.max(1, Math.ceil(total / 64));
  return [Math.min(groups, 65535), Math.ceil(groups / 65535), 1];
}

const BIG = 3.0e38;
/** Workgroups a conv dispatch should have at least (about two per SM of a large GPU) before K is split. */
const SPLIT_TARGET = 256;

/** Weights [(i, t), o] in tap-major order [(t, i), o], as the wide kernel reads them. */
function tapMajor(w: Float32Array, I: number, T: number, O: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let i = 0; i < I; i++) for (let t = 0; t < T; t++) out.set(w.subarray((i * T + t) * O, (i * T + t + 1) * O), (t * I + i) * O);
  return out;
}

/**
 * Wide-kernel tiles: 4x8 outputs per thread (measured on an H200: 18 TFLOP/s at 64 channels, where
 * 8x8 ran at 2.2, its accumulators spilled), more threads along the pixels where channels are few.
 */
export function wideTile(layer: ConvLayerPlan): ConvTile {
  const O = layer.info.outChannels;
  if (O >= 64) return { tm: 4, tn: 8, bk: 16, wx: 16 };
  // 2x8 per thread on 16 x 16 threads: measured faster at 32 channels than 4x8 on 32 x 8 (92 vs 83 img/s at batch 12)
  if (O >= 32) return { tm: 2, tn: 8, bk: 16, wx: 16 };
  return { tm: 1, tn: 8, bk: 16, wx: 16 };
}

/** Default tiles: output-channel tile near the layer's width, wide pixel tiles where channels are few. */
export function defaultTile(layer: ConvLayerPlan): ConvTile {
  const O = layer.info.outChannels;
  if (O >= 64) return { tm: 4, tn: 4, bk: 16 };
  if (O >= 32) return { tm: 2, tn: 8, bk: 16 };
  return { tm: 1, tn: 8, bk: 16 };
}

export class WebGpuSynthesis {
  private readonly steps: Step[] = [];

  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly owned: GPUBuffer[] = [];
  private currentN = 0;
  private readonly ring: Array<{ buffer: GPUBuffer; busy: Promise<void> }> = [];
  private ringNext = 0;
  private uploads!: { latent: GPUBuffer; psi?: GPUBuffer; noise: Map<string, GPUBuffer> };
  private outs!: { image: GPUBuffer; frames: GPUBuffer; imageBytes: number; frameBytes: number };
  private query?: { set: GPUQuerySet; resolve: GPUBuffer; read: GPUBuffer };
  lastProfile: StepProfile[] = [];

  private constructor(
    readonly device: GPUDevice,
    readonly plan: EnginePlan,
    readonly options: EngineOptions,
  ) {}

  static create(device: GPUDevice, plan: EnginePlan, options: EngineOptions): WebGpuSynthesis {
    installGlobals();
    if (!(Number.isInteger(options.maxBatch) && options.maxBatch >= 1)) throw new Error(`maxBatch must be a positive integer, got ${options.maxBatch}`);
    if (options.precision === 'f16' && !device.features.has('shader-f16')) throw new Error("precision f16: the device was created without the 'shader-f16' feature");
    if (options.precision === 'f16' && options.kernel === 'square') throw new Error('precision f16 needs the wide conv kernel (kernel: square computes in f32 only)');
    const e = new WebGpuSynthesis(device, plan, options);
    e.build();
    return e;
  }

  get maxBatch(): number {
    return this.options.maxBatch;
  }

  destroy(): void {
    for (const b of this.owned) b.destroy();
    this.query?.set.destroy();
  }

  private buffer(floatsOrBytes: number, usage: number, bytes = false): GPUBuffer {
    const size = Math.max(16, Math.ceil((bytes ? floatsOrBytes : floatsOrBytes * 4) / 16) * 16);
    const b = this.device.createBuffer({ size, usage });
    this.owned.push(b);
    return b;
  }

  private storage(data: Float32Array | Uint32Array | Uint16Array | number): GPUBuffer {
    const bytes = typeof data === 'number' ? 4 * data : data.byteLength;
    const b = this.buffer(bytes, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC, true);
    if (typeof data !== 'number') this.device.queue.writeBuffer(b, 0, data.buffer, data.byteOffset, data.byteLength);
    return b;
  }

  private pipeline(key: string, code: () => string): GPUComputePipeline {
    let p = this.pipelines.get(key);
    if (!p) {
      const module = this.device.createShaderModule({ code: code(), label: key });
      p = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: key });
      this.pipelines.set(key, p);
    }
    return p;
  }

  private step(s: Omit<Step, 'bind' | 'uniform'> & { buffers: GPUBuffer[]; uniformSize: number }): void {
    const uniform = this.buffer(s.uniformSize, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, true);
    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: uniform } }, ...s.buffers.map((buffer, i) => ({ binding: i + 1, resource: { buffer } }))];
    const bind = this.device.createBindGroup({ layout: s.pipeline.getBindGroupLayout(0), entries, label: s.name });
    this.steps.push({ name: s.name, kind: s.kind, pipeline: s.pipeline, bind, uniform, params: s.params, groups: s.groups, flop: s.flop, bytes: s.bytes });
  }

  private tileFor(c: ConvLayerPlan, grid: number): ConvTile {
    return this.options.tile?.(c, grid) ?? (this.options.kernel === 'square' ? defaultTile(c) : wideTile(c));
  }

  /** K slices for a layer whose output tiles are too few to fill the GPU (wide kernel only); 1: no split. */
  private splitOf(tile: ConvTile, O: number, K: number, grid: number, n: number): number {
    if (!tile.wx || this.options.splitK === false) return 1;
    const tiles = Math.ceil((n * grid) / (tile.wx * tile.tn)) * Math.ceil(O / ((256 / tile.wx) * tile.tm));
    let s = 1;
    while (tiles * s < SPLIT_TARGET && s < 16 && K / (2 * s * tile.bk) >= 8) s *= 2;
    return s;
  }

  private build(): void {
    const { plan } = this;
    const B = this.options.maxBatch;
    const sh = plan.shape;
    const wDim = sh.wDim;
    const C = sh.imgChannels;
    const R = sh.resolution;
    const dummy = this.storage(4);
    const mapP = this.pipeline('mapping', () => wgsl('mapping'));
    const styP = this.pipeline('styles', () => wgsl('styles'));
    const firP = this.pipeline('fir', () => wgsl('fir'));
    const rgbP = this.pipeline('torgb', () => wgsl('torgb'));
    const frmP = this.pipeline('frames', () => wgsl('frames'));

    // latents and the mapping network
    const noise = new Map<string, GPUBuffer>();
    let wBuf: GPUBuffer;
    let wStride: number;
    if (plan.input === 'z') {
      const zDim = sh.zDim;
      const latent = this.storage(B * zDim);
      const psi = this.storage(B);
      this.uploads = { latent, psi, noise };
      const m = [this.storage(B * Math.max(zDim, wDim)), this.storage(B * Math.max(zDim, wDim))];
      this.step({
        name: 'mapping.norm', kind: 'mapping', pipeline: mapP, buffers: [latent, dummy, dummy, m[0]!], uniformSize: 16,
        params: (n) => pack([['u', n], ['u', zDim], ['u', zDim], ['u', 0]], 16), groups: (n) => [Math.ceil(zDim / 8), n, 1],
        flop: (n) => 3 * n * zDim * zDim, bytes: (n) => 8 * n * zDim,
      });
      let cur = 0;
      plan.mapping!.layers.forEach((l, i) => {
        this.step({
          name: `mapping.fc${i}`, kind: 'mapping', pipeline: mapP, buffers: [m[cur]!, this.storage(l.wt), this.storage(l.b), m[1 - cur]!], uniformSize: 16,
          params: (n) => pack([['u', n], ['u', l.inF], ['u', l.outF], ['u', 1]], 16), groups: (n) => [Math.ceil(l.outF / 8), n, 1],
          flop: (n) => 2 * n * l.inF * l.outF, bytes: () => 4 * l.inF * l.outF,
        });
        cur = 1 - cur;
      });
      wBuf = this.storage(B * wDim);
      this.step({
        name: 'mapping.truncate', kind: 'mapping', pipeline: mapP, buffers: [m[cur]!, this.storage(plan.mapping!.wAvg), psi, wBuf], uniformSize: 16,
        params: (n) => pack([['u', n], ['u', wDim], ['u', wDim], ['u', 2]], 16), groups: (n) => [Math.ceil(wDim / 8), n, 1],
        flop: (n) => 3 * n * wDim, bytes: (n) => 12 * n * wDim,
      });
      wStride = wDim;
    } else {
      wBuf = this.storage(B * plan.numWs * wDim);
      this.uploads = { latent: wBuf, noise };
      wStride = plan.numWs * wDim;
    }

    // styles, demodulation factors, toRGB styles of every layer
    const { Lc, Lr, P, Q } = plan;
    const sBuf = this.storage(B * Lc * P);
    const dBuf = this.storage(B * Lc * Q);
    const rBuf = this.storage(B * Lr * P);
    const affine = (name: string, L: number, tab: { A: Float32Array; B: Float32Array }, widx: Uint32Array, out: GPUBuffer) =>
      this.step({
        name, kind: 'styles', pipeline: styP, buffers: [wBuf, this.storage(tab.A), this.storage(tab.B), this.storage(widx), out], uniformSize: 32,
        params: (n) => pack([['u', n], ['u', L], ['u', wDim], ['u', P], ['u', 0], ['u', wStride], ['u', 0], ['u', 0]], 32),
        groups: (n) => [Math.ceil(P / 64), L, n], flop: (n) => 2 * n * L * wDim * P, bytes: () => 4 * L * wDim * P,
      });
    affine('styles.conv', Lc, plan.affineConv, plan.convWIdx, sBuf);
    this.step({
      name: 'styles.demod', kind: 'styles', pipeline: styP, buffers: [sBuf, this.storage(plan.demod), dummy, dummy, dBuf], uniformSize: 32,
      params: (n) => pack([['u', n], ['u', Lc], ['u', wDim], ['u', Q], ['u', P], ['u', 0], ['u', 1], ['u', 0]], 32),
      groups: (n) => [Math.ceil(Q / 64), Lc, n], flop: (n) => 3 * n * Lc * P * Q, bytes: () => 4 * Lc * P * Q,
    });
    affine('styles.rgb', Lr, plan.affineRgb, plan.rgbWIdx, rBuf);

    // activations: ping-pong between A and B, the transposed conv's output in T, images ping-pong
    let actFloats = 0;
    let tFloats = 0;
    for (const c of plan.convs) {
      actFloats = Math.max(actFloats, B * c.info.outChannels * c.info.resolution ** 2);
      if (c.info.kind === 'conv0') tFloats = Math.max(tFloats, B * c.info.outChannels * c.passRes ** 2);
    }
    const A = this.storage(actFloats);
    const Bf = this.storage(actFloats);
    const T = this.storage(Math.max(tFloats, 4));
    const imgs = [this.storage(B * C * R * R), this.storage(B * C * R * R)];
    const c4 = plan.const4.length;
    const constRep = new Float32Array(B * c4);
    for (let n = 0; n < B; n++) constRep.set(plan.const4, n * c4);
    const constBuf = this.storage(constRep);
    const clampV = plan.clamp ?? BIG;
    // split-K partial sums: sized for the largest split layer at any batch up to B
    let scratchFloats = 4;
    for (const c of plan.convs)
      for (const pass of c.passes) {
        const tile = this.tileFor(c, pass.gh * pass.gw);
        for (let n = 1; n <= B; n++) {
          const split = this.splitOf(tile, c.info.outChannels, c.info.inChannels * pass.taps.length, pass.gh * pass.gw, n);
          if (split > 1) scratchFloats = Math.max(scratchFloats, split * c.info.outChannels * n * pass.gh * pass.gw);
        }
      }
    const scratchBuf = this.storage(scratchFloats);

    const conv = (c: ConvLayerPlan, src: GPUBuffer, dst: GPUBuffer) => {
      const I = c.info.inChannels;
      const O = c.info.outChannels;
      const bias = this.storage(c.bias);
      let noiseBuf = dummy;
      let noiseFlag = 0;
      if (c.noiseConst) {
        noiseBuf = this.storage(c.noiseConst);
        noiseFlag = 2;
      } else if (c.noiseInput) {
        noiseBuf = this.storage(B * c.info.resolution ** 2);
        noise.set(c.noiseInput.name, noiseBuf);
        noiseFlag = 4;
      }
      const up = c.info.kind === 'conv0';
      const out = up ? T : dst;
      c.passes.forEach((pass) => {
        const grid = pass.gh * pass.gw;
        const tile = this.tileFor(c, grid);
        const BM = 16 * tile.tm;
        const BN = 16 * tile.tn;
        const precision = this.options.precision ?? 'f32';
        const pipeline = this.pipeline(`modconv.${tile.tm}.${tile.tn}.${tile.bk}.${tile.wx ?? 0}.${precision}`, () => modconvSource(tile, precision));
        const BMx = tile.wx ? (256 / tile.wx) * tile.tm : BM;
        const BNx = tile.wx ? tile.wx * tile.tn : BN;
        const weights = tile.wx ? tapMajor(pass.weights, I, pass.taps.length, O) : pass.weights;
        const K = I * pass.taps.length;
        const flags = up ? 0 : 1 | noiseFlag;
        const taps: Field[] = [];
        for (let t = 0; t < 9; t++) {
          const tp = pass.taps[t] ?? [0, 0];
          taps.push(['i', tp[0]], ['i', tp[1]], ['i', 0], ['i', 0]);
        }
        const params = (n: number, split: number) => {
          const kLen = split > 1 ? Math.ceil(K / split / tile.bk) * tile.bk : K;
          return pack(
            [
              ['u', n], ['u', I], ['u', O], ['u', pass.taps.length],
              ['u', c.inRes], ['u', c.inRes], ['u', pass.gh], ['u', pass.gw],
              ['u', c.passRes], ['u', c.passRes], ['u', pass.sy], ['u', pass.sy],
              ['u', pass.ry], ['u', pass.rx], ['u', K], ['u', split > 1 ? 8 : flags],
              ['u', c.slot * P], ['u', Lc * P], ['u', c.slot * Q], ['u', Lc * Q],
              ['f', clampV], ['f', c.noiseInput?.strength ?? 0], ['u', kLen], ['u', 0],
              ...taps,
            ],
            240,
          );
        };
        const splitOf = (n: number) => this.splitOf(tile, O, K, grid, n);
        const name = `${c.info.prefix}${up ? `.phase${pass.ry}${pass.rx}` : ''}`;
        const wBuf = this.storage(precision === 'f16' ? toFloat16Array(weights) : weights);
        const wBytes = precision === 'f16' ? 2 : 4;
        this.step({
          name, kind: up ? 'conv-up' : 'conv', pipeline,
          buffers: [src, wBuf, sBuf, dBuf, bias, noiseBuf, out], uniformSize: 240,
          params: (n) => params(n, 1),
          groups: (n) => {
            if (splitOf(n) > 1) return [0, 0, 0];
            const tiles = Math.ceil((n * grid) / BNx);
            return [Math.min(tiles, 32768), Math.ceil(O / BMx), Math.ceil(tiles / 32768)];
          },
          flop: (n) => (splitOf(n) > 1 ? 0 : 2 * n * grid * K * O),
          bytes: (n) => (splitOf(n) > 1 ? 0 : 4 * (n * I * c.inRes ** 2 + n * O * grid) + wBytes * K * O),
        });
        if ([...Array(B).keys()].some((i) => splitOf(i + 1) > 1)) {
          {
            const scratch = () => scratchBuf;
            {
              this.step({
                name: `${name}.split`, kind: up ? 'conv-up' : 'conv', pipeline,
                buffers: [src, wBuf, sBuf, dBuf, bias, noiseBuf, scratch()], uniformSize: 240,
                params: (n) => params(n, splitOf(n)),
                groups: (n) => (splitOf(n) > 1 ? [Math.ceil((n * grid) / BNx), Math.ceil(O / BMx), splitOf(n)] : [0, 0, 0]),
                flop: (n) => (splitOf(n) > 1 ? 2 * n * grid * K * O : 0),
                bytes: (n) => (splitOf(n) > 1 ? 4 * (n * I * c.inRes ** 2 + splitOf(n) * n * O * grid) + wBytes * K * O : 0),
              });
              this.step({
                name: `${name}.sum`, kind: 'split-sum', pipeline: this.pipeline('splitk', () => wgsl('splitk')),
                buffers: [scratch(), dBuf, bias, noiseBuf, out], uniformSize: 64,
                params: (n) =>
                  pack(
                    [
                      ['u', n], ['u', O], ['u', pass.gh], ['u', pass.gw],
                      ['u', c.passRes], ['u', c.passRes], ['u', pass.sy], ['u', pass.sy],
                      ['u', pass.ry], ['u', pass.rx], ['u', splitOf(n)], ['u', flags],
                      ['u', c.slot * Q], ['u', Lc * Q], ['f', clampV], ['f', c.noiseInput?.strength ?? 0],
                    ],
                    64,
                  ),
                groups: (n) => (splitOf(n) > 1 ? linear(O * n * grid) : [0, 0, 0]),
                flop: (n) => (splitOf(n) > 1 ? splitOf(n) * O * n * grid : 0),
                bytes: (n) => (splitOf(n) > 1 ? 4 * (splitOf(n) + 1) * O * n * grid : 0),
              });
            }
          }
        }
      });
      if (up) {
        const f = c.fir!;
        const res = c.info.resolution;
        this.step({
          name: `${c.info.prefix}.fir`, kind: 'fir', pipeline: firP, buffers: [T, bias, noiseBuf, dst], uniformSize: 96,
          params: (n) => pack([['u', n], ['u', O], ['u', c.passRes], ['u', res], ['u', noiseFlag], ['f', clampV], ['f', c.noiseInput?.strength ?? 0], ['u', 0], ...Array.from(f, (v): Field => ['f', v])], 96),
          groups: (n) => linear(n * O * res * res),
          flop: (n) => 2 * 16 * n * O * res * res,
          bytes: (n) => 4 * (n * O * c.passRes ** 2 + n * O * res * res),
        });
      }
    };

    const rgb = (slot: number, src: GPUBuffer, prev: GPUBuffer, dst: GPUBuffer) => {
      const r = plan.rgbs[slot]!;
      const I = r.info.inChannels;
      const res = r.info.resolution;
      const up = r.up ?? new Float32Array(16);
      this.step({
        name: r.info.prefix, kind: 'torgb', pipeline: rgbP, buffers: [src, this.storage(r.weight), this.storage(r.bias), rBuf, prev, dst], uniformSize: 96,
        params: (n) => pack([['u', n], ['u', I], ['u', C], ['u', res], ['u', slot * P], ['u', Lr * P], ['u', r.up ? 1 : 0], ['f', plan.clamp ?? 0], ...Array.from(up, (v): Field => ['f', v])], 96),
        groups: (n) => linear(n * res * res),
        flop: (n) => 2 * n * res * res * I * C,
        bytes: (n) => 4 * (n * I * res * res + n * C * res * res * 1.25),
      });
    };

    // the synthesis network, block by block (x stays in A between blocks)
    let img = 0;
    let slot = 0;
    for (const c of plan.convs) {
      if (c.info.kind === 'conv0') conv(c, A, Bf);
      else conv(c, c.info.block === 4 ? constBuf : c.info.kind === 'conv1' && plan.convs[c.slot - 1]?.info.block === c.info.block ? Bf : A, A);
      const last = plan.convs[c.slot + 1]?.info.block !== c.info.block;
      if (last) {
        rgb(slot, A, imgs[1 - img]!, imgs[img]!);
        img = 1 - img;
        slot += 1;
      }
    }
    const finalImg = imgs[1 - img]!;

    const frameBytes = B * R * R * C;
    const frames = this.buffer(Math.ceil(frameBytes / 4), GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC);
    if (plan.outputs.some((o) => o.role === 'frames')) {
      this.step({
        name: 'frames', kind: 'frames', pipeline: frmP, buffers: [finalImg, frames], uniformSize: 16,
        params: (n) => pack([['u', n], ['u', C], ['u', R * R], ['u', n * R * R * C]], 16),
        groups: (n) => linear(Math.ceil((n * R * R * C) / 4)),
        flop: (n) => 3 * n * R * R * C,
        bytes: (n) => 5 * n * R * R * C,
      });
    }
    this.outs = { image: finalImg, frames, imageBytes: B * C * R * R * 4, frameBytes: Math.ceil(frameBytes / 4) * 4 };
    for (let i = 0; i < 3; i++) {
      this.ring.push({ buffer: this.buffer(this.outs.imageBytes + this.outs.frameBytes, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, true), busy: Promise.resolve() });
    }
    if (this.options.profile) {
      const count = 2 * this.steps.length;
      const set = this.device.createQuerySet({ type: 'timestamp', count });
      this.query = {
        set,
        resolve: this.buffer(count * 8, GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC, true),
        read: this.buffer(count * 8, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, true),
      };
    }
  }

  /** Names of the inputs a run takes, with their per-sample sizes. */
  inputSizes(): Map<string, number> {
    const sh = this.plan.shape;
    const m = new Map<string, number>();
    m.set(this.plan.latentName, this.plan.input === 'z' ? sh.zDim : this.plan.numWs * sh.wDim);
    if (this.plan.psiName) m.set(this.plan.psiName, 1);
    for (const c of this.plan.convs) if (c.noiseInput) m.set(c.noiseInput.name, c.info.resolution ** 2);
    return m;
  }

  /**
   * Renders n samples. feeds: every input of inputSizes(), n per-sample blocks each. The outputs
   * are the network's (frames NHWC uint8, image NCHW float32), for n samples.
   */
  run(feeds: ReadonlyMap<string, Float32Array>, n: number, want?: ReadonlySet<'frames' | 'image'>): Promise<EngineOutputs> {
    if (!(Number.isInteger(n) && n >= 1 && n <= this.options.maxBatch)) return Promise.reject(new Error(`batch must be 1..${this.options.maxBatch}, got ${n}`));
    for (const [name, per] of this.inputSizes()) {
      const data = feeds.get(name);
      if (!data) return Promise.reject(new Error(`input '${name}' missing`));
      if (data.length !== n * per) return Promise.reject(new Error(`input '${name}' has ${data.length} values, expected ${n} x ${per}`));
    }
    // submissions one after another: a run's uploads must not land before the previous run's work is queued
    const submitted = this.submitting.then(() => this.submit(feeds, n, want));
    this.submitting = submitted.then(
      () => undefined,
      () => undefined,
    );
    return submitted.then((readback) => readback());
  }

  private submitting: Promise<void> = Promise.resolve();

  private async submit(feeds: ReadonlyMap<string, Float32Array>, n: number, want?: ReadonlySet<'frames' | 'image'>): Promise<() => Promise<EngineOutputs>> {
    const slot = this.ring[this.ringNext]!;
    this.ringNext = (this.ringNext + 1) % this.ring.length;
    await slot.busy;
    const q = this.device.queue;
    for (const name of this.inputSizes().keys()) {
      const data = feeds.get(name)!;
      const target = name === this.plan.latentName ? this.uploads.latent : name === this.plan.psiName ? this.uploads.psi! : this.uploads.noise.get(name)!;
      q.writeBuffer(target, 0, data.buffer, data.byteOffset, data.byteLength);
    }
    if (n !== this.currentN) {
      for (const s of this.steps) q.writeBuffer(s.uniform, 0, s.params(n));
      this.currentN = n;
    }

    const enc = this.device.createCommandEncoder();
    if (this.query) {
      this.steps.forEach((s, i) => {
        const pass = enc.beginComputePass({ timestampWrites: { querySet: this.query!.set, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } });
        const g = s.groups(n);
        if (g[0] * g[1] * g[2] > 0) {
          pass.setPipeline(s.pipeline);
          pass.setBindGroup(0, s.bind);
          pass.dispatchWorkgroups(...g);
        }
        pass.end();
      });
      enc.resolveQuerySet(this.query.set, 0, 2 * this.steps.length, this.query.resolve, 0);
      enc.copyBufferToBuffer(this.query.resolve, 0, this.query.read, 0, 16 * this.steps.length);
    } else {
      const pass = enc.beginComputePass();
      for (const s of this.steps) {
        const g = s.groups(n);
        if (g[0] * g[1] * g[2] === 0) continue; // a split layer's other path at this batch size
        pass.setPipeline(s.pipeline);
        pass.setBindGroup(0, s.bind);
        pass.dispatchWorkgroups(...g);
      }
      pass.end();
    }
    const R = this.plan.shape.resolution;
    const C = this.plan.shape.imgChannels;
    const imageBytes = n * C * R * R * 4;
    const frameBytes = n * R * R * C;
    const wantImage = this.plan.outputs.some((o) => o.role === 'image') && (!want || want.has('image'));
    const wantFrames = this.plan.outputs.some((o) => o.role === 'frames') && (!want || want.has('frames'));
    const frameWords = Math.ceil(frameBytes / 4) * 4;
    if (wantImage) enc.copyBufferToBuffer(this.outs.image, 0, slot.buffer, 0, imageBytes);
    if (wantFrames) enc.copyBufferToBuffer(this.outs.frames, 0, slot.buffer, this.outs.imageBytes, frameWords);
    q.submit([enc.finish()]);

    const done = (async (): Promise<EngineOutputs> => {
      await slot.buffer.mapAsync(GPUMapMode.READ);
      const out: EngineOutputs = {};
      try {
        if (wantImage) out.image = new Float32Array(slot.buffer.getMappedRange(0, imageBytes).slice(0));
        if (wantFrames) out.frames = new Uint8Array(slot.buffer.getMappedRange(this.outs.imageBytes, frameWords).slice(0, frameBytes));
      } finally {
        slot.buffer.unmap();
      }
      if (this.query) await this.readProfile(n);
      return out;
    })();
    slot.busy = done.then(
      () => undefined,
      () => undefined,
    );
    return () => done;
  }

  private async readProfile(n: number): Promise<void> {
    const read = this.query!.read;
    await read.mapAsync(GPUMapMode.READ);
    const t = new BigUint64Array(read.getMappedRange().slice(0));
    read.unmap();
    this.lastProfile = this.steps.map((s, i) => ({ name: s.name, kind: s.kind, ms: Number(t[2 * i + 1]! - t[2 * i]!) / 1e6, flop: s.flop(n), bytes: s.bytes(n) }));
  }
}
