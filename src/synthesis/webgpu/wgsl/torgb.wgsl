// ToRGB (modulated 1x1 conv, no demodulation) + bias + clamp, added to the up-sampled skip image
// (upfirdn2d.upsample2d as the graph's depthwise transposed conv: stride 2, pads 1, 4x4 kernel).

struct Params {
  n: u32, inC: u32, imgC: u32, res: u32,
  rOff: u32, rStride: u32, hasPrev: u32, clampV: f32,
  up: array<vec4<f32>, 4>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;      // [n, inC, res, res]
@group(0) @binding(2) var<storage, read> wgt: array<f32>;    // [imgC, inC]
@group(0) @binding(3) var<storage, read> bias: array<f32>;   // [imgC]
@group(0) @binding(4) var<storage, read> styles: array<f32>; // rgb styles [n, Lr, P]
@group(0) @binding(5) var<storage, read> prev: array<f32>;   // [n, imgC, res/2, res/2]
@group(0) @binding(6) var<storage, read_write> img: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let plane = p.res * p.res;
  let idx = gid.x + gid.y * 65535u * 64u;
  if (idx >= p.n * plane) { return; }
  let n = idx / plane;
  let pix = idx % plane;
  var acc = vec4<f32>(0.0);
  let xb = n * p.inC * plane + pix;
  let sb = n * p.rStride + p.rOff;
  for (var i = 0u; i < p.inC; i++) {
    let v = x[xb + i * plane] * styles[sb + i];
    for (var c = 0u; c < p.imgC; c++) { acc[c] += wgt[c * p.inC + i] * v; }
  }
  let u = i32(pix / p.res);
  let w = i32(pix % p.res);
  let pr = i32(p.res / 2u);
  for (var c = 0u; c < p.imgC; c++) {
    var v = acc[c] + bias[c];
    if (p.clampV > 0.0) { v = clamp(v, -p.clampV, p.clampV); }
    if (p.hasPrev != 0u) {
      var s = 0.0;
      for (var a = 0; a < 4; a++) {
        let ty = u + 1 - a;
        if ((ty & 1) != 0) { continue; }
        let j = ty / 2;
        if (j < 0 || j >= pr) { continue; }
        for (var b = 0; b < 4; b++) {
          let tx = w + 1 - b;
          if ((tx & 1) != 0) { continue; }
          let l = tx / 2;
          if (l < 0 || l >= pr) { continue; }
          s += prev[((n * p.imgC + c) * u32(pr) + u32(j)) * u32(pr) + u32(l)] * p.up[a][b];
        }
      }
      v = s + v;
    }
    img[(n * p.imgC + c) * plane + pix] = v;
  }
}
