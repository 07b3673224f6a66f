// uint8 frames, NHWC: (x * 127.5 + 128) clamped to [0, 255] and truncated, as the graph does;
// four bytes per invocation.

struct Params { n: u32, c: u32, plane: u32, bytes: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> img: array<f32>;     // [n, c, plane]
@group(0) @binding(2) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let word = gid.x + gid.y * 65535u * 64u;
  if (word * 4u >= p.bytes) { return; }
  var packed = 0u;
  for (var j = 0u; j < 4u; j++) {
    let e = word * 4u + j;
    if (e >= p.bytes) { break; }
    let pix = e / p.c;
    let c = e % p.c;
    let n = pix / p.plane;
    let q = pix % p.plane;
    let v = clamp(img[(n * p.c + c) * p.plane + q] * 127.5 + 128.0, 0.0, 255.0);
    packed |= (u32(v) & 255u) << (8u * j);
  }
  out[word] = packed;
}
