/**
 * AssemblyScript source of noise.wasm: the elementwise parts of GANce's smoothed noise
 * (latents/noise.ts) around its Gaussian filter, which stays in JavaScript.
 *
 * `gauss` draws numpy's legacy normals (MT19937, 53-bit doubles, Marsaglia's polar method, second value
 * first) into float32; the logarithm is imported, so it is the same deterministic one the JavaScript
 * path uses. `sumSquares` is numpy's pairwise float32 sum of the squares; `divideExtremes` and
 * `scaleOffset` are the float32 RMS division and min-max scaling: float32 products, quotients and
 * sums are the correctly rounded results that JavaScript's Math.fround of the double operation
 * gives, and each sum runs in the JavaScript order.
 *
 * State: the MT19937 block (624 u32) at `mt`, then its index, the cached normal and its flag.
 */

@external("env", "ln")
declare function ln(x: f64): f64;

const NN = 624;
const MM = 397;
let mt: usize = 0;
let mti: i32 = NN;
let hasGauss = false;
let cached = 0.0;

export function seed(state: usize, s: u32): void {
  mt = state;
  store<u32>(mt, s);
  for (let i = 1; i < NN; i++) {
    const prev = load<u32>(mt + (<usize>(i - 1) << 2));
    store<u32>(mt + (<usize>i << 2), 1812433253 * (prev ^ (prev >>> 30)) + <u32>i);
  }
  mti = NN;
  hasGauss = false;
}

@inline
function twist(a: u32, b: u32, c: u32): u32 {
  const y = (a & 0x80000000) | (b & 0x7fffffff);
  return c ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
}

function generate(): void {
  let kk = 0;
  for (; kk < NN - MM; kk++) {
    const at = mt + (<usize>kk << 2);
    store<u32>(at, twist(load<u32>(at), load<u32>(at, 4), load<u32>(mt + (<usize>(kk + MM) << 2))));
  }
  for (; kk < NN - 1; kk++) {
    const at = mt + (<usize>kk << 2);
    store<u32>(at, twist(load<u32>(at), load<u32>(at, 4), load<u32>(mt + (<usize>(kk + MM - NN) << 2))));
  }
  const last = mt + (<usize>(NN - 1) << 2);
  store<u32>(last, twist(load<u32>(last), load<u32>(mt), load<u32>(mt + (<usize>(MM - 1) << 2))));
  mti = 0;
}

@inline
function nextU32(): u32 {
  if (mti >= NN) generate();
  const at = mti;
  mti = at + 1;
  let y = load<u32>(mt + (<usize>at << 2));
  y ^= y >>> 11;
  y ^= (y << 7) & 0x9d2c5680;
  y ^= (y << 15) & 0xefc60000;
  y ^= y >>> 18;
  return y;
}

@inline
function nextDouble(): f64 {
  const a = nextU32() >>> 5;
  const b = nextU32() >>> 6;
  return (<f64>a * 67108864.0 + <f64>b) / 9007199254740992.0;
}

/** `count` normals as float32 at `out`. */
export function gauss(out: usize, count: i32): void {
  for (let i = 0; i < count; i++) {
    let v: f64;
    if (hasGauss) {
      hasGauss = false;
      v = cached;
    } else {
      let x1: f64;
      let x2: f64;
      let r2: f64;
      do {
        x1 = 2.0 * nextDouble() - 1.0;
        x2 = 2.0 * nextDouble() - 1.0;
        r2 = x1 * x1 + x2 * x2;
      } while (r2 >= 1.0 || r2 == 0.0);
      const f = Math.sqrt((-2.0 * ln(r2)) / r2);
      cached = f * x1;
      hasGauss = true;
      v = f * x2;
    }
    store<f32>(out + (<usize>i << 2), <f32>v);
  }
}

