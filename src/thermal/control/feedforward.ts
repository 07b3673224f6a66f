/**
 * Feed-forward from power: heat that is being (or about to be) dissipated needs airflow before
 * the temperature shows it. The power estimate is a two-stage low-pass (render bursts of tens of
 * seconds average out instead of making the fans hunt; separate time constants for rising and
 * falling power). A load hint from the render pipeline lifts the estimate at once, before any
 * power shows up: that is what leads a load step.
 *
 * Period-independent: exact exponential filters in seconds.
 */

export interface FeedForwardParams {
  enabled: boolean;
  dutyPerWatt: number;
  idleWatts: number;
  /** power at which the term is dutyPerWatt * (referenceWatts - idleWatts) */
  referenceWatts: number;
  /** >0: the duty grows faster than power (airflow needed is convex in the heat) */
  curvature: number;
  riseSeconds: number;
  fallSeconds: number;
}

export interface FeedForward {
  /**
   * Advance by dt seconds with the measured power (W, of the busiest zone GPU) and an optional
   * hint (expected W per GPU). `riseSeconds`: this step's rise time constant instead of the
   * configured one (a load the heatsink has no room to average). Returns the feed-forward duty.
   */
  step(dt: number, powerW: number, hintW?: number, riseSeconds?: number): number;
  /** filtered power estimate, W */
  readonly estimateW: number;
  readonly duty: number;
  /** the duty the current parameters give for a power estimate */
  dutyAt(estimateW: number): number;
  setParams(p: FeedForwardParams): void;
}

export function createFeedForward(initial: FeedForwardParams): FeedForward {
  let params = { ...initial };
  /** two cascaded first-order stages: ripple of tens-of-seconds bursts falls off twice as steeply */
  let stage1: number | null = null;
  let estimate: number | null = null;
  let duty = 0;
  /** dutyPerWatt * (W - idle) * ((W - idle) / (reference - idle))^curvature */
  const shape = (w: number) => {
    const above = Math.max(0, w - params.idleWatts);
    const span = params.referenceWatts - params.idleWatts;
    const bend = span > 0 && params.curvature > 0 ? (above / span) ** params.curvature : 1;
    return params.dutyPerWatt * above * bend;
  };
  /**
   * Both stages advanced exactly for an input held over dt (tau ds1/dt = u - s1, tau ds2/dt = s1 - s2),
   * so the estimate is the same whatever the control period. One time constant per step, picked by
   * whether the input is above the estimate (rising) or below it (falling).
   */
  const advance = (u: number, dt: number, rise: number) => {
    const tau = u > estimate! ? rise : params.fallSeconds;
    if (!(tau > 0)) {
      stage1 = estimate = u;
      return;
    }
    const a = Math.exp(-dt / tau);
    const e1 = stage1! - u;
    estimate = u + (estimate! - u + e1 * (dt / tau)) * a;
    stage1 = u + e1 * a;
  };
  return {
    get estimateW() {
      return estimate ?? 0;
    },
    get duty() {
      return duty;
    },
    dutyAt(w) {
      return params.enabled ? shape(w) : 0;
    },
    setParams(p) {
      params = { ...p };
    },
    step(dt, powerW, hintW, riseSeconds) {
      const measured = Number.isFinite(powerW) ? Math.max(0, powerW) : 0;
      if (stage1 === null || estimate === null) stage1 = estimate = measured;
      else advance(measured, Math.max(0, dt), riseSeconds !== undefined && riseSeconds >= 0 ? Math.min(riseSeconds, params.riseSeconds) : params.riseSeconds);
      // A hint is a promise of power: taken at once as a floor; once it is no longer passed the
      // estimate falls back to the measured power at the slow rate, like after a real burst.
      if (hintW !== undefined && Number.isFinite(hintW) && hintW > estimate) stage1 = estimate = hintW;
      duty = params.enabled ? shape(estimate) : 0;
      return duty;
    },
  };
}
