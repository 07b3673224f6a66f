// Modulated, demodulated convolution as an implicit GEMM over the whole batch:
//   out[n, o, q] = d[n, o] * sum_{i, t} w[(i, t), o] * s[n, i] * x[n, i, q + tap_t]
// M = output channels, N = batch * output pixels, K = input channels * taps. The style scales the
// activations as they are gathered into workgroup memory (weights stay shared by the batch) and
// the demodulation factor scales the result. One dispatch covers a plain 3x3 conv (9 taps, stride 1)
// or one phase of the stride-2 transposed conv (its taps, written every other pixel).
// The epilogue adds noise and bias, then lrelu and the clamp (gains are folded into the tables).
// Tiles: BM = 16 * TM output channels by BN = 16 * TN pixels, BK deep; TM, TN and BK are filled in
// by the engine for each layer's shape.

const TM: u32 = $TMu;
const TN: u32 = $TNu;
const BK: u32 = $BKu;
const BM: u32 = 16u * TM;
const BN: u32 = 16u * TN;
const A_PER: u32 = (BK * BM + 255u) / 256u;
const B_PER: u32 = BK * BN / 256u;
const B_ROWS: u32 = 256u / BN;

struct Params {
  n: u32, inC: u32, outC: u32, taps: u32,
  h: u32, w: u32, gh: u32, gw: u32,           // input size; output grid of this dispatch
  oh: u32, ow: u32, sy: u32, sx: u32,         // output tensor size; grid-to-output stride
  ry: u32, rx: u32, k: u32, flags: u32,       // grid-to-output offset; K = inC * taps; bit0 epilogue, bit1 noise const, bit2 noise input
  sOff: u32, sStride: u32, dOff: u32, dStride: u32,
  clampV: f32, noiseGain: f32, _p0: u32, _p1: u32,
  tap: array<vec4<i32>, 9>,                   // (dy, dx, -, -) per tap
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<f32>;     // [K, outC]
@group(0) @binding(3) var<storage, read> styles: array<f32>;
@group(0) @binding(4) var<storage, read> demod: array<f32>;
@group(0) @binding(5) var<storage, read> bias: array<f32>;
@group(0) @binding(6) var<storage, read> noise: array<f32>;  // const [oh * ow] or input [n, oh * ow]
@group(0) @binding(7) var<storage, read_write> y: array<f32>;

var<workgroup> As: array<f32, BK * BM>;
var<workgroup> Bs: array<f32, BK * BN>;

@compute @workgroup_size(16, 16)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let tid = lid.y * 16u + lid.x;
  let o0 = wid.y * BM;
  let p0 = (wid.x + wid.z * 32768u) * BN; // pixel tiles past 32768 continue in z
  let grid = p.gh * p.gw;
  let total = p.n * grid;

  // the pixel this thread gathers for B: fixed for the whole K loop
  let pb = tid % BN;
  let gp = p0 + pb;
  let pvalid = gp < total;
  let bn = gp / grid;
  let br = gp % grid;
  let by = i32(br / p.gw);
  let bx = i32(br % p.gw);
  let xBase = bn * p.inC * p.h * p.w;
  let sBase = bn * p.sStride + p.sOff;
  let hi = i32(p.h);
  let wi = i32(p.w);

  var acc: array<f32, TM * TN>;
  for (var i = 0u; i < TM * TN; i++) { acc[i] = 0.0; }

  for (var k0 = 0u; k0 < p.k; k0 += BK) {
    for (var j = 0u; j < A_PER; j++) {
      let e = tid + j * 256u;
      if (e < BK * BM) {
        let kk = e / BM;
        let mm = e % BM;
        let gk = k0 + kk;
        let go = o0 + mm;
        var v = 0.0;
        if (gk < p.k && go < p.outC) { v = wt[gk * p.outC + go]; }
        As[e] = v;
      }
    }
    for (var j = 0u; j < B_PER; j++) {
      let kk = tid / BN + j * B_ROWS;
      let gk = k0 + kk;
      var v = 0.0;
      if (pvalid && gk < p.k) {
        let ci = gk / p.taps;
        let t = p.tap[gk % p.taps];
        let iy = by + t.x;
        let ix = bx + t.y;
        if (iy >= 0 && iy < hi && ix >= 0 && ix < wi) {
          v = x[xBase + (ci * p.h + u32(iy)) * p.w + u32(ix)] * styles[sBase + ci];
        }
      }
      Bs[kk * BN + pb] = v;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
      var a: array<f32, TM>;
      var b: array<f32, TN>;
      for (var i = 0u; i < TM; i++) { a[i] = As[kk * BM + lid.y + i * 16u]; }
      for (var j = 0u; j < TN; j++) { b[j] = Bs[kk * BN + lid.x + j * 16u]; }
      for (var i = 0u; i < TM; i++) {
        for (var j = 0u; j < TN; j++) { acc[i * TN + j] = fma(a[i], b[j], acc[i * TN + j]); }
      }
    }
    workgroupBarrier();
  }

  for (var j = 0u; j < TN; j++) {
    let q = p0 + lid.x + j * 16u;
    if (q >= total) { continue; }
    let n = q / grid;
    let r = q % grid;
    let oy = (r / p.gw) * p.sy + p.ry;
    let ox = (r % p.gw) * p.sx + p.rx;
    let pix = oy * p.ow + ox;
    var nz = 0.0;
    if ((p.flags & 2u) != 0u) { nz = noise[pix]; }
    if ((p.flags & 4u) != 0u) { nz = noise[n * p.oh * p.ow + pix] * p.noiseGain; }
    for (var i = 0u; i < TM; i++) {
      let o = o0 + lid.y + i * 16u;
      if (o >= p.outC) { continue; }
      var v = acc[i * TN + j] * demod[n * p.dStride + p.dOff + o];
      if ((p.flags & 1u) != 0u) {
        v = v + nz + bias[o];
        v = select(0.2 * v, v, v >= 0.0);
        v = clamp(v, -p.clampV, p.clampV);
      }
      y[((n * p.outC + o) * p.oh + oy) * p.ow + ox] = v;
    }
  }
}
