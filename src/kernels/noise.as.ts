/**
 * AssemblyScript source of noise.wasm: the draws of GANce's smoothed noise (latents/noise.ts); the
 * Gaussian filter, the RMS division and the scaling run in JavaScript, in place on shared memory.
 *
 * `gauss` draws numpy's legacy normals (MT19937, 53-bit doubles, Marsaglia's polar method, second value
 * first) into float32; the logarithm is imported, so it is the same deterministic one the JavaScript
 * path uses.
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
