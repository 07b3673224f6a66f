/**
 * PID for cooling, in physical units so the loop period does not change its behaviour.
 *
 * - error = measurement - setpoint (hotter -> more duty);
 * - derivative on the measurement (a setpoint change gives no kick), low-passed with an exact
 *   exponential filter (period-independent; whole-degree sensors make raw differences spiky);
 * - the integral is kept as a duty (so changing ki never jumps the output) and clamped; while a
 *   limit or the slew limit holds the output in the direction the error pushes it is
 *   back-calculated to the held output (no windup, and the output leaves the limit as soon as
 *   the error turns);
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
  /**
   * low-pass of the measurement the P and I terms see, s (0: none). Whole-degree sensors and
   * tens-of-seconds load bursts make a raw reading jitter; the derivative has its own filter.
   */
  measurementFilterSeconds?: number;
  /**
   * P and I see the higher of the measurement and its highest reading over this many seconds
   * (less half a sensor step), low-passed: a bursty load is held by its peaks rather than its
   * mean (0: off).
   */
  peakHoldSeconds?: number;
  /**
   * low-pass while the measurement falls, s (default: measurementFilterSeconds). Longer lets a
   * temperature dip after a load drop pass without pulling the duty below what the lower load
   * will need once the heatsink settles (feed-forward carries the load change itself).
   */
  measurementFallSeconds?: number;
  /** reading resolution of the sensor, C (nvidia-smi: 1) */
  sensorResolutionCelsius?: number;
  /**
   * no integration while the temperature trend closes the error by itself within this many
   * seconds (0: off): approaching the setpoint from below must not wind the integral down
   * (that is what makes a PID overshoot after a load step).
   */
  closingSeconds?: number;
  /**
   * The integral rises only on the part of the error the die still has: while the slow fall filter
   * holds the measured temperature above a fast one (measurementFilterSeconds both ways), the error
   * it integrates upward is capped at (1 + band / sensorResolutionCelsius) times what the fast one
   * shows over the setpoint: nothing while the die reads at or under it; a whole step over it, the
   * step plus the band (as the cap of fast + band - setpoint this was before). After an overshoot
   * the die falls back below the setpoint minutes before the fall filter does; without this the
   * integral kept rising all that while. The cap scales to 0 rather than stopping at the band: with
   * whole-degree readings a die at the top of the setpoint's degree reads a step hot for seconds now
   * and then, the fall filter kept that for ten minutes, and under the band's cap the integral took
   * ~0.03 duty out of each such step (the die was driven a degree down, to creep back up: its peak at
   * setpoint + 0.5, its mean near the setpoint, louder at that peak than a curve sitting at it). The
   * integral is not pulled down by the cap (the trim it holds is still needed by the next load).
   * 0/undefined: off.
   */
  integralBandCelsius?: number;
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
  /**
   * true (default): while held, the integral is set so the demand equals the held output (the
   * demand never drifts away from what the fans do). false: it just stops moving in the held
   * direction (used while fans are stopped on purpose: the demand must keep its distance from
   * the restart threshold).
   */
  backCalculate?: boolean;
  /**
   * held at or below this output (a minimum duty), the integral just stops instead of being
   * back-calculated: at a floor the demand may sit below the output (the stop decision reads it)
   * but not wind further.
   */
  freezeAtOrBelow?: number;
  /** the integral may not fall this step (the caller knows the temperature is still on its way up from far below) */
  holdDown?: boolean;
  /**
   * true: this step a falling measurement is followed at measurementFilterSeconds, not
   * measurementFallSeconds (the caller knows the load has not changed: a falling reading is the die
   * settling, not a dip after a load drop)
   */
  settling?: boolean;
  /**
   * true: the caller knows the load repeats in a cycle (bursts) and P and I regulate the cycle's peak (the
   * peak hold): the temperature's fall through each off part is the cycle's ripple, not the error closing,
   * and the die under its peak between bursts is not the die settling after an overshoot. The integral then
   * integrates the peak's error as it is (no closingSeconds, no integralBandCelsius): with them it moved only
   * in the last seconds of each burst, and a die peaking 2 C over its setpoint every cycle stayed there.
   */
  periodic?: boolean;
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
  /** the filtered measurement P and I use (null before the first step) */
  readonly measurement: number | null;
}

