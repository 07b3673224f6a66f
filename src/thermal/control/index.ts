/**
 * Thermal control core: plain synchronous functions, no timers and no I/O. The thermal service
 * calls `step()` once per loop period per zone and sends `fanDuties` to the cooler.
 *
 *   const zone = createZoneController(zoneConfig, coolerConfig.fans);
 *   const out = zone.step({ now: seconds, temps: [t0, t1], powerW: [p0, p1], loadHintW, fanRpm });
 *   cooler.setDuties(out.fanDuties);  // out.alarms non-empty -> surface them (failsafe: out.failsafe)
 *   zone.update({ pid: { setpoint: 75 } });  // bumpless, validated
 *
 * Units: seconds, C, W, duty 0..1. Zone duty = share of the zone fans' full airflow.
 */
export { createZoneController } from './zone.ts';
export type { ZoneController, ZonePatch } from './zone.ts';
export type { ZoneStepInput, ZoneStepOutput, ZoneState, ZoneLearned, PidTerms, FanCommand, ZoneMode } from './types.ts';
export { createPid } from './pid.ts';
export type { Pid, PidGains, PidStepInput, PidStepResult } from './pid.ts';
export { interpolate, createCurveFollower } from './curve.ts';
export type { CurvePoints, CurveFollower } from './curve.ts';
export { slew } from './slew.ts';
export { createFeedForward } from './feedforward.ts';
export type { FeedForward, FeedForwardParams } from './feedforward.ts';
export { quietSplit, createFanAllocator, fanNoiseDba, sumDba, noiseEnergy, NOISE_DB_PER_DECADE } from './allocation.ts';
export type { AllocFan, SplitOptions, StallParams, FanAllocation, FanAllocator } from './allocation.ts';
export { countReversals } from './reversals.ts';
export { createRigIdentifier, createSlope, DEFAULT_RIG_PRIOR } from './identify.ts';
export type { RigIdentifier, RigModel, RigPrior, IdentifierState, IdentifierOptions } from './identify.ts';
export type { ReversalOptions } from './reversals.ts';
