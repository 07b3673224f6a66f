/**
 * One zone: GPU temperatures -> one controller -> the zone's fans.
 *
 *   temps --aggregate (max|mean)--> T --mode (pid+ff | curve | fixed)--> demand
 *     --stop/start hysteresis, min/max--> --slew up/down--> zone duty --quiet split, kick, stall--> fan duties
 *
 * Safety overrides inside a step (the service adds the ones that need I/O context: stale samples,
 * dead nvidia-smi, lost cooler link): a missing temperature or one at/above criticalCelsius
 * gives duty 1 with an alarm. Leaving an override, changing mode or gains is bumpless: the next
 * step continues from the duty the fans have now.
 */
import type { FanConfig } from '../../cooler/config.ts';
import type { ZoneConfig } from '../config.ts';
import { createFanAllocator, type AllocFan } from './allocation.ts';
import { createCurveFollower } from './curve.ts';
import { createFeedForward } from './feedforward.ts';
import { createPid } from './pid.ts';
import { slew } from './slew.ts';
import type { PidTerms, ZoneState, ZoneStepInput, ZoneStepOutput } from './types.ts';

export interface ZoneController {
  step(input: ZoneStepInput): ZoneStepOutput;
  /**
   * Change settings at run time (setpoint, mode, gains, curve, limits...). Bumpless. Nested
   * objects (pid, feedForward, stall) merge key by key. `id`, `gpus` and `fans` cannot change here
   * (build a new controller). Throws with the field name on a value the controller cannot use.
   */
  update(patch: ZonePatch): ZoneConfig;
  state(): ZoneState;
}

export type ZonePatch = Partial<Omit<ZoneConfig, 'id' | 'gpus' | 'fans' | 'pid' | 'feedForward' | 'stall'>> & {
  pid?: Partial<ZoneConfig['pid']>;
  feedForward?: Partial<ZoneConfig['feedForward']>;
  stall?: Partial<ZoneConfig['stall']>;
};

const ZERO_TERMS: PidTerms = { p: 0, i: 0, d: 0, ff: 0 };

function finite(x: number | null | undefined): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

export function checkZone(zone: ZoneConfig): string[] {
  const issues: string[] = [];
  if (zone.minDuty > zone.maxDuty) issues.push(`minDuty: must be <= maxDuty (${zone.maxDuty})`);
  if (zone.stopBelowDuty > zone.minDuty) issues.push(`stopBelowDuty: must be <= minDuty (${zone.minDuty})`);
  if (zone.curve.length < 2) issues.push('curve: needs at least 2 points');
  for (let k = 1; k < zone.curve.length; k++) {
    if (!(zone.curve[k]![0] > zone.curve[k - 1]![0])) issues.push(`curve[${k}]: temperatures must increase (${zone.curve[k]![0]} after ${zone.curve[k - 1]![0]})`);
  }
  return issues;
}

