/**
 * The first-order die model the noise budget plans with (the plant's own form, REFERENCE.md 4):
 *
 *   C dT/dt = P - G(x) (T - T_amb),   G(x) = G_still + (G_full - G_still) x^n
 *
 * x is the zone duty taken as the share of full airflow. Its time constant C / G(x) is the rig's
 * thermal time constant at that airflow: it sets how far ahead a quiet passage needs pre-cooling.
 * Held P and x over a step, the response is exact.
 */

export interface DieModel {
  heatCapacityJPerK: number;
  conductanceStillWPerK: number;
  conductanceFullWPerK: number;
  airflowExponent: number;
}

export function conductanceAt(m: DieModel, duty: number): number {
  const x = Math.max(0, Math.min(1, duty));
  return m.conductanceStillWPerK + (m.conductanceFullWPerK - m.conductanceStillWPerK) * x ** m.airflowExponent;
}

/** time constant at a duty, s */
export function timeConstantS(m: DieModel, duty: number): number {
  return m.heatCapacityJPerK / conductanceAt(m, duty);
}

/** temperature after `dt` seconds at duty and power, from `t0` */
export function stepC(m: DieModel, t0: number, duty: number, watts: number, ambientC: number, dt: number): number {
  const g = conductanceAt(m, duty);
  const tInf = ambientC + watts / g;
  return tInf + (t0 - tInf) * Math.exp((-g * dt) / m.heatCapacityJPerK);
}

/** the highest temperature now from which `dt` seconds at duty end at or below `t1` */
export function backStepC(m: DieModel, t1: number, duty: number, watts: number, ambientC: number, dt: number): number {
  const g = conductanceAt(m, duty);
  const tInf = ambientC + watts / g;
  return tInf + (t1 - tInf) * Math.exp((g * dt) / m.heatCapacityJPerK);
}
