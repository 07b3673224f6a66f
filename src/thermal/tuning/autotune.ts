/**
 * Autotune a zone: a step (FOPDT fit) then a relay experiment around the setpoint, then gains by
 * each rule with the response each would give on the identified plant. Nothing is applied here:
 * `tuningPatch()` is the body for the zone's PATCH route, sent on request.
 */
import type { StepFit } from './fopdt.ts';
import { RULES, expectedResponse, fromRelay, simc, type ExpectedResponse, type ProposedGains, type TuningRule } from './gains.ts';
import { runRelay, type RelayResult } from './relay.ts';
import { runStep, type StepResult } from './step.ts';
import type { ZoneIo, ZoneSample } from './zone-io.ts';

export interface AutotuneOptions {
  setpointC: number;
  /** safety limit: any reading above it stops everything with the fans at full */
  abortAboveC: number;
  /** relay excursion bound, C (default 4) */
  maxExcursionC?: number;
  /** the identification step (defaults 0.5 -> 0.75) */
  fromDuty?: number;
  toDuty?: number;
  /** relay amplitude, duty (default 0.15) */
  amplitude?: number;
  minDuty?: number;
  onSample?: (s: ZoneSample, phase: 'hold' | 'step' | 'relay') => void;
}

export interface Proposal extends ProposedGains {
  expected: ExpectedResponse;
}

export interface AutotuneResult {
  step: StepResult;
  model: StepFit;
  relay: RelayResult;
  proposals: Proposal[];
  /** the quiet-fan rule's proposal name */
  recommended: TuningRule;
}

export function proposals(model: StepFit, relay: Pick<RelayResult, 'ku' | 'pu' | 'biasDuty'>, o: { resolutionC?: number; minDuty?: number } = {}): Proposal[] {
  const gains: ProposedGains[] = RULES.map((rule) => (rule === 'simc' ? simc(model, { resolutionC: o.resolutionC }) : fromRelay(rule, relay.ku, relay.pu)));
  return gains.map((g) => ({ ...g, expected: expectedResponse(model, g, { dutyAtSetpoint: relay.biasDuty, minDuty: o.minDuty }) }));
}

export async function autotune(io: ZoneIo, o: AutotuneOptions): Promise<AutotuneResult> {
  const step = await runStep(io, {
    fromDuty: o.fromDuty ?? 0.5,
    toDuty: o.toDuty ?? 0.75,
    abortAboveC: o.abortAboveC,
    onSample: (s, phase) => o.onSample?.(s, phase),
  });
  const model = step.fit;
  // the duty that holds the setpoint, by the model
  const bias = model.toDuty + (o.setpointC - model.finalC) / model.gain;
  const relay = await runRelay(io, {
    setpointC: o.setpointC,
    biasDuty: Number.isFinite(bias) ? bias : 0.6,
    amplitude: o.amplitude,
    maxExcursionC: o.maxExcursionC ?? 4,
    abortAboveC: o.abortAboveC,
    minDuty: o.minDuty,
    onSample: (s) => o.onSample?.(s, 'relay'),
  });
  return { step, model, relay, proposals: proposals(model, relay, { resolutionC: io.resolutionC, minDuty: o.minDuty }), recommended: 'simc' };
}

/**
 * The PATCH body for a proposal. The rules tune the loop without feed-forward, so the gain used
 * when feed-forward has nothing to go on (kiWithoutFeedForward) gets the rule's integral gain; ki
 * (with feed-forward carrying the load) gets it too, the integral then only trims.
 */
export function tuningPatch(p: Pick<ProposedGains, 'kp' | 'ki' | 'kd'>): { pid: { kp: number; ki: number; kiWithoutFeedForward: number; kd: number } } {
  const r = (x: number) => Number(x.toPrecision(4));
  return { pid: { kp: r(p.kp), ki: r(p.ki), kiWithoutFeedForward: r(p.ki), kd: r(p.kd) } };
}
