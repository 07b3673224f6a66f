/**
 * Gains from an identified plant, and what each would do on it.
 *
 * Rules (PID on error = temperature - setpoint, duty per C; ki = kp / Ti):
 *   simc             Skogestad's SIMC PI from the FOPDT model: kp = tau / (|K| (tc + theta)),
 *                    Ti = min(tau, 4 (tc + theta)). Quiet-fan choice of tc: at least the dead
 *                    time and half the time constant, and large enough that one sensor step
 *                    (whole degrees) moves the duty by at most maxDutyPerStep (5 %): the fans
 *                    do not audibly follow the sensor's rounding.
 *   tyreus-luyben    PI from the relay: kp = Ku / 3.2, Ti = 2.2 Pu (less overshoot than Z-N).
 *   ziegler-nichols  classic PID from the relay: 0.6 Ku, 1.2 Ku / Pu, 0.075 Ku Pu.
 *   ziegler-nichols-pi  0.4 Ku, 0.48 Ku / Pu (REFERENCE.md 4).
 *
 * expectedResponse() simulates a PID (derivative on the measurement, low-passed; the integral
 * clamped by back-calculation at the duty limits) on the FOPDT model: a setpoint lowered by
 * `stepC` from equilibrium, and reports overshoot, settling and whether it keeps oscillating.
 */
import type { Fopdt } from './fopdt.ts';

export const RULES = ['simc', 'tyreus-luyben', 'ziegler-nichols', 'ziegler-nichols-pi'] as const;
export type TuningRule = (typeof RULES)[number];

export interface ProposedGains {
  rule: TuningRule;
  kp: number;
  ki: number;
  kd: number;
  note: string;
}

export interface SimcOptions {
  resolutionC?: number;
  maxDutyPerStep?: number;
  /** closed-loop time constant, s (default: the quiet choice above) */
  tauCS?: number;
}

export function simc(model: Fopdt, o: SimcOptions = {}): ProposedGains {
  const k = Math.abs(model.gain);
  const tau = model.timeConstantS;
  const theta = Math.max(0, model.deadTimeS);
  if (!(k > 0) || !(tau > 0)) throw new RangeError('simc: the model needs a non-zero gain and a positive time constant');
  const quiet = tau / (k * (o.maxDutyPerStep ?? 0.05) / (o.resolutionC ?? 1)) - theta;
  const tc = o.tauCS ?? Math.max(theta, tau / 2, quiet);
  const kp = tau / (k * (tc + theta));
  const ti = Math.min(tau, 4 * (tc + theta));
  return { rule: 'simc', kp, ki: kp / ti, kd: 0, note: `SIMC PI, closed-loop time constant ${tc.toFixed(0)} s, Ti ${ti.toFixed(0)} s` };
}

export function fromRelay(rule: Exclude<TuningRule, 'simc'>, ku: number, pu: number): ProposedGains {
  if (!(ku > 0) || !(pu > 0)) throw new RangeError('relay rules need Ku > 0 and Pu > 0');
  switch (rule) {
    case 'tyreus-luyben':
      return { rule, kp: ku / 3.2, ki: ku / 3.2 / (2.2 * pu), kd: 0, note: 'Tyreus-Luyben PI (Ku/3.2, Ti 2.2 Pu)' };
    case 'ziegler-nichols':
      return { rule, kp: 0.6 * ku, ki: (1.2 * ku) / pu, kd: 0.075 * ku * pu, note: 'Ziegler-Nichols PID (0.6 Ku, 1.2 Ku/Pu, 0.075 Ku Pu)' };
    case 'ziegler-nichols-pi':
      return { rule, kp: 0.4 * ku, ki: (0.48 * ku) / pu, kd: 0, note: 'Ziegler-Nichols PI (0.4 Ku, 0.48 Ku/Pu)' };
  }
}

