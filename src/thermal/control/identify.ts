/**
 * Identifies the rig a GPU sits in while the zone runs: recursive least squares on the
 * first-order plant every GPU heatsink is (REFERENCE.md 4, src/thermal/plant/model.ts),
 *
 *   dT/dt = a P - (b0 + b1 x^n) (T - Ta) + c
 *
 * a = 1/C (C: heat capacity, J/K), b0 = G_still / C and b1 = (G_full - G_still) / C
 * (conductance to the air with the fans stopped and its rise to full airflow, per heat capacity),
 * x the zone duty (share of full airflow), n the airflow exponent of fin convection (fixed: it is
 * a shape, the two b terms carry the rig), Ta the intake air the zone reads and c what the air at
 * the fins has over it (pre-heated air, a neighbour's exhaust: the ambient offset is c / (b0 + b1 x^n)).
 * Read from it: the time constant 1 / (b0 + b1 x^n), the steady gain a / (b0 + b1 x^n) (C per W),
 * the duty a power needs to settle at a temperature, and, where the GPU reports no power, the
 * heat it must be dissipating to move as it does (a disturbance observer).
 *
 * Why the integral form: one update per window of `windowSeconds`, y = T(end) - T(start) against
 * the integrals of the regressors over the window. Whole-degree readings make a pointwise dT/dt
 * useless (0 or 5 C/s at 0.2 s); over a window their rounding is one small error at each end.
 * Window ends are the mean of the readings of their first and last seconds (sensor noise).
 *
 * Parameters are normalised by the prior (1 = the prior), so the covariance is well scaled; the
 * prior covariance lets the first load of a rig move them by about half their value.
 * Forgetting (memory `memorySeconds`) follows a rig that changes (dust, a hot venue); the
 * covariance is kept at or below the prior's so a long steady spell (nothing to learn from) does
 * not wind it up. A window whose residual is beyond `rejectSigma` standard deviations of what the
 * model expects (a sensor glitch, a fan that stalled mid-window) counts only up to that bound
 * (Huber). Every
 * estimate stays inside physical bounds and finite: an update that would leave them is undone.
 */

export interface RigPrior {
  heatCapacityJPerK: number;
  stillWPerK: number;
  fullWPerK: number;
  airflowExponent: number;
}

/** K80-class heatsink under 40 mm fans (src/thermal/plant/k80.ts): only a starting point */
export const DEFAULT_RIG_PRIOR: RigPrior = { heatCapacityJPerK: 400, stillWPerK: 0.8, fullWPerK: 4.3, airflowExponent: 0.6 };

export interface IdentifierOptions {
  prior?: RigPrior;
  /** s, one update per window */
  windowSeconds?: number;
  /** forgetting time, s (0: no forgetting) */
  memorySeconds?: number;
  /** std-dev of a window's temperature change the model cannot explain, C */
  noiseC?: number;
  rejectSigma?: number;
}

/** What has been identified, in physical units (the API shows it; the state directory keeps it). */
export interface RigModel {
  heatCapacityJPerK: number;
  /** conductance to the air, fans stopped, W/K */
  stillWPerK: number;
  /** conductance at full airflow, W/K */
  fullWPerK: number;
  /** what the air at the fins has over the intake reading, C (at half airflow) */
  ambientOffsetC: number;
  /** C / G at full airflow and with the fans stopped, s */
  timeConstantFullS: number;
  timeConstantStillS: number;
  /** windows learned from (with power readings), and of those the outliers (counted only up to rejectSigma) */
  updates: number;
  rejected: number;
  /** 0..1: how far the covariance has shrunk from the prior's (0: nothing learned) */
  confidence: number;
}

/** What is persisted: normalised parameters and covariance. */
export interface IdentifierState {
  theta: number[];
  covariance: number[];
  updates: number;
  rejected: number;
}

