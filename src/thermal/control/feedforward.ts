/**
 * Feed-forward from power: heat that is being (or about to be) dissipated needs airflow before
 * the temperature shows it. The power estimate rises fast (lead the load step) and falls slowly
 * (render bursts of tens of seconds average out instead of making the fans hunt). A load hint
 * from the render pipeline lifts the estimate before any power shows up.
 *
 * Period-independent: exact exponential filters in seconds.
 */

export interface FeedForwardParams {
  enabled: boolean;
  dutyPerWatt: number;
  idleWatts: number;
  riseSeconds: number;
  fallSeconds: number;
}

export interface FeedForward {
  /**
   * Advance by dt seconds with the zone's measured power (W, summed over its GPUs) and an
   * optional hint (W, summed over the zone GPUs). Returns the feed-forward duty.
   */
  step(dt: number, powerW: number, hintW?: number): number;
  /** filtered power estimate, W */
  readonly estimateW: number;
  readonly duty: number;
  /** the duty the current parameters give for a power estimate */
  dutyAt(estimateW: number): number;
  setParams(p: FeedForwardParams): void;
}

export function createFeedForward(initial: FeedForwardParams): FeedForward {
  let params = { ...initial };
  let estimate: number | null = null;
  let duty = 0;
  const filter = (prev: number, x: number, dt: number) => {
    const tau = x > prev ? params.riseSeconds : params.fallSeconds;
    const a = tau > 0 ? 1 - Math.exp(-dt / tau) : 1;
    return prev + a * (x - prev);
  };
  return {
    get estimateW() {
      return estimate ?? 0;
    },
    get duty() {
      return duty;
    },
    dutyAt(w) {
      return params.enabled ? params.dutyPerWatt * Math.max(0, w - params.idleWatts) : 0;
    },
    setParams(p) {
      params = { ...p };
    },
    step(dt, powerW, hintW) {
      const measured = Number.isFinite(powerW) ? Math.max(0, powerW) : 0;
      estimate = estimate === null ? measured : filter(estimate, measured, Math.max(0, dt));
      // A hint is a promise of power: taken at once as a floor; once it is no longer passed the
      // estimate falls back to the measured power at the slow rate, like after a real burst.
      if (hintW !== undefined && Number.isFinite(hintW) && hintW > estimate) estimate = hintW;
      duty = params.enabled ? params.dutyPerWatt * Math.max(0, estimate - params.idleWatts) : 0;
      return duty;
    },
  };
}
