/**
 * The baseline controllers of the thermal benchmarks (test/bench/thermal.ts and
 * test/bench/thermal-scenarios.ts), so both compare against exactly the same ones:
 *   - the original Tesla-Cooler curve (0 below 40 C, 1/3 at 70 C, 1 at 100 C, 5 s loop), shifted;
 *   - a plain PID with fan2go's documented PID-curve gains (p 0.05, i 0.005, d 0.005 in duty 0..1
 *     per C; derivative on measurement, no integration while saturated), 200 ms loop.
 * Baseline fan stage: every fan gets the controller duty, a duty below the fan's minimum is off, and
 * a stopped fan gets its start duty for 1 s (the original's cold-start kick).
 */
import type { FanConfig } from '../../src/cooler/config.ts';
import { createPid, interpolate } from '../../src/thermal/control/index.ts';

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
  // fan2go PID curve: err = setPoint - measured with negative gains; in cooling form that is
  // kp*(T-sp) + ki*integral + kd*dT/dt, output clamped to 0..1; derivative unfiltered.
  const pid = createPid({ kp: 0.05, ki: 0.005, kd: 0.005, derivativeFilterSeconds: 0, integralLimit: Infinity });
  const stage = equalFanStage(fanConfigs);
  let lastNow: number | null = null;
  return {
    family: 'fan2go-pid',
    label: `fan2go-pid@${setpoint}C`,
    period: 0.2,
    setpoint,
    step(s) {
      const dt = lastNow === null ? 0 : s.now - lastNow;
      lastNow = s.now;
      const r = pid.step({ dt, measurement: s.tempC, setpoint, ff: 0, constrain: (v) => Math.max(0, Math.min(1, v)) });
      return { zoneDuty: r.output, fanDuties: stage(s.now, r.output) };
    },
  };
}
