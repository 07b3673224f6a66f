/**
 * When a zone yields, as a plain function of its readings: no timers, no I/O, so every rule has a
 * unit test. One state per zone; `stepYield` is called every control tick.
 *
 * Steps: 0 is full speed; step k (1..steps.length) runs synthesis at steps[k-1] of the speed it
 * had before yielding. A step is taken when the fans are already at full, the zone is within
 * startBelowCriticalC of critical and still rising (the first step by the filtered rate, a
 * further one by the rise since the step last changed), and the previous step has had stepSeconds
 * to show; within pauseAboveCriticalMinusC of critical the last step is taken at once, and so it is
 * while yielding when the zone's rise rate would take it there within pauseLeadSeconds (a step
 * shows only after a reading, a tick and the batch in flight: a zone rising degrees a second is
 * past critical by then). A step is
 * given back once the zone has stayed releaseBelowCriticalC under critical for the release hold.
 * The gap between the start and release thresholds is the hysteresis; a step that has to be
 * taken again soon after it was given back doubles the hold (up to 16x), so a load that sits
 * between two steps cycles slower and slower instead of hunting.
 */
import type { YieldConfig } from './config.ts';

export type YieldRules = Pick<
  YieldConfig,
  'fullDuty' | 'startBelowCriticalC' | 'riseCPerMinute' | 'riseFilterSeconds' | 'steps' | 'stepSeconds' | 'pauseAboveCriticalMinusC' | 'pauseLeadSeconds' | 'releaseBelowCriticalC' | 'releaseSeconds'
>;

export interface YieldState {
  /** 0: not yielding; k: running at steps[k-1] */
  step: number;
  /** seconds (the caller's clock) of the last step change */
  changedAt: number;
  /** since when the zone has been cool enough to give a step back; null: it is not */
  coolSince: number | null;
  /** last release (step given back), for the bounce backoff; null: none recent */
  releasedAt: number | null;
  /** steps taken again soon after they were given back */
  bounces: number;
  /** filtered rise rate, C/s, and the reading it was last updated with */
  rise: { t: number; temperature: number; cPerS: number } | null;
  /** the zone temperature when the step last changed (the rise since then judges a further step); null: none */
  stepC: number | null;
}

export interface YieldInput {
  /** seconds, monotonic */
  now: number;
  /** zone temperature; null: no usable reading (the step is held) */
  temperature: number | null;
  /** zone duty commanded, 0..1 */
  duty: number;
  /**
   * the most the zone's fans will give now, 0..1 (see dutyCeiling): its maxDuty, or the duty a
   * noise budget holds it at. fullDuty is a share of it: a zone whose maxDuty is 0.8 (a quiet
   * mode) never reaches 0.95, and would otherwise never yield and run into critical instead.
   */
  ceiling: number;
  /** the zone is in failsafe (its fans at full) */
  failsafe: boolean;
  criticalC: number;
}

export interface YieldDecision {
  state: YieldState;
  /** the step changed this call */
  change: 'up' | 'down' | null;
  /** why, for logs and the API */
  reason: string;
}

export const MAX_BOUNCE_DOUBLINGS = 4;

export function initialYield(): YieldState {
  return { step: 0, changedAt: -Infinity, coolSince: null, releasedAt: null, bounces: 0, rise: null, stepC: null };
}

/**
 * The ceiling for YieldInput: the zone's maxDuty, or, while its noise budget holds the duty at or
 * under its cap (stopped fans included), the duty itself: the controller will not give more.
 */
export function dutyCeiling(maxDuty: number, duty: number, budget: { cap: number; bound: boolean } | null | undefined): number {
  return budget?.bound && duty <= budget.cap + 1e-9 ? duty : maxDuty;
}

/** speed share of a step: 1 at step 0 */
export function speedOf(rules: Pick<YieldRules, 'steps'>, step: number): number {
  return step <= 0 ? 1 : rules.steps[Math.min(step, rules.steps.length) - 1]!;
}

/** seconds the zone must stay cool before a step is given back */
export function releaseHold(rules: Pick<YieldRules, 'releaseSeconds'>, bounces: number): number {
  return rules.releaseSeconds * 2 ** Math.min(MAX_BOUNCE_DOUBLINGS, bounces);
}

function updateRise(rules: YieldRules, prev: YieldState['rise'], now: number, temperature: number): NonNullable<YieldState['rise']> {
  if (!prev || !(now > prev.t)) return { t: now, temperature, cPerS: prev?.cPerS ?? 0 };
  const dt = now - prev.t;
  const raw = (temperature - prev.temperature) / dt;
  const a = dt / (rules.riseFilterSeconds + dt);
  return { t: now, temperature, cPerS: prev.cPerS + a * (raw - prev.cPerS) };
}

/**
 * a whole-degree tick just after a step counts as a rise of at most 1 C over this many seconds,
 * not over the fraction of a second since the step
 */
export const SINCE_CHANGE_MIN_S = 1;