export interface RigIdentifier {
  /**
   * One control step: temperature, power (null: not read), zone duty, intake air, seconds since the
   * last step. Non-finite temperature or air: the window is dropped. Returns true when a window
   * was learned from.
   */
  step(dt: number, temperatureC: number, powerW: number | null, duty: number, ambientC: number): boolean;
  model(): RigModel;
  /** duty (0..1) at which `powerW` settles at `temperatureC` with intake air `ambientC`; 1 when even full airflow cannot */
  dutyFor(powerW: number, temperatureC: number, ambientC: number): number;
  /**
   * s the die takes from `temperatureC` to `targetC` at `powerW` and `duty` (0 if already there,
   * Infinity if it settles below it): the first-order step response of the identified rig.
   */
  secondsTo(temperatureC: number, powerW: number, duty: number, ambientC: number, targetC: number): number;
  /** s, the die's time constant C / G at `duty`: how fast its temperature follows its power */
  timeConstantS(duty: number): number;
  /** heat being dissipated, W, for a temperature moving at `slopeCPerS` at `duty` (the observer) */
  heatW(temperatureC: number, slopeCPerS: number, duty: number, ambientC: number): number;
  /** heat the heatsink sheds to the air at a temperature and duty, W (what the observer averages with the slope) */
  coolingW(temperatureC: number, duty: number, ambientC: number): number;
  /** heat being dissipated, W, for a temperature moving at `slopeCPerS` while the heatsink sheds `coolingW` (both of the same moment) */
  heatFrom(slopeCPerS: number, coolingW: number): number;
  /** the same with the prior model (what the configured feed-forward was fitted to) */
  priorDutyFor(powerW: number, temperatureC: number, ambientC: number): number;
  state(): IdentifierState;
  /** false, changing nothing, for a state out of bounds or not finite */
  restore(s: IdentifierState): boolean;
}

const N = 4;
/** bounds of the normalised parameters [a, b0, b1, c] (c in C at the prior's half-airflow conductance) */
const LO = [0.25, 0.1, 0.15, -15];
const HI = [4, 10, 6, 15];
/**
 * Prior uncertainty, relative: heat capacity (a), each conductance (b0 = a G_still, b1 = a (G_full
 * - G_still)), and the offset (C). The b terms carry a's uncertainty too (they are conductances per
 * heat capacity): learning a heavier heatsink from a warm-up with the fans stopped must not make
 * its fans look stronger. Prior covariance: var(a) = A, var(b_i) = A + G_i, cov(a, b_i) = cov(b0, b1) = A.
 */
const PRIOR_A = 0.5 ** 2;
const PRIOR_G = [0.4 ** 2, 0.4 ** 2];
const PRIOR_C = 3 ** 2;
const PRIOR_COV = [
  [PRIOR_A, PRIOR_A, PRIOR_A, 0],
  [PRIOR_A, PRIOR_A + PRIOR_G[0]!, PRIOR_A, 0],
  [PRIOR_A, PRIOR_A, PRIOR_A + PRIOR_G[1]!, 0],
  [0, 0, 0, PRIOR_C],
].flat();
/** a window with less than this much of it sampled is dropped */
const MIN_COVERAGE = 0.8;
const EDGE_SECONDS = 1;
/** s, a longer step between readings is a gap: the window being accumulated is dropped */
const MAX_STEP_SECONDS = 5;

