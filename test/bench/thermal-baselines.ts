/**
 * The baseline controllers of the thermal benchmarks (test/bench/thermal.ts and
 * test/bench/thermal-scenarios.ts), so both compare against exactly the same ones:
 *   - the original Tesla-Cooler curve (0 below 40 C, 1/3 at 70 C, 1 at 100 C, 5 s loop), shifted;
 *   - a plain PID with fan2go's documented PID-curve gains (p 0.05, i 0.005, d 0.005 in duty 0..1
 *     per C; derivative on measurement, no integration while saturated), 200 ms loop, in its own
 *     few lines (until issue 14 it ran on src/thermal/control/pid.ts, whose back-calculation moved
 *     with every change to ours).
 * Baseline fan stage: every fan gets the controller duty, a duty below the fan's minimum is off, and
 * a stopped fan gets its start duty for 1 s (the original's cold-start kick).
 */
import type { FanConfig } from '../../src/cooler/config.ts';
import { interpolate } from '../../src/thermal/control/index.ts';

export interface Sample {
  now: number;
  /** zone temperature as read (whole degrees, like nvidia-smi, unless a scenario says otherwise) */
  tempC: number;
  /** per zone GPU */
  temps: number[];
  powerW: Array<number | null>;
  hintW: number | undefined;
  ambientC?: number;
  rpm: Record<string, number | null>;
}

/** A controller under test: called every `period` s; returns per-fan duties and the zone duty. */
export interface Controller {
  family: string;
  label: string;
  period: number;
  /** the setpoint it holds, if it has one (for the overshoot) */
  setpoint?: number;
  step(s: Sample): { zoneDuty: number; fanDuties: Record<string, number> };
}

/** Baseline fan stage: same duty to every fan; below minimum = off; 1 s start kick. */
export function equalFanStage(fanConfigs: ReadonlyArray<FanConfig>) {
  const kickUntil = new Map<string, number>();
  const last = new Map<string, number>();
  return (now: number, duty: number): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const f of fanConfigs) {
      let d = duty >= f.minDuty ? duty : 0;
      if (d > 0 && (last.get(f.id) ?? 0) === 0) kickUntil.set(f.id, now + 1);
      if (d > 0 && now < (kickUntil.get(f.id) ?? -1)) d = Math.max(d, f.startDuty);
      last.set(f.id, d > 0 ? d : 0);
      out[f.id] = d;
    }
    return out;
  };
}

export function originalCurve(shift: number, fanConfigs: ReadonlyArray<FanConfig>): Controller {
  const points: Array<[number, number]> = [
    [40 + shift, 0],
    [70 + shift, 1 / 3],
    [100 + shift, 1],
  ];
  const stage = equalFanStage(fanConfigs);
  return {
    family: 'original-curve',
    label: `curve${shift >= 0 ? '+' : ''}${shift}C`,
    period: 5,
    step(s) {
      const duty = interpolate(points, s.tempC);
      return { zoneDuty: duty, fanDuties: stage(s.now, duty) };
    },
  };
}

export function fan2goPid(setpoint: number, fanConfigs: ReadonlyArray<FanConfig>): Controller {
  // fan2go PID curve (internal/util/pid.go): err = setPoint - measured with negative gains; in
  // cooling form kp*(T-sp) + ki*integral + kd*dT/dt, output clamped to 0..1; derivative on the
  // measurement, unfiltered; no integration while the output is saturated. Its own few lines, not
  // src/thermal/control/pid.ts: a change to our PID must not move the baseline.
  const kp = 0.05;
  const ki = 0.005;
  const kd = 0.005;
  let integral = 0;
  let lastT: number | null = null;
  let lastNow: number | null = null;
  const stage = equalFanStage(fanConfigs);
  return {
    family: 'fan2go-pid',
    label: `fan2go-pid@${setpoint}C`,
    period: 0.2,
    setpoint,
    step(s) {
      const dt = lastNow === null ? 0 : s.now - lastNow;
      const e = s.tempC - setpoint;
      const d = lastT !== null && dt > 0 ? (s.tempC - lastT) / dt : 0;
      lastNow = s.now;
      lastT = s.tempC;
      const tentative = integral + e * dt;
      const raw = kp * e + ki * tentative + kd * d;
      const out = Math.max(0, Math.min(1, raw));
      if (out === raw) integral = tentative;
      return { zoneDuty: out, fanDuties: stage(s.now, out) };
    },
  };
}
