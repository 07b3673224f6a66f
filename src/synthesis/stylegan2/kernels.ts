/**
 * Static weight rearrangements for the up-sampling conv (conv0) of each block. stylegan2-ada
 * runs it as a stride-2 transposed 3x3 conv followed by the [1,3,3,1] FIR filter (upfirdn2d,
 * gain 4); these turn that into shapes GPU conv kernels handle well. All index conventions:
 * weight[o][i][ky][kx] as in the state dict; ConvTranspose kernel k[n - 2j] (no flip).
 */

/** ConvTranspose weight [I, O, k, k] from conv weight [O, I, k, k] (stylegan2-ada's w.transpose(0, 1)). */
export function transposeOI(w: Float32Array, O: number, I: number, k: number): Float32Array {
  const out = new Float32Array(w.length);
  const kk = k * k;
  for (let o = 0; o < O; o++) for (let i = 0; i < I; i++) out.set(w.subarray((o * I + i) * kk, (o * I + i + 1) * kk), (i * O + o) * kk);
  return out;
}

/**
 * Sub-pixel form of the stride-2 transposed 3x3 conv: a 2x2 conv (pads 1) with 4*O outputs,
 * channel o*4 + ry*2 + rx holding output phase (ry, rx), for DepthToSpace(CRD, 2).
 * Phase r of the 1-D transposed conv, taps at x[m-1], x[m]: r=0 -> [w2, w0], r=1 -> [0, w1].
 * Its output is one row/column longer than the transposed conv's (the extra one is exactly 0).
 */
export function subpixelWeights(w: Float32Array, O: number, I: number): Float32Array {
  const tap = [
    [2, 0],
    [-1, 1],
  ]; // tap[r][a] = kernel index or -1 for zero
  const out = new Float32Array(4 * O * I * 4);
  for (let o = 0; o < O; o++)
    for (let ry = 0; ry < 2; ry++)
      for (let rx = 0; rx < 2; rx++)
        for (let i = 0; i < I; i++)
          for (let a = 0; a < 2; a++)
            for (let b = 0; b < 2; b++) {
              const ky = tap[ry]![a]!;
              const kx = tap[rx]![b]!;
              if (ky < 0 || kx < 0) continue;
              out[(((o * 4 + ry * 2 + rx) * I + i) * 2 + a) * 2 + b] = w[((o * I + i) * 3 + ky) * 3 + kx]!;
            }
  return out;
}

/**
 * The transposed 3x3 conv and the FIR filter (gain 4) folded into one 6x6 transposed kernel,
 * then split into its 4 phases: a 3x3 conv (pads 1) with 4*O outputs for DepthToSpace(CRD, 2)
 * whose output is the block's up-sampled activation exactly (no FIR pass left). Phase r uses
 * K6[r+4], K6[r+2], K6[r] at x[m-1], x[m], x[m+1]. Costs 4x the multiplies of the transposed conv.
 */
export function fusedUpsampleWeights(w: Float32Array, O: number, I: number, fir: Float32Array): Float32Array {
  const out = new Float32Array(4 * O * I * 9);
  const k6 = new Float64Array(36);
  for (let o = 0; o < O; o++)
    for (let i = 0; i < I; i++) {
      k6.fill(0);
      const base = (o * I + i) * 9;
      // full 2-D convolution of the 3x3 kernel with the 4x4 filter (times gain 4)
      for (let ky = 0; ky < 3; ky++)
        for (let kx = 0; kx < 3; kx++) {
          const v = w[base + ky * 3 + kx]!;
          if (v === 0) continue;
          for (let fy = 0; fy < 4; fy++) for (let fx = 0; fx < 4; fx++) k6[(ky + fy) * 6 + kx + fx]! += v * fir[fy * 4 + fx]! * 4;
        }
      for (let ry = 0; ry < 2; ry++)
        for (let rx = 0; rx < 2; rx++)
          for (let a = 0; a < 3; a++)
            for (let b = 0; b < 3; b++) {
              const qy = ry + 4 - 2 * a;
              const qx = rx + 4 - 2 * b;
              out[(((o * 4 + ry * 2 + rx) * I + i) * 3 + a) * 3 + b] = k6[qy * 6 + qx]!;
            }
    }
  return out;
}

/** Depthwise FIR kernel [C, 1, 4, 4] with gain 4 (upfirdn2d flips the filter; [1,3,3,1] is symmetric, flip anyway). */
export function firDepthwise(fir: Float32Array, C: number): Float32Array {
  const out = new Float32Array(C * 16);
  for (let c = 0; c < C; c++) for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) out[c * 16 + y * 4 + x] = fir[(3 - y) * 4 + (3 - x)]! * 4;
  return out;
}

/**
 * upfirdn2d.upsample2d of the skip image as a depthwise transposed conv [C, 1, 4, 4], stride 2,
 * pads 1: y[n] = sum_j x[j] f[n + 1 - 2j] (gain 4).
 */
export function imageUpsampleTranspose(fir: Float32Array, C: number): Float32Array {
  return firDepthwise(fir, C); // same kernel values; the transposed conv places them
}

/**
 * The same image up-sampling as a grouped 3x3 conv (pads 1) with 4 phase outputs per channel,
 * for DepthToSpace(CRD, 2): phase r uses f[r+3]... i.e. r=0 -> [f3, f1, 0], r=1 -> [0, f2, f0].
 */
export function imageUpsampleSubpixel(fir: Float32Array, C: number): Float32Array {
  const tap = [
    [3, 1, -1],
    [-1, 2, 0],
  ];
  const out = new Float32Array(C * 4 * 9);
  for (let c = 0; c < C; c++)
    for (let ry = 0; ry < 2; ry++)
      for (let rx = 0; rx < 2; rx++)
        for (let a = 0; a < 3; a++)
          for (let b = 0; b < 3; b++) {
            const fy = tap[ry]![a]!;
            const fx = tap[rx]![b]!;
            if (fy < 0 || fx < 0) continue;
            // flip as upfirdn2d does (no-op for the symmetric default filter)
            out[((c * 4 + ry * 2 + rx) * 3 + a) * 3 + b] = fir[(3 - fy) * 4 + (3 - fx)]! * 4;
          }
  return out;
}