export function createRigIdentifier(o: IdentifierOptions = {}): RigIdentifier {
  const prior = o.prior ?? DEFAULT_RIG_PRIOR;
  const h = o.windowSeconds ?? 20;
  const memory = o.memorySeconds ?? 3600;
  const lambda = memory > 0 ? Math.exp(-h / memory) : 1;
  const r = (o.noiseC ?? 0.5) ** 2;
  const rejectSigma = o.rejectSigma ?? 4;
  const n = prior.airflowExponent;
  const a0 = 1 / prior.heatCapacityJPerK;
  const b00 = prior.stillWPerK / prior.heatCapacityJPerK;
  const b10 = (prior.fullWPerK - prior.stillWPerK) / prior.heatCapacityJPerK;
  const c0 = b00 + b10 * 0.5 ** n;
  const P0 = [0, 1, 2, 3].map((i) => PRIOR_COV[i * N + i]!);

  let theta = [1, 1, 1, 0];
  let cov = [...PRIOR_COV];
  let updates = 0;
  let rejected = 0;

  // the window being accumulated
  let w = newWindow();
  function newWindow() {
    return { t: 0, sumP: 0, sumD: 0, sumXD: 0, startSum: 0, startN: 0, endQ: [] as Array<{ t: number; v: number }>, ok: true, covered: 0 };
  }

  const params = (th = theta) => ({ a: th[0]! * a0, b0: th[1]! * b00, b1: th[2]! * b10, c: th[3]! * c0 });

  function update(phi: number[], y: number): boolean {
    const Pphi = mulMV(cov, phi);
    const s = dot(phi, Pphi) + r;
    const e = y - dot(phi, theta);
    if (!(s > 0) || !Number.isFinite(e)) return false;
    // Huber: a residual beyond rejectSigma standard deviations counts only up to that bound. A
    // glitch moves the estimates a little; a model that is far off still learns (refusing its
    // large residuals would keep only the windows it happens to fit, and keep it far off).
    const bound = rejectSigma * Math.sqrt(s);
    if (Math.abs(e) > bound) rejected++;
    const eUsed = Math.max(-bound, Math.min(bound, e));
    const k = Pphi.map((v) => v / s);
    const next = theta.map((v, i) => Math.min(HI[i]!, Math.max(LO[i]!, v + k[i]! * eUsed)));
    const nextCov = cov.map((v, idx) => (v - k[Math.floor(idx / N)]! * Pphi[idx % N]!) / lambda);
    // symmetric, and never wider than the prior (no covariance wind-up in long steady spells)
    for (let i = 0; i < N; i++) for (let j = 0; j < i; j++) nextCov[i * N + j] = nextCov[j * N + i] = (nextCov[i * N + j]! + nextCov[j * N + i]!) / 2;
    for (let i = 0; i < N; i++) {
      const d = nextCov[i * N + i]!;
      if (d > P0[i]!) {
        const f = Math.sqrt(P0[i]! / d);
        for (let j = 0; j < N; j++) {
          nextCov[i * N + j]! *= f;
          nextCov[j * N + i]! *= f;
        }
      }
    }
    if (!next.every(Number.isFinite) || !nextCov.every(Number.isFinite) || nextCov.some((v, idx) => idx % (N + 1) === 0 && !(v > 0))) return false;
    theta = next;
    cov = nextCov;
    updates++;
    return true;
  }

  const conductancePerC = (x: number, p = params()) => p.b0 + p.b1 * Math.max(0, Math.min(1, x)) ** n;
  const dutyFrom = (p: ReturnType<typeof params>, powerW: number, temperatureC: number, ambientC: number) => {
    const rise = temperatureC - ambientC;
    if (!(rise > 0)) return 1;
    const need = (p.a * Math.max(0, powerW) + p.c) / rise;
    if (need <= p.b0) return 0;
    if (need >= p.b0 + p.b1) return 1;
    const x = ((need - p.b0) / p.b1) ** (1 / n);
    return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 1;
  };

  return {
    step(dt, temperatureC, powerW, duty, ambientC) {
      if (!(dt > 0) || !Number.isFinite(dt)) return false;
      // a gap in the readings (a stalled loop, a sensor outage, a restart from saved state): what
      // the die did meanwhile is unknown, and integrating one reading over it would teach garbage
      if (dt > MAX_STEP_SECONDS) {
        w = newWindow();
        return false;
      }
      const x = Math.max(0, Math.min(1, Number.isFinite(duty) ? duty : 1));
      if (!Number.isFinite(temperatureC) || !Number.isFinite(ambientC)) {
        w = newWindow();
        return false;
      }
      const hasPower = powerW !== null && Number.isFinite(powerW) && powerW >= 0;
      if (!hasPower) w.ok = false;
      w.t += dt;
      const rise = temperatureC - ambientC;
      w.sumP += (hasPower ? powerW : 0) * dt;
      w.sumD += rise * dt;
      w.sumXD += x ** n * rise * dt;
      w.covered += dt;
      if (w.t <= EDGE_SECONDS) {
        w.startSum += temperatureC;
        w.startN++;
      }
      w.endQ.push({ t: w.t, v: temperatureC });
      while (w.endQ.length > 1 && w.endQ[0]!.t < w.t - EDGE_SECONDS) w.endQ.shift();
      if (w.t < h) return false;
      const done = w;
      w = newWindow();
      if (!done.ok || done.startN === 0 || done.covered < MIN_COVERAGE * h) return false;
      const start = done.startSum / done.startN;
      const end = done.endQ.reduce((s, q) => s + q.v, 0) / done.endQ.length;
      // the edge means sit half an edge into the window at each end: the integrals span the same
      const span = done.t - EDGE_SECONDS;
      const scale = span / done.t;
      const phi = [a0 * done.sumP * scale, -b00 * done.sumD * scale, -b10 * done.sumXD * scale, c0 * span];
      return update(phi, end - start);
    },

    model() {
      const p = params();
      const full = conductancePerC(1, p);
      const still = p.b0;
      const trace = cov.reduce((s, v, idx) => (idx % (N + 1) === 0 ? s + v / P0[idx / (N + 1)]! : s), 0);
      return {
        heatCapacityJPerK: 1 / p.a,
        stillWPerK: still / p.a,
        fullWPerK: full / p.a,
        ambientOffsetC: p.c / conductancePerC(0.5, p),
        timeConstantFullS: 1 / full,
        timeConstantStillS: 1 / still,
        updates,
        rejected,
        confidence: Math.max(0, Math.min(1, 1 - trace / N)),
      };
    },

    dutyFor(powerW, temperatureC, ambientC) {
      return dutyFrom(params(), powerW, temperatureC, ambientC);
    },

    priorDutyFor(powerW, temperatureC, ambientC) {
      return dutyFrom(params([1, 1, 1, 0]), powerW, temperatureC, ambientC);
    },

    timeConstantS(duty) {
      const g = conductancePerC(duty);
      return g > 0 && Number.isFinite(g) ? 1 / g : Infinity;
    },

    secondsTo(temperatureC, powerW, duty, ambientC, targetC) {
      if (temperatureC >= targetC) return 0;
      const p = params();
      const g = conductancePerC(duty, p);
      const settle = ambientC + (p.a * Math.max(0, powerW) + p.c) / g;
      if (!(g > 0) || !(settle > targetC)) return Infinity;
      const s = Math.log((settle - temperatureC) / (settle - targetC)) / g;
      return Number.isFinite(s) ? Math.max(0, s) : Infinity;
    },

    heatW(temperatureC, slopeCPerS, duty, ambientC) {
      const p = params();
      const q = slopeCPerS + conductancePerC(duty, p) * (temperatureC - ambientC) - p.c;
      const w = q / p.a;
      return Number.isFinite(w) ? Math.max(0, w) : 0;
    },

    coolingW(temperatureC, duty, ambientC) {
      const p = params();
      const w = (conductancePerC(duty, p) * (temperatureC - ambientC) - p.c) / p.a;
      return Number.isFinite(w) ? w : 0;
    },

    heatFrom(slopeCPerS, coolingW) {
      const w = slopeCPerS / params().a + coolingW;
      return Number.isFinite(w) ? Math.max(0, w) : 0;
    },

    state() {
      return { theta: [...theta], covariance: [...cov], updates, rejected };
    },

    restore(s) {
      if (!Array.isArray(s.theta) || s.theta.length !== N || !Array.isArray(s.covariance) || s.covariance.length !== N * N) return false;
      if (!s.theta.every((v, i) => typeof v === 'number' && v >= LO[i]! && v <= HI[i]!)) return false;
      if (!s.covariance.every((v) => typeof v === 'number' && Number.isFinite(v))) return false;
      for (let i = 0; i < N; i++) {
        const d = s.covariance[i * N + i]!;
        if (!(d > 0 && d <= P0[i]! * (1 + 1e-9))) return false;
        for (let j = 0; j < N; j++) if (Math.abs(s.covariance[i * N + j]! - s.covariance[j * N + i]!) > 1e-9 * (1 + Math.abs(d))) return false;
      }
      if (!(Number.isInteger(s.updates) && s.updates >= 0 && Number.isInteger(s.rejected) && s.rejected >= 0)) return false;
      theta = [...s.theta];
      cov = [...s.covariance];
      updates = s.updates;
      rejected = s.rejected;
      w = newWindow();
      return true;
    },
  };
}

