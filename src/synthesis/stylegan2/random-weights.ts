/**
 * Seeded random generator weights, laid out like a trained stylegan2-ada-pytorch state dict, for
 * the demo network, tests and benchmarks. Biases, noise strengths and w_avg are non-zero on
 * purpose, so every term of the forward pass shows up in the output.
 */
import { SeededRandom } from './random.ts';
import { expectedTensors, type StateDict } from './state-dict.ts';
import { checkShape, type GeneratorShape } from './shape.ts';

/** The normalized [1,3,3,1] FIR filter, outer product, as upfirdn2d.setup_filter builds it. */
export function defaultResampleFilter(): Float32Array {
  const k = [1, 3, 3, 1];
  const out = new Float32Array(16);
  for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) out[y * 4 + x] = (k[y]! * k[x]!) / 64;
  return out;
}

export function randomStateDict(shape: GeneratorShape, seed: number): StateDict {
  checkShape(shape);
  const rng = new SeededRandom(seed);
  const dict: StateDict = new Map();
  const lr = shape.mappingLrMultiplier;
  for (const spec of expectedTensors(shape)) {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const leaf = spec.name.slice(spec.name.lastIndexOf('.') + 1);
    let data: Float32Array;
    if (spec.name === 'mapping.w_avg') continue; // computed below from the mapping itself
    if (leaf === 'resample_filter') data = defaultResampleFilter();
    else if (spec.name.startsWith('mapping.')) {
      // stylegan2-ada stores mapping parameters divided by the lr multiplier (equalized lr).
      data = leaf === 'weight' ? rng.normals(n, 1 / lr) : rng.normals(n, 0.1 / lr);
    } else if (spec.name.endsWith('.affine.bias')) data = rng.normals(n, 0.1, 1); // bias_init=1
    else if (leaf === 'bias') data = rng.normals(n, 0.1);
    else if (leaf === 'noise_strength') data = Float32Array.of(0.05 + 0.1 * rng.uniform());
    else if (spec.name.endsWith('.torgb.weight')) data = rng.normals(n, 0.25); // keeps the image mostly within -1..1
    else data = rng.normals(n);
    dict.set(spec.name, { shape: spec.shape, data });
  }
  dict.set('mapping.w_avg', { shape: [shape.wDim], data: estimateWAvg(dict, shape, rng, 64) });
  return dict;
}

/** Mean of the mapping network's output over `samples` random z (what training tracks as w_avg). */
export function estimateWAvg(dict: StateDict, shape: GeneratorShape, rng: SeededRandom, samples: number): Float32Array {
  const sum = new Float64Array(shape.wDim);
  for (let s = 0; s < samples; s++) {
    const w = mappingForward(dict, shape, rng.normals(shape.zDim));
    for (let i = 0; i < w.length; i++) sum[i]! += w[i]!;
  }
  return Float32Array.from(sum, (v) => v / samples);
}

/** Plain-JS mapping network for one z (used for w_avg; the ONNX graph does the real work). */
export function mappingForward(dict: StateDict, shape: GeneratorShape, z: Float32Array): Float64Array {
  let ms = 0;
  for (const v of z) ms += v * v;
  const norm = 1 / Math.sqrt(ms / z.length + 1e-8);
  let x = Float64Array.from(z, (v) => v * norm);
  const lr = shape.mappingLrMultiplier;
  for (let l = 0; l < shape.mappingLayers; l++) {
    const w = dict.get(`mapping.fc${l}.weight`)!;
    const b = dict.get(`mapping.fc${l}.bias`)!;
    const [out, inF] = w.shape as [number, number];
    const gain = lr / Math.sqrt(inF);
    const y = new Float64Array(out);
    for (let o = 0; o < out; o++) {
      let acc = 0;
      const row = o * inF;
      for (let i = 0; i < inF; i++) acc += w.data[row + i]! * x[i]!;
      const v = acc * gain + b.data[o]! * lr;
      y[o] = (v < 0 ? 0.2 * v : v) * Math.SQRT2;
    }
    x = y;
  }
  return x;
}