/**
 * numpy's float32 pairwise sum of the squares x[i]^2 (audio/features/numpy-sum.ts has the algorithm):
 * fewer than 8 in order; up to 128 in 8 float32 accumulators, here the lanes of two f32x4 (lane-wise
 * float32 additions, the same roundings), combined ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
 * with the remainder added after; longer runs split at n / 2 rounded down to a multiple of 8.
 */
function pairwiseSquares(x: usize, n: i32): f32 {
  if (n < 8) {
    let res: f32 = 0;
    for (let i = 0; i < n; i++) {
      const v = load<f32>(x + (<usize>i << 2));
      res += v * v;
    }
    return res;
  }
  if (n <= 128) {
    let a = v128.load(x);
    let b = v128.load(x + 16);
    a = f32x4.mul(a, a);
    b = f32x4.mul(b, b);
    const end = n - (n % 8);
    let i = 8;
    for (; i < end; i += 8) {
      const at = x + (<usize>i << 2);
      const u = v128.load(at);
      const w = v128.load(at + 16);
      a = f32x4.add(a, f32x4.mul(u, u));
      b = f32x4.add(b, f32x4.mul(w, w));
    }
    let res: f32 =
      (f32x4.extract_lane(a, 0) + f32x4.extract_lane(a, 1) + (f32x4.extract_lane(a, 2) + f32x4.extract_lane(a, 3))) +
      (f32x4.extract_lane(b, 0) + f32x4.extract_lane(b, 1) + (f32x4.extract_lane(b, 2) + f32x4.extract_lane(b, 3)));
    for (; i < n; i++) {
      const v = load<f32>(x + (<usize>i << 2));
      res += v * v;
    }
    return res;
  }
  let n2 = n / 2;
  n2 -= n2 % 8;
  return pairwiseSquares(x, n2) + pairwiseSquares(x + (<usize>n2 << 2), n - n2);
}

/** sum of the float32 squares as numpy sums them (np.mean(np.square(x)) before its division) */
export function sumSquares(x: usize, count: i32): f64 {
  return <f64>pairwiseSquares(x, count);
}

/** x[i] = x[i] / d in float32; returns the extremes at `ext` (min, max as f32) */
export function divideExtremes(x: usize, count: i32, d: f32, ext: usize): void {
  const dv = f32x4.splat(d);
  let lo = f32x4.splat(Infinity);
  let hi = f32x4.splat(-Infinity);
  let i = 0;
  for (; i + 4 <= count; i += 4) {
    const at = x + (<usize>i << 2);
    const v = f32x4.div(v128.load(at), dv);
    v128.store(at, v);
    lo = f32x4.min(lo, v);
    hi = f32x4.max(hi, v);
  }
  let mn = min(min(f32x4.extract_lane(lo, 0), f32x4.extract_lane(lo, 1)), min(f32x4.extract_lane(lo, 2), f32x4.extract_lane(lo, 3)));
  let mx = max(max(f32x4.extract_lane(hi, 0), f32x4.extract_lane(hi, 1)), max(f32x4.extract_lane(hi, 2), f32x4.extract_lane(hi, 3)));
  for (; i < count; i++) {
    const at = x + (<usize>i << 2);
    const v = load<f32>(at) / d;
    store<f32>(at, v);
    mn = min(mn, v);
    mx = max(mx, v);
  }
  store<f32>(ext, mn);
  store<f32>(ext, mx, 4);
}

/** x[i] = x[i] * scale + offset, each step rounded to float32 */
export function scaleOffset(x: usize, count: i32, scale: f32, offset: f32): void {
  const s = f32x4.splat(scale);
  const o = f32x4.splat(offset);
  let i = 0;
  for (; i + 4 <= count; i += 4) {
    const at = x + (<usize>i << 2);
    v128.store(at, f32x4.add(f32x4.mul(v128.load(at), s), o));
  }
  for (; i < count; i++) {
    const at = x + (<usize>i << 2);
    store<f32>(at, load<f32>(at) * scale + offset);
  }
}
