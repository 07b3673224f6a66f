// Styles and demodulation factors of every layer at once, from the stacked tables the ONNX graph
// keeps: affine [L, wDim, P] + bias [L, P], and demod [L, P, Q] (squared, pre-scaled weights / 2).

struct Params {
  n: u32,
  layers: u32,  // L
  wDim: u32,
  width: u32,   // P (affine) or Q (demod)
  inner: u32,   // demod: P
  wStride: u32, // floats per sample in w (numWs * wDim for w input, wDim for mapped z)
  mode: u32,    // 0: affine, 1: demod
  _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;    // affine: w; demod: styles [n, L, P]
@group(0) @binding(2) var<storage, read> table: array<f32>;  // affine A, or demod W2
@group(0) @binding(3) var<storage, read> bias: array<f32>;   // affine B [L, P]
@group(0) @binding(4) var<storage, read> widx: array<u32>;   // affine: w index per layer
@group(0) @binding(5) var<storage, read_write> dst: array<f32>; // [n, L, width]

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  let l = gid.y;
  let n = gid.z;
  if (c >= p.width || l >= p.layers || n >= p.n) { return; }
  var acc = 0.0;
  if (p.mode == 0u) {
    let wb = n * p.wStride + widx[l] * p.wDim;
    for (var k = 0u; k < p.wDim; k++) { acc += src[wb + k] * table[(l * p.wDim + k) * p.width + c]; }
    acc += bias[l * p.width + c];
  } else {
    let sb = (n * p.layers + l) * p.inner;
    for (var i = 0u; i < p.inner; i++) {
      let s = src[sb + i];
      acc += s * s * table[(l * p.inner + i) * p.width + c];
    }
    // sqrt(2) * rsqrt(sum s^2 w^2 + 1e-8), the sqrt(2) folded into the table and the epsilon
    acc = 1.0 / sqrt(acc + 0.5e-8);
  }
  dst[(n * p.layers + l) * p.width + c] = acc;
}
