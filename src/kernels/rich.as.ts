/**
 * AssemblyScript source of rich.wasm: the per-frame work of features/rich.ts's extractor around its
 * FFT (which stays with fft.js): the sliding window and its Hann weighting, then magnitudes, flux,
 * the sustained minimum and the harmonic / percussive / chroma sums.
 *
 * Same numbers as the JavaScript path: element-wise steps (products, square roots, minima of
 * non-negative numbers) run two bins per f64x2 vector, which changes no result; every sum is taken
 * bin by bin in the JavaScript order.
 *
 * One instance per extractor; `setup` gives the byte addresses of its buffers (rich-simd.ts lays them
 * out): history, window and windowed input (W f64), spectrum (2W f64, interleaved, from the FFT),
 * magnitudes, previous square-root magnitudes and the minimum (bins f64 each), a ring of k magnitude
 * rows, pitch classes (bins i32, -1 for none), the incoming frame (n f32) and the results (16 f64:
 * flux, harmonic, percussive, 12 chroma, then the frame's sum of squares).
 */

let W: i32 = 0;
let N: i32 = 0;
let BINS: i32 = 0;
let K: i32 = 0;
let hist: usize = 0;
let win: usize = 0;
let windowed: usize = 0;
let spec: usize = 0;
let mags: usize = 0;
let prev: usize = 0;
let minimum: usize = 0;
let ring: usize = 0;
let pitch: usize = 0;
let frame: usize = 0;
let out: usize = 0;

export function setup(w: i32, n: i32, bins: i32, k: i32, h: usize, wi: usize, wd: usize, sp: usize, mg: usize, pr: usize, mn: usize, rg: usize, pc: usize, fr: usize, o: usize): void {
  W = w;
  N = n;
  BINS = bins;
  K = k;
  hist = h;
  win = wi;
  windowed = wd;
  spec = sp;
  mags = mg;
  prev = pr;
  minimum = mn;
  ring = rg;
  pitch = pc;
  frame = fr;
  out = o;
}

/** Slides the frame at `frame` into the history and weights it into `windowed`; the sum of squares goes to out[15]. */
export function slide(): void {
  const keep = W - N;
  memory.copy(hist, hist + (<usize>N << 3), <usize>keep << 3);
  let sq = 0.0;
  for (let i = 0; i < N; i++) {
    const v = <f64>load<f32>(frame + (<usize>i << 2));
    store<f64>(hist + (<usize>(keep + i) << 3), v);
    sq += v * v;
  }
  store<f64>(out + 15 * 8, sq);
  for (let i = 0; i < W; i += 2) {
    const o = <usize>i << 3;
    v128.store(windowed + o, f64x2.mul(v128.load(hist + o), v128.load(win + o)));
  }
}

/**
 * After the FFT of `windowed` into `spec`: frame `t` (0-based count of frames pushed before this one).
 * Writes flux, harmonic and percussive sums and the 12 chroma sums to out[0..14].
 */
export function analyse(t: i32): void {
  let flux = 0.0;
  const first = t === 0;
  const even = BINS & ~1;
  for (let b = 0; b < even; b += 2) {
    const v0 = v128.load(spec + (<usize>b << 4));
    const v1 = v128.load(spec + (<usize>b << 4), 16);
    const re = v128.shuffle<f64>(v0, v1, 0, 2);
    const im = v128.shuffle<f64>(v0, v1, 1, 3);
    const m = f64x2.sqrt(f64x2.add(f64x2.mul(re, re), f64x2.mul(im, im)));
    v128.store(mags + (<usize>b << 3), m);
    const c = f64x2.sqrt(m);
    const d = f64x2.sub(c, v128.load(prev + (<usize>b << 3)));
    v128.store(prev + (<usize>b << 3), c);
    const d0 = f64x2.extract_lane(d, 0);
    const d1 = f64x2.extract_lane(d, 1);
    if (!first && d0 > 0) flux += d0;
    if (!first && d1 > 0) flux += d1;
  }
  for (let b = even; b < BINS; b++) {
    const re = load<f64>(spec + (<usize>b << 4));
    const im = load<f64>(spec + (<usize>b << 4), 8);
    const m = Math.sqrt(re * re + im * im);
    store<f64>(mags + (<usize>b << 3), m);
    const c = Math.sqrt(m);
    const d = c - load<f64>(prev + (<usize>b << 3));
    if (!first && d > 0) flux += d;
    store<f64>(prev + (<usize>b << 3), c);
  }
  const rowBytes = <usize>BINS << 3;
  memory.copy(ring + <usize>(t % K) * rowBytes, mags, rowBytes);
  // nothing counts as sustained until k frames have come
  if (t + 1 >= K) {
    memory.copy(minimum, ring, rowBytes);
    for (let j = 1; j < K; j++) {
      const row = ring + <usize>j * rowBytes;
      let b = 0;
      for (; b < even; b += 2) {
        const o = <usize>b << 3;
        v128.store(minimum + o, f64x2.min(v128.load(minimum + o), v128.load(row + o)));
      }
      for (; b < BINS; b++) {
        const o = <usize>b << 3;
        store<f64>(minimum + o, min(load<f64>(minimum + o), load<f64>(row + o)));
      }
    }
  } else memory.fill(minimum, 0, rowBytes);
  let harm = 0.0;
  let perc = 0.0;
  for (let c = 0; c < 12; c++) store<f64>(out + (<usize>(3 + c) << 3), 0.0);
  for (let b = 0; b < BINS; b++) {
    const o = <usize>b << 3;
    const s = load<f64>(minimum + o);
    const e = s * s;
    harm += e;
    const p = load<f64>(mags + o) - s;
    perc += p * p;
    const pc = load<i32>(pitch + (<usize>b << 2));
    if (pc >= 0) {
      const at = out + (<usize>(3 + pc) << 3);
      store<f64>(at, load<f64>(at) + e);
    }
  }
  store<f64>(out, flux);
  store<f64>(out + 8, harm);
  store<f64>(out + 16, perc);
}
