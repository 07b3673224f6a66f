import { checkSynthesisConfig } from '../synthesis/config.ts';
import type { Config } from './schema.ts';

/** Rules a schema cannot say: references between sections and orderings. One line per issue. */
export function crossCheck(config: Config): string[] {
  const issues: string[] = [];
  const fanIds = new Set<string>();
  const channels = new Map<number, string>();
  config.cooler.fans.forEach((fan, i) => {
    if (fanIds.has(fan.id)) issues.push(`cooler.fans[${i}].id: duplicate fan id "${fan.id}"`);
    fanIds.add(fan.id);
    const other = channels.get(fan.channel);
    if (other !== undefined) issues.push(`cooler.fans[${i}].channel: channel ${fan.channel} already used by fan "${other}"`);
    channels.set(fan.channel, fan.id);
    if (fan.startDuty < fan.minDuty) issues.push(`cooler.fans[${i}].startDuty: must be >= minDuty (${fan.minDuty})`);
  });
  if (config.cooler.driver !== 'simulated' && !config.cooler.path) {
    issues.push(`cooler.path: is required when cooler.driver is "${config.cooler.driver}"`);
  }

  const owner = new Map<string, string>();
  const zoneIds = new Set<string>();
  config.thermal.zones.forEach((zone, z) => {
    const at = `thermal.zones[${z}]`;
    if (zoneIds.has(zone.id)) issues.push(`${at}.id: duplicate zone id "${zone.id}"`);
    zoneIds.add(zone.id);
    zone.fans.forEach((fan, f) => {
      if (!fanIds.has(fan)) issues.push(`${at}.fans[${f}]: unknown fan "${fan}" (cooler.fans has: ${[...fanIds].join(', ')})`);
      const prev = owner.get(fan);
      if (prev !== undefined && prev !== zone.id) issues.push(`${at}.fans[${f}]: fan "${fan}" is already driven by zone "${prev}"`);
      owner.set(fan, zone.id);
    });
    if (zone.mode === 'pid' && !zone.pid) issues.push(`${at}.pid: is required when mode is "pid"`);
    if (zone.minDuty > zone.maxDuty) issues.push(`${at}.minDuty: must be <= maxDuty (${zone.maxDuty})`);
    for (let p = 1; p < zone.curve.length; p++) {
      const [t0] = zone.curve[p - 1]!;
      const [t1] = zone.curve[p]!;
      if (!(t1 > t0)) issues.push(`${at}.curve[${p}]: temperatures must increase (${t1} after ${t0})`);
    }
  });
  issues.push(...checkSynthesisConfig(config.synthesis));
  return issues;
}
