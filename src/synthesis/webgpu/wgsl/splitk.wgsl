// Sums the K slices of a split conv GEMM (layers with too few output tiles to fill the GPU run
// their K range in slices, each writing raw sums), then demodulates and applies the conv
// epilogue: noise, bias, lrelu, clamp. One invocation per output value of the dispatch's grid.

struct Params {
  n: u32, outC: u32, gh: u32, gw: u32,
  oh: u32, ow: u32, sy: u32, sx: u32,
  ry: u32, rx: u32, slices: u32, flags: u32,     // bit0 epilogue, bit1 noise const, bit2 noise input
  dOff: u32, dStride: u32, clampV: f32, noiseGain: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> part: array<f32>;   // [slices, outC, n * grid]
@group(0) @binding(2) var<storage, read> demod: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> noise: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let grid = p.gh * p.gw;
  let cols = p.n * grid;
  let idx = gid.x + gid.y * 65535u * 64u;
  if (idx >= p.outC * cols) { return; }
  let o = idx / cols;
  let q = idx % cols;
  var v = 0.0;
  for (var s = 0u; s < p.slices; s++) { v += part[(s * p.outC + o) * cols + q]; }
  let n = q / grid;
  let r = q % grid;
  let oy = (r / p.gw) * p.sy + p.ry;
  let ox = (r % p.gw) * p.sx + p.rx;
  let pix = oy * p.ow + ox;
  v *= demod[n * p.dStride + p.dOff + o];
  if ((p.flags & 1u) != 0u) {
    var nz = 0.0;
    if ((p.flags & 2u) != 0u) { nz = noise[pix]; }
    if ((p.flags & 4u) != 0u) { nz = noise[n * p.oh * p.ow + pix] * p.noiseGain; }
    v = v + nz + bias[o];
    v = select(0.2 * v, v, v >= 0.0);
    v = clamp(v, -p.clampV, p.clampV);
  }
  y[((n * p.outC + o) * p.oh + oy) * p.ow + ox] = v;
}
