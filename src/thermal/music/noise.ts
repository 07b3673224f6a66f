/**
 * What a zone's fans sound like at the listener, from the fans' data at 1 m (cooler.fans maxDba,
 * REFERENCE.md 3) and the allocator's own quiet split: the level is that of the per-fan duties the
 * zone really sends for a zone duty. Free field: -20 log10(distance) from the 1 m figure.
 */
import { fanNoiseDba, quietSplit, sumDba, type AllocFan } from '../control/allocation.ts';

export function zoneNoiseDba(fans: ReadonlyArray<AllocFan>, zoneDuty: number, distanceM = 1): number {
  if (!(zoneDuty > 0)) return -Infinity;
  const duties = quietSplit(fans, zoneDuty);
  return sumDba(fans.map((f) => fanNoiseDba(f, duties[f.id] ?? 0))) - 20 * Math.log10(Math.max(0.1, distanceM));
}

/**
 * The highest zone duty in [minDuty, maxDuty] whose noise at the listener stays at or below
 * `allowedDba`; 0 when even minDuty is louder (the fans must stop to stay inaudible). The level
 * rises with the duty (the split never gets louder for more airflow), so a bisection finds it.
 */
export function dutyCap(fans: ReadonlyArray<AllocFan>, allowedDba: number, minDuty: number, maxDuty: number, distanceM = 1): number {
  const lo0 = Math.max(minDuty, 1e-3);
  if (zoneNoiseDba(fans, lo0, distanceM) > allowedDba) return 0;
  if (zoneNoiseDba(fans, maxDuty, distanceM) <= allowedDba) return maxDuty;
  let lo = lo0;
  let hi = maxDuty;
  for (let k = 0; k < 30; k++) {
    const mid = (lo + hi) / 2;
    if (zoneNoiseDba(fans, mid, distanceM) <= allowedDba) lo = mid;
    else hi = mid;
  }
  return lo;
}
