/**
 * First-order-plus-dead-time (FOPDT) model of a zone: duty in, temperature out.
 *
 *   T(t) = T0 + K * du * (1 - exp(-(t - t0 - theta) / tau))   for t >= t0 + theta, T0 before
 *
 * K: C per unit duty (negative: more airflow, cooler), tau: time constant, s, theta: dead time, s.
 * The plant (REFERENCE.md 4: C dT/dt = P - G(x)(T - Tamb)) is first order once its fans have
 * settled; the fans' rpm lag and the sensor's sample period make the dead time.
 *
 * fitStep() identifies the model from a step record by least squares: for each candidate dead
 * time (on the sample grid, then refined) a golden-section search over log(tau), with the step
 * size and the starting level solved exactly (linear least squares) at each (theta, tau).
 */

export interface Fopdt {
  /** C per unit duty */
  gain: number;
  /** s */
  timeConstantS: number;
  /** s */
  deadTimeS: number;
}

export interface FitQuality {
  /** 1 - SSE/SST over the record from the step on */
  r2: number;
  /** root mean square residual, C */
  rmsC: number;
  samples: number;
}

export interface StepRecordPoint {
  /** seconds since the step */
  t: number;
  /** C */
  temperature: number;
}

export interface StepFit extends Fopdt, FitQuality {
  /** temperature before the step, C (fitted) */
  initialC: number;
  /** temperature the model settles at, C */
  finalC: number;
  /** duty before and after */
  fromDuty: number;
  toDuty: number;
}

/** unit step response shape at time t: 0 before the dead time, then 1 - e^(-(t-theta)/tau) */
function shape(t: number, theta: number, tau: number): number {
  return t <= theta ? 0 : 1 - Math.exp(-(t - theta) / tau);
}

/** Least squares y ~ a + b*s(t) for fixed theta, tau: returns a, b, sse. */
function solveLinear(points: ReadonlyArray<StepRecordPoint>, theta: number, tau: number): { a: number; b: number; sse: number } {
  let n = 0;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let sxy = 0;
  for (const p of points) {
    const x = shape(p.t, theta, tau);
    n += 1;
    sx += x;
    sy += p.temperature;
    sxx += x * x;
    sxy += x * p.temperature;
  }
  const det = n * sxx - sx * sx;
  const b = Math.abs(det) > 1e-12 ? (n * sxy - sx * sy) / det : 0;
  const a = (sy - b * sx) / n;
  let sse = 0;
  for (const p of points) {
    const r = p.temperature - (a + b * shape(p.t, theta, tau));
    sse += r * r;
  }
  return { a, b, sse };
}

function golden(f: (x: number) => number, lo: number, hi: number, iterations = 60): { x: number; y: number } {
  const g = (Math.sqrt(5) - 1) / 2;
  let a = lo;
  let b = hi;
  let c = b - g * (b - a);
  let d = a + g * (b - a);
  let fc = f(c);
  let fd = f(d);
  for (let k = 0; k < iterations; k++) {
    if (fc < fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - g * (b - a);
      fc = f(c);
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + g * (b - a);
      fd = f(d);
    }
  }
  return fc < fd ? { x: c, y: fc } : { x: d, y: fd };
}

/**
 * Fit a FOPDT model to a step: `points` from the step on (t = 0 is the step), with a few before
 * it (t < 0) to anchor the starting level. Throws when the record cannot carry a fit (too short,
 * no change of duty, no response).
 */
export function fitStep(points: ReadonlyArray<StepRecordPoint>, fromDuty: number, toDuty: number): StepFit {
  const du = toDuty - fromDuty;
  if (!(Math.abs(du) > 1e-6)) throw new Error('fitStep: the duty did not change (from = to)');
  const after = points.filter((p) => p.t >= 0);
  if (after.length < 10) throw new Error(`fitStep: ${after.length} samples after the step; at least 10 are needed`);
  const span = after[after.length - 1]!.t;
  if (!(span > 0)) throw new Error('fitStep: the record has no duration after the step');
  const dts = after.slice(1).map((p, k) => p.t - after[k]!.t).filter((d) => d > 0);
  const dt = dts.length ? dts.reduce((s, d) => s + d, 0) / dts.length : span / after.length;

  const tauLo = Math.max(dt / 4, 1e-3);
  const tauHi = Math.max(span * 4, tauLo * 10);
  const bestTau = (theta: number) => golden((lt) => solveLinear(points, theta, Math.exp(lt)).sse, Math.log(tauLo), Math.log(tauHi));
  // Coarse dead-time grid (sample period steps up to a third of the record), then refine.
  const thetaMax = span / 3;
  let best = { theta: 0, lt: 0, sse: Infinity };
  const stepTheta = Math.max(dt, thetaMax / 200);
  for (let theta = 0; theta <= thetaMax; theta += stepTheta) {
    const r = bestTau(theta);
    if (r.y < best.sse) best = { theta, lt: r.x, sse: r.y };
  }
  const refined = golden((theta) => bestTau(theta).y, Math.max(0, best.theta - stepTheta), Math.min(thetaMax, best.theta + stepTheta), 40);
  const theta = refined.y <= best.sse ? refined.x : best.theta;
  const tau = Math.exp(bestTau(theta).x);
  const { a, b, sse } = solveLinear(points, theta, tau);

  const mean = points.reduce((s, p) => s + p.temperature, 0) / points.length;
  const sst = points.reduce((s, p) => s + (p.temperature - mean) ** 2, 0);
  if (!(Math.abs(b) > 1e-9)) throw new Error('fitStep: the temperature did not respond to the step');
  return {
    gain: b / du,
    timeConstantS: tau,
    deadTimeS: theta,
    initialC: a,
    finalC: a + b,
    fromDuty,
    toDuty,
    r2: sst > 0 ? 1 - sse / sst : 0,
    rmsC: Math.sqrt(sse / points.length),
    samples: points.length,
  };
}

/** The model's response to a duty step of `du` at t = 0, from `initialC`. */
export function fopdtStep(model: Fopdt, initialC: number, du: number, t: number): number {
  return initialC + model.gain * du * shape(t, model.deadTimeS, model.timeConstantS);
}