const EPS = 1e-9;
/**
 * Sensor noise under the peak hold. The highest of a window's readings is over the die by chance as well
 * as by the die's own peaks; the hold takes NOISE_PEAK_SIGMAS standard deviations of the readings' noise
 * off it. The highest of 45 s of Gaussian noise is on average 2.8 sigma over the mean at 0.2 s readings,
 * 2.1 at 1 s, and under 1.5 sigma in under 5% of windows even at 1 s: the hold stays on the safe side (a
 * peak taken a little high) at any period. The noise is measured, not configured: half the mean square
 * of consecutive readings' differences over NOISE_SECONDS, less what rounding to sensorResolutionCelsius
 * alone gives (res^2/12 a reading). A clean whole-degree sensor (differences of 0, or one step as the die
 * crosses it) measures ~0 and keeps the plain half step. With 0.5 C of noise on the K80 the hold read
 * ~1 C over the die: the fans held it 0.5-1 C under the setpoint, louder, and a chance run of high
 * readings lifted the duty past the backlash deadband for the rest of the load.
 */
const NOISE_PEAK_SIGMAS = 1.5;
const NOISE_SECONDS = 60;
/** duty the integral may rise by back-calculation over one spell held low by the slew */
const HELD_LOW_RISE = 0.05;

/** Maximum over a sliding time window (monotonic deque: O(1) amortised per sample). */
function slidingMax() {
  let q: Array<{ t: number; v: number }> = [];
  return {
    push(t: number, v: number, window: number): number {
      while (q.length && q[q.length - 1]!.v <= v) q.pop();
      q.push({ t, v });
      while (q[0]!.t < t - window) q.shift();
      return q[0]!.v;
    },
    reset() {
      q = [];
    },
  };
}

/** exact first-order low-pass coefficient: the same response whatever the step length */
function lowPass(dt: number, tau: number): number {
  if (!(dt > 0)) return 0;
  return tau > 0 ? 1 - Math.exp(-dt / tau) : 1;
}

