/**
 * PID for cooling, in physical units so the loop period does not change its behaviour.
 *
 * - error = measurement - setpoint (hotter -> more duty);
 * - derivative on the measurement (a setpoint change gives no kick), low-passed with an exact
 *   exponential filter (period-independent; whole-degree sensors make raw differences spiky);
 * - the integral is kept as a duty (so changing ki never jumps the output), clamped, and frozen
 *   while the output is held by a limit or slew limit in the direction the error pushes
 *   (conditional integration: no windup);
 * - bumpless: `track()` makes the integral absorb whatever the output is now (mode change,
 *   failsafe exit), `setGains()` re-absorbs the proportional/derivative change.
 */

export interface PidGains {
  kp: number;
  ki: number;
  kd: number;
  /** derivative low-pass time constant, s */
  derivativeFilterSeconds: number;
  /** |integral term| <= this, duty */
  integralLimit: number;
}

export interface PidStepInput {
  /** seconds since the previous step; 0 on the first step after construction/track() */
  dt: number;
  measurement: number;
  setpoint: number;
  /** feed-forward duty added to the sum */
  ff: number;
  /**
   * Applies the output limits (min/max, stop, slew) to the unconstrained sum and returns what
   * will really be commanded. The PID uses it to decide whether integrating would wind up.
   */
  constrain: (demand: number) => number;
}

export interface PidStepResult {
  p: number;
  i: number;
  d: number;
  ff: number;
  /** p + i + d + ff */
  demand: number;
  /** constrain(demand) */
  output: number;
}

export interface Pid {
  step(input: PidStepInput): PidStepResult;
  /**
   * Bumpless transfer: next step continues from `output` instead of jumping. Call when another
   * mode (or a failsafe) has been driving the fans.
   */
  track(output: number, measurement: number, setpoint: number, ff: number): void;
  /** move the integral by `delta` duty (another term changed by -delta and the sum must not jump) */
  shiftIntegral(delta: number): void;
  /** change gains without an output jump (the integral absorbs the P and D change) */
  setGains(gains: PidGains, measurement: number, setpoint: number): void;
  readonly gains: PidGains;
  readonly integral: number;
  readonly derivative: number;
}

const EPS = 1e-9;

export function createPid(initial: PidGains): Pid {
  let gains = { ...initial };
  let integral = 0;
  /** filtered dT/dt, C/s */
  let slope = 0;
  let lastMeasurement: number | null = null;

  const clampI = (v: number) => Math.max(-gains.integralLimit, Math.min(gains.integralLimit, v));

  return {
    get gains() {
      return { ...gains };
    },
    get integral() {
      return integral;
    },
    get derivative() {
      return slope;
    },

    step({ dt, measurement, setpoint, ff, constrain }) {
      const error = measurement - setpoint;
      if (lastMeasurement !== null && dt > 0) {
        const raw = (measurement - lastMeasurement) / dt;
        const tau = gains.derivativeFilterSeconds;
        const alpha = tau > 0 ? 1 - Math.exp(-dt / tau) : 1;
        slope += alpha * (raw - slope);
      }
      lastMeasurement = measurement;

      const p = gains.kp * error;
      const d = gains.kd * slope;
      const tentative = clampI(integral + gains.ki * error * (dt > 0 ? dt : 0));
      const demandTry = p + tentative + d + ff;
      const outTry = constrain(demandTry);
      // Integrate only if the constrained output can follow: when a limit holds the output and
      // the error pushes further past it, integrating would only wind up.
      const heldHigh = demandTry > outTry + EPS && tentative > integral;
      const heldLow = demandTry < outTry - EPS && tentative < integral;
      if (!heldHigh && !heldLow) integral = tentative;
      const demand = p + integral + d + ff;
      const output = heldHigh || heldLow ? constrain(demand) : outTry;
      return { p, i: integral, d, ff, demand, output };
    },

    track(output, measurement, setpoint, ff) {
      lastMeasurement = measurement;
      slope = 0;
      integral = clampI(output - gains.kp * (measurement - setpoint) - ff);
    },

    shiftIntegral(delta) {
      integral = clampI(integral + delta);
    },

    setGains(next, measurement, setpoint) {
      const error = measurement - setpoint;
      const before = gains.kp * error + integral + gains.kd * slope;
      gains = { ...next };
      integral = clampI(before - gains.kp * error - gains.kd * slope);
    },
  };
}