function mulMV(m: number[], v: number[]): number[] {
  const out = new Array<number>(N).fill(0);
  for (let i = 0; i < N; i++) for (let j = 0; j < N; j++) out[i] = out[i]! + m[i * N + j]! * v[j]!;
  return out;
}

function dot(a: number[], b: number[]): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/**
 * Least-squares slope of the readings over the last `windowSeconds` (C/s), null until the window
 * holds two readings a second apart. Over 20 s of 0.2 s whole-degree readings the slope is good to
 * a few mC/s, where a difference of two readings is 0 or 5 C/s.
 *
 * The slope of a window is the rate at its middle, 10 s ago for 20 s: anything set against it must
 * be of the same moment. `mean()` is the window mean of a companion value pushed with each reading
 * (the heat the heatsink sheds, for the observer): a fan start must not add the new airflow's
 * cooling to a slope that is still mostly the warming before it.
 */
export function createSlope(windowSeconds: number) {
  let q: Array<{ t: number; v: number; w: number }> = [];
  let origin = 0;
  let n = 0;
  let st = 0;
  let sv = 0;
  let stt = 0;
  let stv = 0;
  let sw = 0;
  const add = (t: number, v: number, w: number, sign: number) => {
    const x = t - origin;
    n += sign;
    st += sign * x;
    sv += sign * v;
    stt += sign * x * x;
    stv += sign * x * v;
    sw += sign * w;
  };
  const rebase = (t: number) => {
    origin = t;
    n = st = sv = stt = stv = sw = 0;
    for (const s of q) add(s.t, s.v, s.w, 1);
  };
  return {
    push(t: number, v: number, w = 0): number | null {
      if (!Number.isFinite(t) || !Number.isFinite(v) || (q.length && t < q[q.length - 1]!.t)) {
        q = [];
        rebase(Number.isFinite(t) ? t : 0);
        return null;
      }
      const companion = Number.isFinite(w) ? w : 0;
      q.push({ t, v, w: companion });
      add(t, v, companion, 1);
      while (q.length && q[0]!.t < t - windowSeconds) {
        const s = q.shift()!;
        add(s.t, s.v, s.w, -1);
      }
      // running sums lose precision far from their origin: start them again from the window now and then
      if (t - origin > 600) rebase(q[0]!.t);
      if (q.length < 2 || t - q[0]!.t < 1) return null;
      const den = n * stt - st * st;
      const slope = den > 0 ? (n * stv - st * sv) / den : 0;
      return Number.isFinite(slope) ? slope : null;
    },
    /** window mean of the companion values (0 while empty) */
    mean(): number {
      return n > 0 ? sw / n : 0;
    },
    reset() {
      q = [];
      rebase(0);
    },
  };
}
