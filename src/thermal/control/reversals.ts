/**
 * Hunting measure: duty reversals. A reversal is a change of direction of the duty by more than
 * `deadband` from the last extreme: the duty must have moved one way, then come back at least
 * `deadband` the other way. Movements inside the deadband never count, so sensor quantisation
 * jitter and slow trims do not, while every real up-down (or down-up) swing does.
 * Samples before `from` only set the starting point and direction.
 */
export interface ReversalOptions {
  /** duty, default 0.02 */
  deadband?: number;
  /** count only reversals at or after this time */
  from?: number;
  /** called with the time of each counted reversal */
  onReversal?: (t: number) => void;
}

export function countReversals(samples: ReadonlyArray<{ t: number; duty: number }>, opts: ReversalOptions = {}): number {
  const deadband = opts.deadband ?? 0.02;
  const from = opts.from ?? -Infinity;
  let count = 0;
  let dir = 0;
  let extreme: number | null = null;
  for (const { t, duty } of samples) {
    if (extreme === null) {
      extreme = duty;
      continue;
    }
    if (dir >= 0 && duty > extreme) {
      if (dir === 0 && duty - extreme <= deadband) continue;
      extreme = duty;
      dir = 1;
    } else if (dir <= 0 && duty < extreme) {
      if (dir === 0 && extreme - duty <= deadband) continue;
      extreme = duty;
      dir = -1;
    } else if (dir === 1 && extreme - duty > deadband) {
      if (t >= from) {
        count++;
        opts.onReversal?.(t);
      }
      dir = -1;
      extreme = duty;
    } else if (dir === -1 && duty - extreme > deadband) {
      if (t >= from) {
        count++;
        opts.onReversal?.(t);
      }
      dir = 1;
      extreme = duty;
    }
  }
  return count;
}
