// Mapping network: z normalisation, the fully connected layers (equalised-lr gains and lrelu's
// sqrt(2) already folded into the weights, as the ONNX graph folds them), and truncation.

struct Params {
  n: u32,       // batch
  inF: u32,     // input features
  outF: u32,    // output features
  mode: u32,    // 0: normalise z, 1: fc + lrelu, 2: truncation
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;      // [n, inF]
@group(0) @binding(2) var<storage, read> wt: array<f32>;     // fc: [inF, outF]; truncation: w_avg [outF]
@group(0) @binding(3) var<storage, read> b: array<f32>;      // fc: [outF]; truncation: psi [n]
@group(0) @binding(4) var<storage, read_write> y: array<f32>; // [n, outF]

var<workgroup> part: array<f32, 256>;

// 256 invocations per workgroup: 8 outputs, 32 lanes each splitting the dot product (a GEMV is
// latency-bound at batch 1: one thread per output waited on 512 loads in a row)
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let o = wid.x * 8u + lid.x / 32u;
  let lane = lid.x % 32u;
  let n = wid.y;
  if (p.mode == 1u) {
    var acc = 0.0;
    if (o < p.outF) {
      for (var k = lane; k < p.inF; k += 32u) { acc += x[n * p.inF + k] * wt[k * p.outF + o]; }
    }
    part[lid.x] = acc;
    workgroupBarrier();
    for (var step = 16u; step > 0u; step >>= 1u) {
      if (lane < step) { part[lid.x] += part[lid.x + step]; }
      workgroupBarrier();
    }
    if (lane == 0u && o < p.outF) {
      let v = part[lid.x] + b[o];
      y[n * p.outF + o] = select(0.2 * v, v, v >= 0.0);
    }
    return;
  }
  if (lane != 0u || o >= p.outF || n >= p.n) { return; }
  if (p.mode == 0u) {
    // normalize_2nd_moment: x / sqrt(mean(x^2) + 1e-8); every thread of the sample recomputes the mean
    var ms = 0.0;
    for (var k = 0u; k < p.inF; k++) { let v = x[n * p.inF + k]; ms += v * v; }
    y[n * p.outF + o] = x[n * p.inF + o] / sqrt(ms / f32(p.inF) + 1e-8);
  } else {
    let avg = wt[o];
    y[n * p.outF + o] = avg + b[n] * (x[n * p.inF + o] - avg);
  }
}
