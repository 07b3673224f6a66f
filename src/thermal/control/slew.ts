/** Rate limit with separate rise and fall rates (per second): fast up for safety, slow down for quiet. */
export function slew(previous: number, target: number, dt: number, upPerSecond: number, downPerSecond: number): number {
  if (target > previous) return Math.min(target, previous + upPerSecond * dt);
  return Math.max(target, previous - downPerSecond * dt);
}
