/**
 * Temperature -> duty curves: linear between points, flat beyond the ends, and hysteresis in
 * degrees on the way down (the duty follows a falling temperature only once it has fallen
 * `hysteresis` degrees below the highest recent reading), so a temperature wobbling by a degree
 * does not make the fans wobble.
 */

export type CurvePoints = ReadonlyArray<readonly [number, number]>;

/** Piecewise-linear interpolation; points must have increasing temperatures (rules.ts checks). */
export function interpolate(points: CurvePoints, t: number): number {
  const first = points[0];
  const last = points[points.length - 1];
  if (!first || !last) throw new Error('curve: needs at least one point');
  if (t <= first[0]) return first[1];
  if (t >= last[0]) return last[1];
  for (let k = 1; k < points.length; k++) {
    const [t1, d1] = points[k]!;
    if (t <= t1) {
      const [t0, d0] = points[k - 1]!;
      return d0 + ((d1 - d0) * (t - t0)) / (t1 - t0);
    }
  }
  return last[1];
}

export interface CurveFollower {
  /** duty for this temperature, with downward hysteresis */
  step(t: number): number;
  /** the temperature the curve is being read at (>= t, within hysteresis) */
  readonly heldTemperature: number | null;
  /** forget the held temperature (mode change) */
  reset(): void;
}

export function createCurveFollower(points: () => CurvePoints, hysteresis: () => number): CurveFollower {
  let held: number | null = null;
  return {
    get heldTemperature() {
      return held;
    },
    step(t) {
      const h = hysteresis();
      if (held === null || t > held) held = t;
      else if (t < held - h) held = t + h;
      return interpolate(points(), held);
    },
    reset() {
      held = null;
    },
  };
}
