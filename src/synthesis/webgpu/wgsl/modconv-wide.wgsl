// Modulated, demodulated convolution as an implicit GEMM over the whole batch:
//   out[n, o, q] = d[n, o] * sum_{t, i} w[(t, i), o] * s[n, i] * x[n, i, q + tap_t]
// M = output channels, N = batch * output pixels, K = taps * input channels (tap-major, so a
// K tile needs one division, not one per element). The style scales the activations as they are
// gathered into workgroup memory (the weights stay shared by the batch); the demodulation factor
// scales the result. One dispatch is a plain 3x3 conv (9 taps, stride 1) or one phase of the
// stride-2 transposed conv (its taps, written every other pixel). The epilogue adds noise and
// bias, then lrelu and the clamp (gains are folded into the tables).
// Tiles: WX x WY threads, each TM output channels by TN pixels (BM = WY * TM, BN = WX * TN), BK
// deep; the engine fills these in per layer shape.
// Precision: H is f32, or f16 where the device has shader-f16 (the engine's precision option):
// then the weights are stored in f16, the styled activations are rounded to f16 as they are
// gathered (workgroup memory holds f16), the products are f16 arithmetic and their sums f32
// (f16 partial sums cost accuracy: see shaders.ts). Activation buffers stay f32.
$ENABLE
alias H = $H;

const TM: u32 = $TMu;
const TN: u32 = $TNu;
const BK: u32 = $BKu;
const WX: u32 = $WXu;
const WY: u32 = $WYu;
const BM: u32 = WY * TM;
const BN: u32 = WX * TN;
const A_PER: u32 = (BK * BM + 255u) / 256u;
const B_PER: u32 = BK * BN / 256u;
const B_ROWS: u32 = 256u / BN;

struct Params {
  n: u32, inC: u32, outC: u32, taps: u32,
  h: u32, w: u32, gh: u32, gw: u32,           // input size; output grid of this dispatch
  oh: u32, ow: u32, sy: u32, sx: u32,         // output tensor size; grid-to-output stride
  ry: u32, rx: u32, k: u32, flags: u32,       // grid-to-output offset; K = taps * inC; bit0 epilogue, bit1 noise const, bit2 noise input
  sOff: u32, sStride: u32, dOff: u32, dStride: u32,
  clampV: f32, noiseGain: f32, kLen: u32, _p1: u32,   // kLen: K per slice when split (bit3 of flags)
  tap: array<vec4<i32>, 9>,                   // (dy, dx, -, -) per tap
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<H>;       // [K, outC]
@group(0) @binding(3) var<storage, read> styles: array<f32>;
@group(0) @binding(4) var<storage, read> demod: array<f32>;
@group(0) @binding(5) var<storage, read> bias: array<f32>;
@group(0) @binding(6) var<storage, read> noise: array<f32>;  // const [oh * ow] or input [n, oh * ow]
@group(0) @binding(7) var<storage, read_write> y: array<f32>;

var<workgroup> As: array<H, BK * BM>;
var<workgroup> Bs: array<H, BK * BN>;

@compute @workgroup_size(WX, WY)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let tid = lid.y * WX + lid.x;
  let o0 = wid.y * BM;
  // split K: z is the slice, and the sums go out raw; else pixel tiles past 32768 continue in z
  let split = (p.flags & 8u) != 0u;
  let p0 = select((wid.x + wid.z * 32768u) * BN, wid.x * BN, split);
  let kBegin = select(0u, wid.z * p.kLen, split);
  let kEnd = select(p.k, min(p.k, kBegin + p.kLen), split);
  let grid = p.gh * p.gw;
  let total = p.n * grid;

  // the pixel this thread gathers for B: fixed for the whole K loop
  let pb = tid % BN;
  let kb0 = tid / BN;
  let gp = p0 + pb;
  let pvalid = gp < total;
  let bn = min(gp / grid, p.n - 1u);
  let br = gp % grid;
  let by = i32(br / p.gw);
  let bx = i32(br % p.gw);
  let plane = p.h * p.w;
  let xBase = bn * p.inC * plane;
  let sBase = bn * p.sStride + p.sOff;
  let hi = i32(p.h);
  let wi = i32(p.w);

  var acc: array<f32, TM * TN>;
  for (var i = 0u; i < TM * TN; i++) { acc[i] = 0.0; }

  for (var k0 = kBegin; k0 < kEnd; k0 += BK) {
    for (var j = 0u; j < A_PER; j++) {
      let e = tid + j * 256u;
      if (e < BK * BM) {
        let kk = e / BM;
        let mm = e % BM;
        let gk = k0 + kk;
        let go = o0 + mm;
        var v = H(0.0);
        if (gk < kEnd && go < p.outC) { v = wt[gk * p.outC + go]; }
        As[e] = v;
      }
    }
    let t0 = k0 / p.inC;
    let c0 = k0 % p.inC;
    for (var j = 0u; j < B_PER; j++) {
      let kk = kb0 + j * B_ROWS;
      var ci = c0 + kk;
      var t = t0;
      while (ci >= p.inC) { ci -= p.inC; t += 1u; }
      var v = H(0.0);
      if (pvalid && t < p.taps && k0 + kk < kEnd) {
        let tp = p.tap[t];
        let iy = by + tp.x;
        let ix = bx + tp.y;
        if (iy >= 0 && iy < hi && ix >= 0 && ix < wi) {
          v = H(x[xBase + ci * plane + u32(iy) * p.w + u32(ix)] * styles[sBase + ci]);
        }
      }
      Bs[kk * BN + pb] = v;
    }
    workgroupBarrier();
$INNER
    workgroupBarrier();
  }

  if (split) {
    for (var j = 0u; j < TN; j++) {
      let q = p0 + lid.x + j * WX;
      if (q >= total) { continue; }
      for (var i = 0u; i < TM; i++) {
        let o = o0 + lid.y + i * WY;
        if (o < p.outC) { y[(wid.z * p.outC + o) * total + q] = acc[i * TN + j]; }
      }
    }
    return;
  }
  for (var j = 0u; j < TN; j++) {
    let q = p0 + lid.x + j * WX;
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
      let o = o0 + lid.y + i * WY;
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
