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
  /**
   * while the load bursts (the power has stepped up past the estimate twice within 5 hold
   * windows), the term follows the highest estimate of this many seconds (0/undefined: off):
   * bursts longer than the filter can average (a minute on, a minute off) hold the fans at their
   * peaks instead of swinging them every burst. A single load step and its drop are not held.
   */
  holdSeconds?: number;
  /**
   * a step up counts only after an off part (the power under the estimate): a steady load's noisy
   * readings, while the estimate rises through the step threshold, are one step, not one each time they
   * cross it (false/undefined: each crossing counts)
   */
  burstNeedsOffPart?: boolean;
}

export interface FeedForward {
  /**
   * Advance by dt seconds with the measured power (W, of the busiest zone GPU) and an optional
   * hint (expected W per GPU). `riseSeconds`: this step's rise time constant instead of the
   * configured one (a load the heatsink has no room to average); `fallSeconds` the same for the fall
   * (a die with room under its setpoint: nothing to average for). Each only shortens the configured
   * one. Returns the feed-forward duty.
   */
  step(dt: number, powerW: number, hintW?: number, riseSeconds?: number, fallSeconds?: number): number;
  /** filtered power estimate, W */
  readonly estimateW: number;
  readonly duty: number;
  /** the load bursts (holdSeconds): the estimate holds its peaks */
  readonly bursting: boolean;
  /** while bursting, the shortest s between two burst starts of the last 5 hold windows, else Infinity */
  readonly burstPeriodSeconds: number;
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
  let clock = 0;
  /** (time, estimate) with decreasing estimates: the front is the highest of the hold window */
  const peaks: Array<{ t: number; v: number }> = [];
  /** times the power stepped up past the estimate (burst starts) */
  let steps: number[] = [];
  let above = false;
  const held = (v: number, measured: number) => {
    const hold = params.holdSeconds ?? 0;
    if (!(hold > 0)) return v;
    while (peaks.length && peaks[peaks.length - 1]!.v <= v) peaks.pop();
    peaks.push({ t: clock, v });
    while (peaks[0]!.t < clock - hold) peaks.shift();
    const nowAbove = measured > v * 1.2 + 10;
    if (nowAbove && !above) steps.push(clock);
    above = nowAbove || (params.burstNeedsOffPart === true && above && measured >= v);
    steps = steps.filter((t) => t >= clock - 5 * hold);
    return steps.length >= 2 ? peaks[0]!.v : v;
  };
  let heldEstimate = 0;
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
  const advance = (u: number, dt: number, rise: number, fall: number) => {
    const tau = u > estimate! ? rise : fall;
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
      return heldEstimate;
    },
    get duty() {
      return duty;
    },
    get bursting() {
      return (params.holdSeconds ?? 0) > 0 && steps.length >= 2;
    },
    get burstPeriodSeconds() {
      let shortest = Infinity;
      if ((params.holdSeconds ?? 0) > 0) for (let k = 1; k < steps.length; k++) shortest = Math.min(shortest, steps[k]! - steps[k - 1]!);
      return shortest;
    },
    dutyAt(w) {
      return params.enabled ? shape(w) : 0;
    },
    setParams(p) {
      params = { ...p };
    },
    step(dt, powerW, hintW, riseSeconds, fallSeconds) {
      const measured = Number.isFinite(powerW) ? Math.max(0, powerW) : 0;
      const shorter = (override: number | undefined, configured: number) => (override !== undefined && override >= 0 ? Math.min(override, configured) : configured);
      if (stage1 === null || estimate === null) stage1 = estimate = measured;
      else advance(measured, Math.max(0, dt), shorter(riseSeconds, params.riseSeconds), shorter(fallSeconds, params.fallSeconds));
      // A hint is a promise of power: taken at once as a floor; once it is no longer passed the
      // estimate falls back to the measured power at the slow rate, like after a real burst.
      if (hintW !== undefined && Number.isFinite(hintW) && hintW > estimate) stage1 = estimate = hintW;
      clock += Number.isFinite(dt) && dt > 0 ? dt : 0;
      heldEstimate = held(estimate, measured);
      duty = params.enabled ? shape(heldEstimate) : 0;
      return duty;
    },
  };
}
