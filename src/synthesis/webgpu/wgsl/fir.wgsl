// Second half of the up-sampling conv: the 4x4 FIR filter (gain 4, pads 1) over the transposed
// conv's output [n, c, 2h+1, 2h+1] -> [n, c, 2h, 2h], then noise, bias, lrelu and the clamp.
// The demodulation factor was applied by the GEMM (it commutes with the per-channel filter).

struct Params {
  n: u32, c: u32, th: u32, oh: u32,   // channels, transposed-conv size, output size
  flags: u32, clampV: f32, noiseGain: f32, _p: u32,   // bit1 noise const, bit2 noise input
  f: array<vec4<f32>, 4>,             // the filter as the graph's depthwise Conv holds it
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> t: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> noise: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let plane = p.oh * p.oh;
  let idx = gid.x + gid.y * 65535u * 64u;
  if (idx >= p.n * p.c * plane) { return; }
  let pix = idx % plane;
  let nc = idx / plane;
  let n = nc / p.c;
  let ch = nc % p.c;
  let u = i32(pix / p.oh);
  let v = i32(pix % p.oh);
  let th = i32(p.th);
  let base = nc * p.th * p.th;
  var acc = 0.0;
  for (var a = 0; a < 4; a++) {
    let ty = u + a - 1;
    if (ty < 0 || ty >= th) { continue; }
    for (var b = 0; b < 4; b++) {
      let tx = v + b - 1;
      if (tx < 0 || tx >= th) { continue; }
      acc += t[base + u32(ty * th + tx)] * p.f[a][b];
    }
  }
  var nz = 0.0;
  if ((p.flags & 2u) != 0u) { nz = noise[pix]; }
  if ((p.flags & 4u) != 0u) { nz = noise[n * plane + pix] * p.noiseGain; }
  var r = acc + nz + bias[ch];
  r = select(0.2 * r, r, r >= 0.0);
  y[idx] = clamp(r, -p.clampV, p.clampV);
}