export function createZoneController(initial: ZoneConfig, fanConfigs: ReadonlyArray<FanConfig>): ZoneController {
  let zone: ZoneConfig = structuredClone(initial);
  const problems = checkZone(zone);
  if (problems.length) throw new Error(`zone "${zone.id}": ${problems.join('; ')}`);
  const fans: AllocFan[] = zone.fans.map((id) => {
    const f = fanConfigs.find((c) => c.id === id);
    if (!f) throw new Error(`zone "${zone.id}": unknown fan "${id}"`);
    return { id: f.id, maxRpm: f.maxRpm, minDuty: f.minDuty, startDuty: f.startDuty, maxDba: f.maxDba };
  });

  const pid = createPid(zone.pid);
  const ff = createFeedForward(zone.feedForward);
  const curve = createCurveFollower(
    () => zone.curve,
    () => zone.hysteresis,
  );
  const allocator = createFanAllocator(fans, zone.stall);

  let lastNow: number | null = null;
  /** duty commanded last step (after slew), the base for slew and bumpless transfer */
  let duty = 1;
  let stopped = false;
  /** pid must re-track before its next step (first step, mode change, failsafe exit) */
  let pidNeedsTrack = true;
  let lastTemp = NaN;
  let last: ZoneStepOutput | null = null;

  const aggregate = (temps: number[]) => (zone.aggregate === 'max' ? Math.max(...temps) : temps.reduce((s, t) => s + t, 0) / temps.length);

  /** limits and stop/start hysteresis; pure (the PID calls it to test for saturation) */
  const limitDemand = (demand: number, wasStopped: boolean): { value: number; stopped: boolean } => {
    if (zone.stopBelowDuty > 0) {
      if (wasStopped && demand < zone.minDuty) return { value: 0, stopped: true };
      if (!wasStopped && demand < zone.stopBelowDuty) return { value: 0, stopped: true };
    }
    return { value: Math.min(zone.maxDuty, Math.max(zone.minDuty, demand)), stopped: false };
  };
  const constrain = (demand: number, dt: number) => {
    const lim = limitDemand(demand, stopped);
    // Stopping is a step to 0 (a fan below its minimum would stall anyway); otherwise slew.
    const base = stopped ? (lim.stopped ? 0 : zone.minDuty) : duty;
    return lim.stopped ? 0 : slew(base, lim.value, dt, zone.slewUpPerSecond, zone.slewDownPerSecond);
  };

  /**
   * What the PID may assume about its output, for anti-windup: limits and slew, but the stop
   * region counts as reachable (the demand must be free to fall to stopBelowDuty and to climb
   * back to minDuty while the fans are stopped).
   */
  const pidConstrain = (demand: number, dt: number) => {
    const floor = zone.stopBelowDuty > 0 ? 0 : zone.minDuty;
    const target = Math.min(zone.maxDuty, Math.max(floor, demand));
    return slew(stopped ? 0 : duty, target, dt, zone.slewUpPerSecond, stopped ? Infinity : zone.slewDownPerSecond);
  };

  return {
    state() {
      return { config: structuredClone(zone), last, fanMinDuty: allocator.minDuty() };
    },

    update(patch) {
      const next: ZoneConfig = {
        ...zone,
        ...(patch as Partial<ZoneConfig>),
        id: zone.id,
        gpus: zone.gpus,
        fans: zone.fans,
        pid: { ...zone.pid, ...patch.pid },
        feedForward: { ...zone.feedForward, ...patch.feedForward },
        stall: { ...zone.stall, ...patch.stall },
      };
      const issues = checkZone(next);
      if (issues.length) throw new Error(`zone "${zone.id}": ${issues.join('; ')}`);
      const modeChanged = next.mode !== zone.mode;
      const ffBefore = zone.feedForward.enabled ? ff.dutyAt(ff.estimateW) : 0;
      zone = next;
      ff.setParams(zone.feedForward);
      allocator.setStall(zone.stall);
      if (modeChanged) {
        pidNeedsTrack = true;
        curve.reset();
      }
      // Gains change without a jump: the integral absorbs the P/D/FF difference at the last
      // reading. A setpoint change still moves the P term (that is what a setpoint is for).
      pid.setGains(zone.pid, Number.isFinite(lastTemp) ? lastTemp : zone.pid.setpoint, zone.pid.setpoint);
      pid.shiftIntegral(ffBefore - (zone.feedForward.enabled ? ff.dutyAt(ff.estimateW) : 0));
      return structuredClone(zone);
    },

    step(input) {
      const dt = lastNow === null ? 0 : Math.max(0, input.now - lastNow);
      lastNow = input.now;
      const alarms: string[] = [];

      const temps: number[] = [];
      zone.gpus.forEach((gpu, k) => {
        const t = input.temps[k];
        if (finite(t)) temps.push(t);
        else alarms.push(`sensor-missing:gpu${gpu}`);
      });
      const power = zone.gpus.reduce((s, _, k) => s + (finite(input.powerW?.[k]) ? input.powerW![k]! : 0), 0);
      const hint = finite(input.loadHintW) ? input.loadHintW * zone.gpus.length : undefined;
      const ffDuty = ff.step(dt, power, hint);
      const temperature = alarms.length === 0 && temps.length ? aggregate(temps) : NaN;
      if (Number.isFinite(temperature)) lastTemp = temperature;
      const hottest = temps.length ? Math.max(...temps) : NaN;
      if (hottest >= zone.criticalCelsius) alarms.push(`critical:${hottest.toFixed(1)}C>=${zone.criticalCelsius}C`);

      let terms = ZERO_TERMS;
      let demand: number;
      const failsafe = alarms.length > 0;
      if (failsafe) {
        demand = 1;
        duty = 1;
        stopped = false;
        pidNeedsTrack = true;
      } else {
        if (zone.mode === 'pid') {
          const ffNow = zone.feedForward.enabled ? ffDuty : 0;
          if (pidNeedsTrack) {
            pid.track(stopped ? 0 : duty, temperature, zone.pid.setpoint, ffNow);
            pidNeedsTrack = false;
          }
          const r = pid.step({ dt, measurement: temperature, setpoint: zone.pid.setpoint, ff: ffNow, constrain: (v) => pidConstrain(v, dt) });
          terms = { p: r.p, i: r.i, d: r.d, ff: r.ff };
          demand = r.demand;
        } else if (zone.mode === 'curve') {
          demand = curve.step(temperature);
        } else demand = zone.fixedDuty;
        const lim = limitDemand(demand, stopped);
        duty = constrain(demand, dt);
        stopped = lim.stopped;
      }

      const alloc = allocator.step(input.now, stopped ? 0 : duty, input.fanRpm);
      alarms.push(...alloc.alarms);
      last = {
        duty: stopped ? 0 : duty,
        fanDuties: alloc.fanDuties,
        fans: alloc.fans,
        terms,
        demand,
        temperature,
        alarms,
        failsafe,
        mode: zone.mode,
        setpoint: zone.pid.setpoint,
        stopped,
      };
      return last;
    },
  };
}