export interface ResponseOptions {
  /** the setpoint is lowered by this much from equilibrium, C (default 5) */
  stepC?: number;
  /** equilibrium duty at the new setpoint (default 0.6) */
  dutyAtSetpoint?: number;
  minDuty?: number;
  maxDuty?: number;
  /** s (default 0.5) */
  periodS?: number;
  /** simulated length, s (default 12 time constants, at least 600) */
  seconds?: number;
  derivativeFilterS?: number;
  /** settled: within this band of the setpoint from then on, C (default 0.5) */
  bandC?: number;
}

export interface ExpectedResponse {
  /** the furthest the temperature goes past the new setpoint, C */
  overshootC: number;
  /** time until the temperature stays within the band, s (null: never) */
  settlingS: number | null;
  /** peak-to-peak temperature over the last quarter, C */
  residualPeakToPeakC: number;
  /** a sustained oscillation: the last quarter still swings by more than the band */
  oscillating: boolean;
  /** total duty travel (sum of |change|): how busy the fans are */
  dutyTravel: number;
  /** sampled trace for charts: t, temperature (C), duty */
  trace: { t: number; temperature: number; duty: number }[];
}

/** A PID with the given gains on the FOPDT model; temperatures relative to the new setpoint + offset. */
export function expectedResponse(model: Fopdt, g: Pick<ProposedGains, 'kp' | 'ki' | 'kd'>, o: ResponseOptions = {}): ExpectedResponse {
  const step = o.stepC ?? 5;
  const u0 = o.dutyAtSetpoint ?? 0.6;
  const umin = o.minDuty ?? 0.2;
  const umax = o.maxDuty ?? 1;
  const dt = o.periodS ?? 0.5;
  const total = o.seconds ?? Math.max(600, 12 * model.timeConstantS);
  const band = o.bandC ?? 0.5;
  const tf = o.derivativeFilterS ?? 10;
  const K = model.gain;
  // y: temperature minus the new setpoint. Equilibrium at y = step: u = u0 + step / K.
  let y = step;
  const uStart = Math.max(umin, Math.min(umax, u0 + step / K));
  const delaySteps = Math.max(0, Math.round(model.deadTimeS / dt));
  const pipe: number[] = new Array(delaySteps).fill(uStart);
  let integral = uStart - g.kp * y;
  let slope = 0;
  let lastY = y;
  let lastU = uStart;
  let travel = 0;
  const trace: ExpectedResponse['trace'] = [];
  const a = Math.exp(-dt / model.timeConstantS);
  const fd = tf > 0 ? 1 - Math.exp(-dt / tf) : 1;
  let minY = Infinity;
  let lastOut = 0;
  const tail: number[] = [];
  const steps = Math.round(total / dt);
  for (let k = 0; k <= steps; k++) {
    const t = k * dt;
    slope += fd * ((y - lastY) / dt - slope);
    lastY = y;
    const p = g.kp * y;
    const d = g.kd * slope;
    let i = integral + g.ki * y * dt;
    let u = p + i + d;
    if (u > umax || u < umin) {
      const held = Math.max(umin, Math.min(umax, u));
      i = held - p - d;
      u = held;
    }
    integral = i;
    travel += Math.abs(u - lastU);
    lastU = u;
    pipe.push(u);
    const applied = pipe.shift()!;
    // exact first-order step over dt with the delayed duty held
    const yInf = step + K * (applied - uStart);
    y = yInf + (y - yInf) * a;
    minY = Math.min(minY, y);
    if (Math.abs(y) > band) lastOut = t + dt;
    if (t >= total * 0.75) tail.push(y);
    if (k % Math.max(1, Math.round(2 / dt)) === 0) trace.push({ t, temperature: y, duty: u });
  }
  const p2p = tail.length ? Math.max(...tail) - Math.min(...tail) : 0;
  return {
    overshootC: Math.max(0, -minY),
    settlingS: lastOut >= total ? null : lastOut,
    residualPeakToPeakC: p2p,
    oscillating: p2p > band,
    dutyTravel: travel,
    trace,
  };
}
