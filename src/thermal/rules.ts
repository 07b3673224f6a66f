/**
 * Rules across thermal fields that a schema cannot say. One home for them: config load
 * (`gance config check` and the daemon), the API's PATCH/PUT and the state-file reload at boot
 * all call these, so a setting one path refuses cannot come in through another.
 *
 * Each issue is one line, `field: what is expected`, the field relative to what was checked
 * (callers prefix `thermal.zones[1].` or `thermal.`).
 */
import type { ThermalConfig, ZoneConfig } from './config.ts';

/** degrees below criticalCelsius a GPU must fall before the critical alarm clears */
export const CRITICAL_CLEAR_K = 3;

/** a sensor sample may be missed once before the zone counts as stale */
export const STALE_SAMPLES = 2;

/** Rules across one zone's fields (a complete zone: the config's, or the config's with a tuning over it). */
export function zoneIssues(zone: ZoneConfig): string[] {
  const issues: string[] = [];
  if (zone.minDuty > zone.maxDuty) issues.push(`minDuty: must be <= maxDuty (${zone.maxDuty})`);
  if (zone.stopBelowDuty > zone.minDuty) issues.push(`stopBelowDuty: must be <= minDuty (${zone.minDuty})`);
  // Holding a setpoint within the critical alarm's clearing band would latch full fans at every
  // touch of critical and release them only below the setpoint: the zone would pump.
  const highest = zone.criticalCelsius - CRITICAL_CLEAR_K;
  if (!(zone.pid.setpoint <= highest)) issues.push(`pid.setpoint: must be at most criticalCelsius - ${CRITICAL_CLEAR_K} (${highest}), got ${zone.pid.setpoint}`);
  if (zone.curve.length < 2) issues.push(`curve: must have at least 2 points, got ${zone.curve.length}`);
  for (let k = 1; k < zone.curve.length; k++) {
    const [t0] = zone.curve[k - 1]!;
    const [t1] = zone.curve[k]!;
    if (!(t1 > t0)) issues.push(`curve[${k}]: temperatures must increase (${t1} after ${t0})`);
  }
  return issues;
}

/** Rules of the thermal section as a whole, each zone's included (`zones[1].pid.setpoint: ...`). */
export function thermalIssues(config: ThermalConfig): string[] {
  const issues: string[] = [];
  const s = config.sensors;
  // A sample arrives every intervalMs: a stale limit closer than that leaves the zone in
  // permanent failsafe while everything else looks healthy.
  const staleMin = STALE_SAMPLES * s.intervalMs;
  if (s.staleAfterMs < staleMin) issues.push(`sensors.staleAfterMs: must be >= ${STALE_SAMPLES} x sensors.intervalMs (${staleMin}), got ${s.staleAfterMs}`);
  if (s.silentAfterMs !== undefined && s.silentAfterMs < staleMin) {
    issues.push(`sensors.silentAfterMs: must be >= ${STALE_SAMPLES} x sensors.intervalMs (${staleMin}), got ${s.silentAfterMs}`);
  }
  if (s.restartMinMs > s.restartMaxMs) issues.push(`sensors.restartMinMs: must be <= sensors.restartMaxMs (${s.restartMaxMs}), got ${s.restartMinMs}`);
  if (config.history.intervalMs > config.history.seconds * 1000) {
    issues.push(`history.intervalMs: must be <= history.seconds x 1000 (${config.history.seconds * 1000}), got ${config.history.intervalMs}`);
  }
  const ids = new Set<string>();
  config.zones.forEach((zone, z) => {
    if (ids.has(zone.id)) issues.push(`zones[${z}].id: duplicate zone id "${zone.id}"`);
    ids.add(zone.id);
    for (const issue of zoneIssues(zone)) issues.push(`zones[${z}].${issue}`);
  });
  return issues;
}