/**
 * The rise rate (C/s) a further step and the pause lead judge by, once yielding: what the
 * readings since the step last changed show. The filter restarts at each change, and until it
 * has caught up the mean rise since the change stands in (whichever is higher). Before, the
 * filter went on through the change: its time constant (10 s) is as long as the dwell, so it still
 * showed the rise from before the step, and a zone the step had levelled off went on to the
 * next step and the pause; on a fast heatsink that paused renders right after the first step.
 */
function riseSinceChange(s: YieldState, rise: NonNullable<YieldState['rise']>, now: number, t: number): number | null {
  if (s.step === 0 || s.stepC === null || !Number.isFinite(s.changedAt)) return null;
  return Math.max(rise.cPerS, (t - s.stepC) / Math.max(now - s.changedAt, SINCE_CHANGE_MIN_S));
}

export function stepYield(rules: YieldRules, prev: YieldState, input: YieldInput): YieldDecision {
  const last = rules.steps.length;
  const { now, temperature: t, criticalC } = input;
  if (t === null || !Number.isFinite(t)) {
    // no reading: the fans are in failsafe anyway; giving speed back on no evidence is not safe
    return { state: { ...prev, coolSince: null }, change: null, reason: 'no temperature: step held' };
  }
  const rise = updateRise(rules, prev.rise, now, t);
  const s: YieldState = { ...prev, rise };
  // a ceiling that is no number is read as the old fixed full duty, not as fans at full
  const ceiling = Number.isFinite(input.ceiling) ? Math.max(0, Math.min(1, input.ceiling)) : 1;
  const fansFull = input.failsafe || input.duty >= rules.fullDuty * ceiling - 1e-9;
  const cPerS = riseSinceChange(s, rise, now, t) ?? rise.cPerS;
  const rising = cPerS * 60 > rules.riseCPerMinute;
  const hot = t >= criticalC - rules.startBelowCriticalC;
  const up = (to: number, reason: string): YieldDecision => {
    // taken again soon after it was given back: the next release waits longer
    const bounced = s.releasedAt !== null && now - s.releasedAt < 3 * releaseHold(rules, s.bounces);
    return { state: { ...s, step: to, changedAt: now, stepC: t, rise: { ...rise, cPerS: 0 }, coolSince: null, bounces: bounced ? s.bounces + 1 : s.bounces }, change: 'up', reason };
  };

  if (s.step < last && t >= criticalC - rules.pauseAboveCriticalMinusC) {
    return up(last, `${t.toFixed(1)} C is within ${rules.pauseAboveCriticalMinusC} C of critical ${criticalC} C: last step at once`);
  }
  // Only once yielding: before the first step the fans may still be coming up to full, which the
  // rate does not show yet (and the plain threshold above still holds)
  const ahead = t + Math.max(0, cPerS) * rules.pauseLeadSeconds;
  if (s.step > 0 && s.step < last && ahead >= criticalC - rules.pauseAboveCriticalMinusC) {
    return up(last, `${t.toFixed(1)} C rising ${(cPerS * 60).toFixed(1)} C/min would be within ${rules.pauseAboveCriticalMinusC} C of critical ${criticalC} C in ${rules.pauseLeadSeconds} s: last step at once`);
  }
  if (s.step < last && hot && rising && fansFull && now - s.changedAt >= (s.step === 0 ? 0 : rules.stepSeconds)) {
    return up(s.step + 1, `fans at full (duty ${input.duty.toFixed(2)} of ${ceiling.toFixed(2)}) and ${t.toFixed(1)} C rising ${(cPerS * 60).toFixed(1)} C/min within ${rules.startBelowCriticalC} C of critical ${criticalC} C`);
  }
  if (s.step === 0) {
    // long cool spells at full speed forget old bounces
    if (s.releasedAt !== null && now - s.releasedAt >= 3 * releaseHold(rules, s.bounces)) return { state: { ...s, releasedAt: null, bounces: 0, coolSince: null }, change: null, reason: 'not yielding' };
    return { state: { ...s, coolSince: null }, change: null, reason: 'not yielding' };
  }
  const cool = t <= criticalC - rules.releaseBelowCriticalC;
  if (!cool) return { state: { ...s, coolSince: null }, change: null, reason: `holding step ${s.step}: ${t.toFixed(1)} C is above ${criticalC - rules.releaseBelowCriticalC} C` };
  const since = s.coolSince ?? now;
  const hold = releaseHold(rules, s.bounces);
  if (now - since >= hold && now - s.changedAt >= hold) {
    return { state: { ...s, step: s.step - 1, changedAt: now, stepC: t, rise: { ...rise, cPerS: 0 }, coolSince: now, releasedAt: now }, change: 'down', reason: `${t.toFixed(1)} C at or below ${criticalC - rules.releaseBelowCriticalC} C for ${hold} s` };
  }
  return { state: { ...s, coolSince: since }, change: null, reason: `cooling: step ${s.step} given back after ${hold} s at or below ${criticalC - rules.releaseBelowCriticalC} C` };
}