export function createPid(initial: PidGains): Pid {
  let gains = { ...initial };
  let integral = 0;
  /** filtered dT/dt, C/s */
  let slope = 0;
  let lastMeasurement: number | null = null;
  /** filtered measurement, and what P and I see (its peak over peakHoldSeconds) */
  let filtered: number | null = null;
  let pv: number | null = null;
  /** the same reading low-passed with the rise time constant both ways: where the die is now */
  let fast: number | null = null;
  let clock = 0;
  /** the integral when the temperature was last at or above the setpoint */
  let heldLowFrom = 0;
  const peaks = slidingMax();
  /** low-passed square of the difference between consecutive readings (sensor noise, see NOISE_PEAK_SIGMAS) */
  let jitter = 0;
  const noiseSigma = () => {
    const res = gains.sensorResolutionCelsius ?? 1;
    return Math.sqrt(Math.max(0, jitter / 2 - (res * res) / 12));
  };

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
    get measurement() {
      return pv;
    },

    step({ dt, measurement, setpoint, ff, constrain, backCalculate, freezeAtOrBelow, holdDown, settling, periodic }) {
      if (lastMeasurement !== null && dt > 0) {
        const raw = (measurement - lastMeasurement) / dt;
        slope += lowPass(dt, gains.derivativeFilterSeconds) * (raw - slope);
        const diff = measurement - lastMeasurement;
        jitter += lowPass(dt, NOISE_SECONDS) * (diff * diff - jitter);
      }
      lastMeasurement = measurement;
      clock += dt > 0 ? dt : 0;
      // The highest reading of the window, less half a sensor step (whole-degree sensors round) and
      // what the sensor's noise puts on it, estimates the peak of a bursty load; then the low-pass (rise/fall) smooths it.
      const hold = gains.peakHoldSeconds ?? 0;
      const raw = hold > 0 ? Math.max(measurement, peaks.push(clock, measurement, hold) - (gains.sensorResolutionCelsius ?? 1) / 2 - NOISE_PEAK_SIGMAS * noiseSigma()) : measurement;
      if (filtered === null) filtered = raw;
      else {
        const rise = gains.measurementFilterSeconds ?? 0;
        filtered += lowPass(dt, raw >= filtered || settling ? rise : (gains.measurementFallSeconds ?? rise)) * (raw - filtered);
      }
      pv = filtered;
      if (fast === null) fast = raw;
      else fast += lowPass(dt, gains.measurementFilterSeconds ?? 0) * (raw - fast);
      const error = pv - setpoint;
      const band = gains.integralBandCelsius ?? 0;
      // integrate upward no more than the fast temperature (with the band) is above the setpoint
      const errorI = band > 0 && error > 0 && !periodic ? Math.min(error, Math.max(0, fast - setpoint) * (1 + band / (gains.sensorResolutionCelsius ?? 1))) : error;

      const p = gains.kp * error;
      const d = gains.kd * slope;
      const closing = !periodic && (gains.closingSeconds ?? 0) > 0 && error * slope < 0 && Math.abs(slope) * gains.closingSeconds! >= Math.abs(error);
      const tentative = closing || (holdDown && errorI < 0) ? integral : clampI(integral + gains.ki * errorI * (dt > 0 ? dt : 0));
      const demandTry = p + tentative + d + ff;
      const outTry = constrain(demandTry);
      // Anti-windup: when a limit or the slew limit holds the output in the direction the error
      // pushes, the integral does not run on past it.
      const heldHigh = demandTry > outTry + EPS && tentative > integral;
      const heldLow = demandTry < outTry - EPS && tentative < integral;
      const reachable = clampI(outTry - p - d - ff);
      if (heldHigh || heldLow) {
        const atFloor = heldLow && freezeAtOrBelow !== undefined && outTry <= freezeAtOrBelow + EPS;
        // Held low (the slow slew-down after a load drop), back-calculation raises the integral
        // to at most HELD_LOW_RISE over what it was when the temperature was last at or above the
        // setpoint: burst ripple around the setpoint is tracked as before (no hunting), but a load
        // drop's vanished feed-forward is not stored as integral, nor do bursts far below the
        // setpoint ratchet it up burst by burst (the next load would start with stale duty).
        if ((backCalculate ?? true) && !atFloor) {
          if (heldLow) {
            const next = Math.min(reachable, Math.max(integral, heldLowFrom + HELD_LOW_RISE));
            integral = next;
          } else integral = reachable;
        }
      } else integral = tentative;
      if (error >= 0) heldLowFrom = integral;
      const demand = p + integral + d + ff;
      const output = heldHigh || heldLow ? constrain(demand) : outTry;
      return { p, i: integral, d, ff, demand, output };
    },

    track(output, measurement, setpoint, ff) {
      lastMeasurement = measurement;
      filtered = pv = fast = measurement;
      peaks.reset();
      slope = 0;
      integral = clampI(output - gains.kp * (measurement - setpoint) - ff);
      heldLowFrom = integral;
    },

    shiftIntegral(delta) {
      const before = integral;
      integral = clampI(integral + delta);
      heldLowFrom += integral - before;
    },

    setGains(next, measurement, setpoint) {
      const error = (pv ?? measurement) - setpoint;
      const before = gains.kp * error + integral + gains.kd * slope;
      gains = { ...next };
      const was = integral;
      integral = clampI(before - gains.kp * error - gains.kd * slope);
      heldLowFrom += integral - was;
    },
  };
}
