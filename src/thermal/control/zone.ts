/**
 * One zone: GPU temperatures -> one controller -> the zone's fans.
 *
 *   temps --aggregate (max|mean)--> T --mode (pid+ff | curve | fixed)--> demand
 *     --stop/start hysteresis, min/max--> --slew up/down--> zone duty --quiet split, kick, stall--> fan duties
 *
 * Safety overrides inside a step (the service adds the ones that need I/O context: stale samples,
 * dead nvidia-smi, lost cooler link): a missing temperature, one at/above criticalCelsius, or
 * a NaN/infinite term (PID, curve, feed-forward) gives duty 1 with an alarm. Leaving an
 * override, changing mode or gains is bumpless: the next step continues from the duty the fans
 * have now.
 */
import type { FanConfig } from '../../cooler/config.ts';
import type { ZoneConfig } from '../config.ts';
import { LEARNED_DUTY_PER_WATT_FACTOR, plausibleAmbient, zoneIssues } from '../rules.ts';
import { createFanAllocator, type AllocFan } from './allocation.ts';
import { createCurveFollower } from './curve.ts';
import { createFeedForward } from './feedforward.ts';
import { createRigIdentifier, createSlope, DEFAULT_RIG_PRIOR } from './identify.ts';
import { createPid } from './pid.ts';
import { slew } from './slew.ts';
import type { PidTerms, ZoneBudget, ZoneLearned, ZoneState, ZoneStepInput, ZoneStepOutput } from './types.ts';

export interface ZoneController {
  step(input: ZoneStepInput): ZoneStepOutput;
  /**
   * Change settings at run time (setpoint, mode, gains, curve, limits...). Bumpless. Nested
   * objects (pid, feedForward, stall) merge key by key. `id`, `gpus` and `fans` cannot change here
   * (build a new controller). Throws with the field name on a value the controller cannot use.
   */
  update(patch: ZonePatch): ZoneConfig;
  state(): ZoneState;
  /**
   * Start from what an earlier run learned (the state directory). Returns false, changing
   * nothing, for values out of bounds or not finite.
   */
  restoreLearned(learned: ZoneLearned): boolean;
}

export type ZonePatch = Partial<Omit<ZoneConfig, 'id' | 'gpus' | 'fans' | 'pid' | 'feedForward' | 'stall'>> & {
  pid?: Partial<ZoneConfig['pid']>;
  feedForward?: Partial<ZoneConfig['feedForward']>;
  stall?: Partial<ZoneConfig['stall']>;
};

const ZERO_TERMS: PidTerms = { p: 0, i: 0, d: 0, ff: 0 };
/** s of readings the heat observer takes the temperature slope over */
const OBSERVER_SLOPE_SECONDS = 20;
/** s, the feed-forward holds the highest power estimate this long (bursts of a minute do not swing the fans) */
const FF_HOLD_SECONDS = 90;
/** anticipation (riseFor): the power filter's time constant as a share of the time the heatsink has left */
const RISE_HEADROOM_SHARE = 0.25;
/** a zone that came within this of its setpoint in the last REGULATING_SECONDS regulates: no anticipation */
const REGULATING_BAND_C = 3;
const REGULATING_SECONDS = 300;
/** C/s: a slower rise is a drift (holdDown) */
const RISING_MIN_CPS = 0.002;
/** s, low-pass of the identified model's feed-forward correction */
const CORRECTION_SECONDS = 60;
/**
 * Stopping under a light load (nextStopped): the identified heatsink, fans stopped, must settle
 * the load at least PASSIVE_STOP_MARGIN_C under the setpoint; a stop it made ends once that falls
 * under PASSIVE_RESTART_MARGIN_C or the die comes within it of the setpoint (the gap between the two
 * is the hysteresis; restarting 3 C early keeps the restart from overshooting).
 */
const PASSIVE_STOP_MARGIN_C = 6;
const PASSIVE_RESTART_MARGIN_C = 3;
/**
 * s: stopped fans under a bursty load start once the rig's model says a die reaches the setpoint this
 * soon with them stopped, whatever the demand. Not only at the setpoint: the feed-forward of bursts
 * averages them and can stay under minDuty, so they stayed stopped until then, the still-air heatsink
 * carried the die on, and the fans at their floor met it there: 60 s bursts with no hint peaked 4.6 C
 * over an 80 C setpoint. The power is the higher of the reading and the estimate (a burst's peak
 * counts at once); the model is the identified rig's, or the prior's before it has learned. Only
 * while bursting: a steady load's term reaches minDuty by itself, and an earlier start there (a warm
 * start with no hint) left the die to creep over the setpoint with no arrival lift.
 */
const START_LEAD_SECONDS = 30;
/** identification windows with power read and the fans stopped throughout, per GPU, before the still-air conductance counts as measured */
const PASSIVE_MIN_STILL_WINDOWS = 3;
/** s, the identifier's window: fans stopped this long before a window ends count it as still air */
const STILL_WINDOW_SECONDS = 20;

/** W over idleWatts from which a first arrival at the setpoint counts as a load's (arrivalDuty) */
const ARRIVAL_MIN_LOAD_W = 20;
/** C under the setpoint over which an arrival's rise is timed (creepDuty): one whole-degree sensor step */
const CREEP_SPAN_C = 1;
/**
 * Trickle (a light load at the setpoint, see `trickle`): the identified heatsink must hold every
 * GPU's load `hysteresis` under the setpoint with at most this share of the least airflow the fans
 * give (one fan at its minimum clearly cools it), and the die must stay under setpoint +
 * TRICKLE_OVER_C (a reading above that: the model was wrong, the usual minimum takes over).
 */
const TRICKLE_LEAST_SHARE = 0.5;
const TRICKLE_OVER_C = 1;

/** C: a reading at most this far under the filtered one the PID sees may be followed at the rise time constant (settling) */
const SETTLE_FALL_C = 2;

/**
 * A new load's first windows (identification on, headroomCelsius 0, every GPU's power read): the
 * configured dutyPerWatt and a hint are fitted to the prior rig, not this one (a 200 W hint on a
 * heatsink twice as light and fast ran the fans at 0.6 for a minute and a half while the die sat
 * 30 C under the setpoint). While the identified rig (the prior before it learns) at minDuty would
 * take more than FF_WAIT_LEAD_SECONDS to bring every GPU to the setpoint, the feed-forward may not
 * lift the duty over minDuty until FF_WAIT_WINDOWS identification windows have seen the load on
 * every GPU, at most FF_WAIT_MAX_SECONDS; where it did hold the term back, the term then starts
 * from the rig the windows measured. Bounded by the windows, not by how far the die is (a rig
 * identified only at minDuty for minutes knows its fans' strength poorly, and a late feed-forward
 * costs an arrival overshoot); the lead covers a die that would come near the setpoint sooner.
 * Where the term would not lift the duty anyway (the die far enough under the setpoint for P to
 * outweigh it, fans stopped) nothing changes.
 */
const FF_WAIT_WINDOWS = 2;
const FF_WAIT_MAX_SECONDS = 60;
const FF_WAIT_LEAD_SECONDS = 30;
/**
 * ...and only for a load that starts with every die this far under the setpoint: a GPU already warm
 * gets to the setpoint within minutes whatever the rig, and a term held back there costs more at
 * the arrival than it saves on the way.
 */
const FF_WAIT_BAND_C = 20;

/**
 * The approach of a hinted load (a hint came, every die at least FF_WAIT_BAND_C under the setpoint): the
 * term is the duty that holds the die *at* the setpoint, and applied from the load's first second it cools
 * the way up, where the heatsink has room to soak the load up (two GPUs in 40 C air, one bursting: the first
 * burst drove the term to 0.96 while both dies sat 20-30 C under the setpoint; the curves wait). Until a die
 * comes within REGULATING_BAND_C the term is scaled by the identified rig's duty for a steady temperature of
 * setpoint + APPROACH_SHARE x the room left (setpoint - REGULATING_BAND_C - die) over its duty for the
 * setpoint, for the higher of the power estimate and the reading: a duty under which the die comes up to the
 * band in about half its time constant. A ratio, not the model's duty itself: it reaches 1 at the band
 * whatever the term's own scale (configured dutyPerWatt, learned factor), so the hand-over has no jump (capped
 * at the model's duty instead, the term jumped where the two disagreed, the integral trimmed the creep that
 * followed and the arrival lift restored it: three reversals). The scaled term only rises: a falling one
 * (the estimate through a burst's off part, the ratio as the rig's estimates settle) turned the fans down and
 * up again on the way.
 */
const APPROACH_SHARE = 1.5;

/**
 * While the load bursts, the term is at most the identified rig's duty at the setpoint for the
 * bursts' mean power: the measured power through the rise filter both ways (riseSeconds), its highest
 * of BURST_MEAN_HOLD_SECONDS. The power estimate rises at riseSeconds and falls at fallSeconds, so
 * 20 s bursts of 40/150 W read as ~120 W where the die sees their 95 W mean; with the prior's
 * dutyPerWatt the fans ran at 0.27-0.44 for a load 0.25 holds at the setpoint. The peaks over that
 * mean are the P term's (its peak hold) and the integral's. The hold spans two of FF_HOLD_SECONDS:
 * over one, the mean of minute-long bursts sagged between their peaks and the fans followed each.
 * Only for bursts a whole cycle of which fits in the hold (the shortest interval between burst starts,
 * feedforward.ts burstPeriodSeconds): longer ones the die follows rather than averages (5 min on,
 * 5 min off), and the hold would sag through their off part.
 */
const BURST_MEAN_HOLD_SECONDS = 2 * FF_HOLD_SECONDS;
/** s of readings one entry of the burst cap's power log holds at most (burstPeakW) */
const POWER_LOG_STEP_SECONDS = 1;

/** C under the setpoint from which the duty falls faster (and the power estimate at its rise time constant, fallFor), and how much faster per C further (duty/s) */
const FAST_FALL_FROM_C = 3;
const FAST_FALL_PER_C = 0.004;
/** share of maxDuty over which a rig holding its setpoint is near its limit: its power estimate keeps the slow fall (fallFor) */
const FAST_FALL_MAX_DUTY = 0.8;
/** s the power must have stayed under its estimate before it falls at the rise time constant (fallFor): longer than render bursts' off parts */
const FAST_FALL_AFTER_SECONDS = 25;
/**
 * ...and, while the GPU's power repeats in a cycle the burst cap averages (its shortest interval between
 * burst starts, BURST_MEAN_HOLD_SECONDS or less), this many of those intervals: an off part cannot last
 * longer than its cycle, so a drop that does has ended the bursts (fallFor)
 */
const FAST_FALL_AFTER_CYCLES = 1.5;

function finite(x: number | null | undefined): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

/** name of the first value that is not a finite number, or null */
function nonFinite(values: Record<string, number>): string | null {
  for (const [name, v] of Object.entries(values)) if (!Number.isFinite(v)) return name;
  return null;
}

export function createZoneController(initial: ZoneConfig, fanConfigs: ReadonlyArray<FanConfig>): ZoneController {
  let zone: ZoneConfig = structuredClone(initial);
  const problems = zoneIssues(zone);
  if (problems.length) throw new Error(`zone "${zone.id}": ${problems.join('; ')}`);
  const fans: AllocFan[] = zone.fans.map((id) => {
    const f = fanConfigs.find((c) => c.id === id);
    if (!f) throw new Error(`zone "${zone.id}": unknown fan "${id}"`);
    return { id: f.id, maxRpm: f.maxRpm, minDuty: f.minDuty, startDuty: f.startDuty, maxDba: f.maxDba };
  });

  /** feed-forward has nothing to go on: the PID runs on kiWithoutFeedForward */
  let pidOnly = false;
  const pidGains = () => ({ ...zone.pid, ki: pidOnly ? zone.pid.kiWithoutFeedForward : zone.pid.ki });
  const pid = createPid(pidGains());
  /** re-apply the gains without a jump in the output, at the last reading */
  const applyGains = () => pid.setGains(pidGains(), Number.isFinite(lastTemp) ? lastTemp : zone.pid.setpoint, zone.pid.setpoint);
  /**
   * One power filter per GPU, combined after filtering (the busiest GPU's estimate): GPUs bursting
   * in turn each average their own bursts, as their heatsinks do; the maximum taken before the
   * filter would look like one constant full load.
   */
  /**
   * A GPU's power read: a step up needs an off part before the next counts (a steady load's reading noise,
   * while the estimate rises through the step threshold, made it a burst). Not for the observer's heat of a
   * GPU without power readings: it moves with every whole-degree step of the reading, and its bursts are
   * what its hold has been tuned on.
   */
  const ffRead = zone.gpus.map(() => true);
  const ffParams = (k: number) => ({ ...zone.feedForward, holdSeconds: FF_HOLD_SECONDS, burstNeedsOffPart: ffRead[k]! });
  const ffs = zone.gpus.map((_, k) => createFeedForward(ffParams(k)));
  /** per GPU: the measured power through the rise filter both ways, its highest of BURST_MEAN_HOLD_SECONDS while bursting (its bursting flag: this one also sees bursts too short for the estimate's) */
  const meanParams = () => ({ ...zone.feedForward, fallSeconds: zone.feedForward.riseSeconds, holdSeconds: BURST_MEAN_HOLD_SECONDS, burstNeedsOffPart: true });
  const means = zone.gpus.map(() => createFeedForward(meanParams()));
  const meanRead = zone.gpus.map(() => false);
  /**
   * per GPU: the measured power of the last BURST_MEAN_HOLD_SECONDS, each reading with the seconds it was
   * held (burstPeakW). The power the die's peak answers to over one whole burst cycle.
   */
  const powerLog: Array<Array<{ dt: number; w: number }>> = zone.gpus.map(() => []);
  /** per GPU: the seconds powerLog spans (kept with it: summing the log each step cost O(log) per step) */
  const powerLogSpan = zone.gpus.map(() => 0);
  /** the burst cap applied (burstCap), low-passed over CORRECTION_SECONDS like the model's correction; null: no cap */
  let capNow: number | null = null;
  const estimateW = () => Math.max(0, ...ffs.map((f) => f.estimateW));
  /**
   * Per GPU, the identified rig (feedForward.identifySeconds): what its heatsink and fans really
   * do. The feed-forward adds, per GPU, the duty the identified model needs for that GPU's power
   * estimate at the setpoint over what the prior model (the rig the configured dutyPerWatt is
   * fitted to) needs: 0 until it has learned, then the rig's own. A GPU without power readings
   * gets its heat from the model and how its temperature moves (a load shows in the slope long
   * before the temperature reaches the setpoint).
   */
  const ids = zone.gpus.map(() => createRigIdentifier({ memorySeconds: zone.feedForward.identifySeconds || undefined }));
  const slopes = zone.gpus.map(() => createSlope(OBSERVER_SLOPE_SECONDS));
  /**
   * Per GPU without power readings: the die temperature the model predicts from the observed heat
   * and the duty, kept within half a sensor step of the reading. A whole-degree reading that does
   * not move says only that the die is within that band: after a duty change the die moves inside
   * it for minutes, and the reading itself would tell the observer the heat changed instead.
   */
  const modelC: Array<number | null> = zone.gpus.map(() => null);
  const lastObservedW: Array<number | null> = zone.gpus.map(() => null);
  /** per GPU: windows learned with power read and the fans stopped throughout (the still-air conductance was measured, not the prior's) */
  const stillWindows = zone.gpus.map(() => 0);
  /** s the fans have been stopped (0 while they run) */
  let stoppedFor = 0;
  /** the zone duty of the interval that just ended (what the identifier learns from) */
  let heldDuty: number | null = null;
  /**
   * The identified model's duty over the prior's, low-passed (CORRECTION_SECONDS): each window
   * moves the estimates a little, and the fans must not follow every such step.
   */
  let correction = 0;
  const rawCorrection = () => {
    if (!(zone.feedForward.identifySeconds > 0) || !zone.feedForward.enabled) return 0;
    const air = ambientC ?? zone.feedForward.ambientCelsius;
    let corr = -Infinity;
    ids.forEach((id, k) => {
      const w = ffs[k]!.estimateW;
      corr = Math.max(corr, id.dutyFor(w, zone.pid.setpoint, air) - id.priorDutyFor(w, zone.pid.setpoint, air));
    });
    return Number.isFinite(corr) ? corr : 0;
  };
  const modelCorrection = (t: number) => correction * headroomWeight(t);

  /**
   * start of the load the zone carries now (null: idle); per GPU the windows learned that saw it (begun after it
   * started, its power read in them), and the start and highest power of the window being learned
   */
  let loadSince: number | null = null;
  const loadWindows = zone.gpus.map(() => 0);
  const windowPeakW = zone.gpus.map(() => 0);
  const windowFrom = zone.gpus.map(() => -Infinity);
  /** the feed-forward waits for the identifier (FF_WAIT_WINDOWS); true only from a load's start until it stops waiting */
  let ffWaiting = false;
  /** the integral when the load the zone carries now started (burst cap engagement, see updateBurstCap) */
  let integralAtLoad = 0;
  /** ...and it did hold the term back in this wait */
  let ffHeldBack = false;
  /** a hinted load's approach (APPROACH_SHARE) is on; its highest ratio and scaled term so far (both only rise) */
  let approaching = false;
  let approachRatio = 0;
  let approachTerm = 0;
  const updateWaiting = (now: number, hint: number | undefined, powerW: ReadonlyArray<number | null | undefined> | undefined, temps: ReadonlyArray<number | null | undefined>, air: number) => {
    const idle = zone.feedForward.idleWatts;
    const shows = (hint !== undefined && hint > idle) || zone.gpus.some((_, k) => finite(powerW?.[k]) && powerW![k]! > idle + ARRIVAL_MIN_LOAD_W);
    if (loadSince !== null && !shows && estimateW() <= idle + ARRIVAL_MIN_LOAD_W) {
      loadSince = null;
      ffWaiting = false;
      approaching = false;
    }
    if (loadSince === null && shows) {
      loadSince = now;
      integralAtLoad = pid.integral;
      loadWindows.fill(0);
      ffWaiting = zone.gpus.every((_, k) => finite(temps[k]) && temps[k]! < zone.pid.setpoint - FF_WAIT_BAND_C);
      approaching = ffWaiting && hint !== undefined && hint > idle;
      approachRatio = 0;
      approachTerm = 0;
      ffHeldBack = false;
    }
    if (!ffWaiting) return;
    const far = zone.gpus.every((_, k) => {
      const t = temps[k];
      const p = powerW?.[k];
      // the power the heatsink will see: the measured one, or the estimate a hint lifted
      return finite(t) && finite(p) && ids[k]!.secondsTo(t, Math.max(p, ffs[k]!.estimateW), zone.minDuty, air, zone.pid.setpoint) > FF_WAIT_LEAD_SECONDS;
    });
    ffWaiting =
      zone.mode === 'pid' &&
      zone.feedForward.enabled &&
      zone.feedForward.identifySeconds > 0 &&
      zone.feedForward.headroomCelsius <= 0 &&
      now - loadSince! < FF_WAIT_MAX_SECONDS &&
      loadWindows.some((n) => n < FF_WAIT_WINDOWS) &&
      far;
  };

  /** last time the die was at or above its setpoint */
  let reachedSince = -Infinity;
  /**
   * Setpoint arrival. A heatsink is a first-order plant: at any duty under the steady duty for its
   * load at the setpoint it keeps warming through the setpoint; at that duty it stops there, with
   * no inertia to carry it further (the fans follow within a second). On the way up a duty under
   * it is quiet and brings the die up faster; what makes the overshoot is arriving with it: the
   * negative P of a die still under the setpoint (and the 15 s measurement filter lagging it), an
   * integral trimmed down on the way in, a configured dutyPerWatt fitted at another load. The die
   * then settles over the setpoint until the slow integral and the backlash deadband catch up.
   * So the first time the reading reaches the setpoint (not there in the last REGULATING_SECONDS)
   * with the die still rising under a load, the integral is raised: back to what it held before the
   * die came within REGULATING_BAND_C (at most up to the feed-forward), and up to the identified model's steady duty
   * for the power estimate at the setpoint where that asks more (dutyPerWatt is fitted at one load,
   * the model holds at any; only for a steady load read on every GPU). A whole-degree reading turns
   * to the setpoint half a degree under it: the die settles at it, not over it.
   * Returns the two steady duties at such an arrival, else 0. `peak`: `t` is the held peak while the burst
   * cap is on (its arrival needs no rising reading: the held peak only rises to the setpoint from under it).
   */
  const arrivalDuty = (t: number, now: number, ffNow: number, steadyLoad: boolean, air: number, peak: boolean, heatOff: () => boolean): { ff: number; model: number } | 0 => {
    if (!Number.isFinite(t) || t < zone.pid.setpoint) return 0;
    // a held peak arriving while no GPU draws a load (a burst's off part, or the load's end): the next
    // burst's arrival lifts, not this one (at the last burst the fans sped up as the render ended)
    if (peak && heatOff()) return 0;
    const first = now - reachedSince >= REGULATING_SECONDS;
    reachedSince = now;
    if (!first || !zone.feedForward.enabled || !(ffNow > 0)) return 0;
    if (!peak && (!(pid.derivative > RISING_MIN_CPS) || ffs.some((f) => f.bursting))) return 0;
    if (!(estimateW() > zone.feedForward.idleWatts + ARRIVAL_MIN_LOAD_W)) return 0;
    let model = 0;
    if (steadyLoad && zone.feedForward.identifySeconds > 0) ids.forEach((id, k) => (model = Math.max(model, id.dutyFor(ffs[k]!.estimateW, zone.pid.setpoint, air))));
    return { ff: ffNow, model };
  };
  /** the integral before the die last came within REGULATING_BAND_C of the setpoint */
  let integralOnApproach = 0;
  /** while the burst cap is on: since when the held peak has been within REGULATING_BAND_C of the setpoint (the way in to the bursts' periodic peak) */
  let peakBandSince = -Infinity;
  /** since when the die has been within CREEP_SPAN_C under its setpoint (Infinity: it is not) */
  let lastSpanSince = Infinity;
  /**
   * The duty a die arriving at its setpoint lacks, from how fast it arrived: a rise of r C/s at the
   * setpoint is C r watts the heatsink does not shed; the airflow that sheds them is dG = C r / (T - air)
   * more conductance, dG / G'(x) more duty. The arrival's lift restores what the way in trimmed from
   * the integral; a die that crept over its last CREEP_SPAN_C for minutes (a feed-forward a little over
   * the rig's need, the integral trimming it while the die crept) lacks far less than that trim:
   * restored whole, with the P term fading on top, it held the fans over the steady duty and the die
   * backed off under the setpoint for minutes (warm start, no hint, 80 C: 0.45 -> 0.48 where 0.46
   * holds; the base run too). So the lift, with the P it leaves to fade, is bounded by this. Fast
   * arrivals are untouched: their rise asks more than any trim. Infinity: no bound (reached the
   * setpoint within one step, or nothing identified).
   */
  const creepDuty = (t: number, now: number, air: number): number => {
    const took = now - lastSpanSince;
    if (!(took > 0) || !Number.isFinite(took) || zone.feedForward.identifySeconds <= 0) return Infinity;
    const rate = CREEP_SPAN_C / took;
    const x = Math.max(zone.minDuty, Math.min(1, duty));
    const n = DEFAULT_RIG_PRIOR.airflowExponent;
    let need = 0;
    for (const id of ids) {
      const rig = id.model();
      const over = t - air - rig.ambientOffsetC;
      const slope = n * (rig.fullWPerK - rig.stillWPerK) * x ** (n - 1);
      if (!(over > 0) || !(slope > 0)) return Infinity;
      need = Math.max(need, (rig.heatCapacityJPerK * rate) / over / slope);
    }
    return Number.isFinite(need) ? need : Infinity;
  };

  /**
   * Anticipation. The power filter averages render bursts on the assumption that the heatsink has
   * room to soak them up. A new load that the identified heatsink, at the airflow it has now, would
   * carry past the setpoint in less than RISE_HEADROOM_SHARE^-1 x riseSeconds (a warm GPU without a hint) is taken
   * at a time constant of that share of the time left: the fans move before the overshoot, not
   * after it. Only for a load that starts from idle (the estimate at idleWatts), followed until the
   * estimate has caught up; not while the zone regulates (near the setpoint in the last
   * REGULATING_SECONDS): there, and for bursts, the filter's averaging is what keeps the fans from hunting.
   */
  let regulatingSince = -Infinity;
  /** the duty when the zone was last within REGULATING_BAND_C of its setpoint (fallFor) */
  let regulatingDuty = 0;
  const anticipating = zone.gpus.map(() => false);
  const riseFor = (k: number, t: number | null | undefined, w: number, air: number, now: number): number | undefined => {
    const est = ffs[k]!.estimateW;
    if (est <= zone.feedForward.idleWatts + 5 && w > est + 20) anticipating[k] = true;
    else if (w <= est * 1.05) anticipating[k] = false;
    if (!anticipating[k] || !finite(t) || now - regulatingSince < REGULATING_SECONDS) return undefined;
    const rig = ids[k]!.model();
    const x = heldDuty ?? 0;
    const cooling = rig.stillWPerK + (rig.fullWPerK - rig.stillWPerK) * Math.max(0, Math.min(1, x)) ** DEFAULT_RIG_PRIOR.airflowExponent;
    const excessW = w - cooling * (t - air - rig.ambientOffsetC);
    const roomJ = rig.heatCapacityJPerK * (zone.pid.setpoint - t);
    if (!(excessW > 0) || !(roomJ > 0)) return undefined;
    const rise = (RISE_HEADROOM_SHARE * roomJ) / excessW;
    return Number.isFinite(rise) ? rise : undefined;
  };
  /**
   * The power estimate's fall (fallSeconds) is slow so that a regulating zone does not follow each
   * burst's off part down and back up. A die more than FAST_FALL_FROM_C under its setpoint (a load
   * that dropped or ended, the die cooling) has nothing to hunt about: the fans held up by the slow
   * fall are noise for nothing (after 300 s bursts, 0.53 -> 0.2 took 140 s while the die fell 18 C),
   * and if the load comes back the heatsink has that room to soak it up while the estimate rises. There
   * the estimate falls at its rise time constant: a symmetric filter, still averaging bursts.
   * (Down to minDuty, not to stopped fans: the stop rules are unchanged.) Not on a rig that needed more
   * than FAST_FALL_MAX_DUTY of its airflow to hold the setpoint (regulatingDuty): it has little left to
   * catch a load that comes back, and the heat its fans shed after the load is its margin (a heavy K80
   * heatsink at 0.95: the next load, unannounced 10 min later, overshot 2.3 C instead of 1.4). Nor in the
   * first FAST_FALL_AFTER_SECONDS of a drop: that may be the off part of render bursts the hold has not
   * recognised yet (after a steady load, 20 s bursts: the estimate fell fast through the first off parts,
   * then the hold took its 90 s peak back up: a reversal). Nor, once the GPU's power is seen to repeat
   * in a cycle the burst cap averages (minute-long bursts: the cap's mean measures their interval), before
   * the drop has outlasted FAST_FALL_AFTER_CYCLES of it: a 60 s off part outlasts the 25 s, and the
   * estimate fell through each one and rose with the next burst, two reversals a cycle (two GPUs in 40 C
   * air, one bursting 150/40 W, one steady 100 W: 0.25 reversals/min; held, 0.15). A load that ends is
   * still shed fast, a cycle and a half later.
   */
  /** per GPU: since when its power has stayed under its estimate (Infinity: it is not) */
  const fallingSince = zone.gpus.map(() => Infinity);
  const fallFor = (k: number, t: number | null | undefined, w: number, now: number): number | undefined => {
    if (!(w < ffs[k]!.estimateW)) fallingSince[k] = Infinity;
    else if (fallingSince[k] === Infinity) fallingSince[k] = now;
    const cycle = means[k]!.burstPeriodSeconds;
    const wait = cycle <= BURST_MEAN_HOLD_SECONDS ? Math.max(FAST_FALL_AFTER_SECONDS, FAST_FALL_AFTER_CYCLES * cycle) : FAST_FALL_AFTER_SECONDS;
    return zone.mode === 'pid' &&
      finite(t) &&
      t < zone.pid.setpoint - FAST_FALL_FROM_C &&
      regulatingDuty <= FAST_FALL_MAX_DUTY * zone.maxDuty &&
      now - fallingSince[k]! >= wait
      ? zone.feedForward.riseSeconds
      : undefined;
  };
  const curve = createCurveFollower(
    () => zone.curve,
    () => zone.hysteresis,
  );
  const allocator = createFanAllocator(fans, zone.stall);

  let lastNow: number | null = null;
  /** a step has run the controller (not only the failsafe) */
  let controlled = false;
  /** zone duty commanded last step, the base of the slew */
  let duty = 1;
  /** fans stopped on purpose (idle zone) */
  let stopped = false;
  /** ...under a load the identified heatsink holds passively (its own restart rule) */
  let passiveStop = false;
  /**
   * Running on the least airflow: a load so light (idle, or a little over it) that the die warms
   * only slowly with the fans stopped reached the setpoint and restarted them. All that holds it is
   * a little airflow for a short time: one fan at its minimum (one fan's start kick) instead of the
   * zone minimum on every fan, until the die is `hysteresis` under the setpoint and they stop again.
   */
  let trickle = false;
  /** pid must re-track before its next step (mode change, failsafe exit) */
  let pidNeedsTrack = true;
  let lastTemp = NaN;
  let last: ZoneStepOutput | null = null;

  const aggregate = (temps: number[]) => (zone.aggregate === 'max' ? Math.max(...temps) : temps.reduce((s, t) => s + t, 0) / temps.length);

  /** min/max and slew while running; pure (the PID probes it) */
  const runningDuty = (demand: number, dt: number) =>
    slew(duty, Math.min(zone.maxDuty, Math.max(zone.minDuty, demand)), dt, zone.slewUpPerSecond, slewDownNow());
  /**
   * PID mode: the slow fall rate keeps a regulating zone from hunting; a die well under its setpoint has
   * nothing to hunt about, and fans left high there (after a hint, a load drop) are noise for
   * nothing: the fall speeds up with the distance below it.
   */
  const slewDownNow = () => {
    const below = zone.mode === 'pid' && Number.isFinite(lastTemp) ? zone.pid.setpoint - FAST_FALL_FROM_C - lastTemp : 0;
    return zone.slewDownPerSecond + (below > 0 ? FAST_FALL_PER_C * below : 0);
  };

  /**
   * Stop/start hysteresis. Fans stop only when the zone idles (power estimate at or below the
   * feed-forward idleWatts: a GPU at idle cools passively) and the demand has fallen below
   * stopBelowDuty; they start again once the demand reaches minDuty. Under load they never stop
   * (a fanless heatsink would overheat and the restart would overshoot). A live load hint above
   * idleWatts starts stopped fans at once (pre-cooling ahead of the load; the allocator kicks them)
   * and keeps running ones from stopping.
   */
  const nextStopped = (demand: number, powerEstimateW: number, temperature: number, hintW: number | undefined, holdsAt: (marginC: number) => boolean, nearing: () => boolean) => {
    passiveStop &&= stopped;
    if (zone.stopBelowDuty <= 0) return (passiveStop = false);
    if (hintW !== undefined && hintW > zone.feedForward.idleWatts) return (passiveStop = false);
    // A zone at its setpoint has its fans running whatever the demand says: without feed-forward
    // (disabled, or a GPU that reports no power) a small P term alone would leave them stopped
    // well above it. They stop again only `hysteresis` degrees below it.
    const pid = zone.mode === 'pid';
    if (stopped && passiveStop) {
      // Stopped under a load the heatsink holds: the demand does not restart them (the feed-forward
      // of a light load can reach minDuty while the die sits well under the setpoint; that would
      // cycle them); the model losing its margin (a heavier load) or the die coming near the
      // setpoint (the model was wrong) does, early enough not to overshoot.
      if (holdsAt(PASSIVE_RESTART_MARGIN_C) && temperature < zone.pid.setpoint - PASSIVE_RESTART_MARGIN_C) return true;
      return (passiveStop = false);
    }
    if (stopped) return demand < zone.minDuty && !(pid && (temperature >= zone.pid.setpoint || nearing()));
    if (pid && temperature > zone.pid.setpoint - zone.hysteresis) return false;
    if (!(demand < zone.stopBelowDuty) || duty > zone.minDuty + 1e-9) return false;
    // a trickle stops like an idle zone: the load is one the least airflow holds (checked each step)
    if (powerEstimateW <= zone.feedForward.idleWatts || trickle) return true;
    // Under a load: only one the identified heatsink settles well under the setpoint with the fans
    // stopped, and only from the floor with the controller wanting less than it. Bursts cannot
    // cycle this: the power estimate averages them and holds its highest (FF_HOLD_SECONDS).
    if (pid && demand < zone.minDuty && temperature <= zone.pid.setpoint - PASSIVE_STOP_MARGIN_C && holdsAt(PASSIVE_STOP_MARGIN_C)) return (passiveStop = true);
    return false;
  };

  /**
   * The noise budget (src/thermal/music) over the stop decision: a floor starts stopped fans
   * (pre-cooling ahead of a known load or a quiet passage), a cap under minDuty stops them (the
   * budget planned the die's warming for it); otherwise the usual hysteresis decides.
   */
  const budgetStopped = (b: ZoneBudget, plain: boolean) => (b.floor > 0 ? false : b.cap < zone.minDuty ? true : plain);
  /** a running duty within the budget; the floor wins; applied after the slew (quieter at once) */
  const budgeted = (b: ZoneBudget, d: number) => Math.min(zone.maxDuty, Math.max(zone.minDuty, b.floor, Math.min(d, b.cap)));

  /**
   * Backlash against hunting: after going down (by more than a third of reverseDeadband), the
   * duty turns up again only once the demand is reverseDeadband above it; smaller wobbles (whole-degree sensor steps, render bursts) leave
   * the fans alone. Turning down is never held (quieter, and the slow slew already smooths it).
   * The PID is not told: its integral keeps working, so a real rise always gets through.
   */
  let high = 0;
  let armed = false;
  /** this step's demand was lifted at the setpoint arrival: a rise to it is not a reversal the backlash holds */
  let arrivalLift = false;
  const backlash = (demand: number, slewed: number) => {
    const target = Math.min(zone.maxDuty, Math.max(zone.minDuty, demand));
    if (slewed > duty) {
      if (armed && !arrivalLift && target - duty < zone.reverseDeadband) return duty;
      // `high` is the top the duty turned down from: an uptick of sensor noise (a reading's
      // jitter through P) on a slow way down must not restart the count, or the way down never
      // arms and a slow swing back up of a few hundredths passes unheld (a reversal).
      high = armed ? slewed : Math.max(high, slewed);
      armed = false;
    } else if (slewed < high - zone.reverseDeadband / 3) armed = true;
    return slewed;
  };

  /**
   * What the PID may assume about its output, for anti-windup: min/max and slew; while the fans
   * are stopped the output is pinned at 0 (the integral may climb to restart, not wind down).
   */
  const pidConstrain = (demand: number, dt: number) => (stopped ? Math.min(zone.maxDuty, Math.max(zone.minDuty, demand)) : runningDuty(demand, dt));

  /**
   * Feed-forward engages once the temperature comes within headroomCelsius of the setpoint and
   * stays engaged while the load lasts (it lets go when its own duty has decayed to nothing, or
   * far below the setpoint), so bursts and wobbles cannot switch it on and off: far below the
   * setpoint the heatsink soaks up a load step quietly; near it the fans get the airflow the
   * power needs at once instead of after an overshoot.
   */
  let ffEngaged = false;
  const updateEngaged = (t: number, ffDuty: number) => {
    const band = zone.feedForward.headroomCelsius;
    if (band <= 0 || t >= zone.pid.setpoint - band) ffEngaged = true;
    else if (ffDuty < 0.005 || t < zone.pid.setpoint - 4 * band) ffEngaged = false;
  };
  const headroomWeight = (_t: number) => (zone.feedForward.headroomCelsius <= 0 || ffEngaged ? 1 : 0);

  /** the intake air measured this step (null: none usable, the configured ambientCelsius holds) */
  let ambientC: number | null = null;
  /**
   * dutyPerWatt holds at the reference setpoint with the reference intake air; the airflow needed
   * grows ~ (1 / (sp - ambient))^2: hotter air or a lower setpoint need more, cooler air less.
   */
  const ffScale = () => {
    const amb = ambientC ?? zone.feedForward.ambientCelsius;
    const ref = zone.feedForward.referenceSetpointCelsius - zone.feedForward.referenceAmbientCelsius;
    const now = zone.pid.setpoint - amb;
    if (!(ref > 0) || !(now > 0)) return 4;
    return Math.max(0.25, Math.min(4, (ref / now) ** 2));
  };

  /**
   * Learned duty per watt (a factor on the configured one). Whenever the zone has held its
   * setpoint at a steady load above idle (power within 10% of its estimate: bursts never count) for SETTLE_SECONDS, with the fans running between their
   * limits and power measured (not only hinted), the integral is what the feed-forward lacks:
   * the factor moves toward carrying it with time constant learnSeconds, and the integral gives up
   * the same duty at the same moment (the output does not move). The next load step then gets the
   * airflow this rig needs at once. Bounded (rules.ts); the PID still trims whatever is left.
   */
  const learned: ZoneLearned = { dutyPerWattFactor: 1, learnedSeconds: 0 };
  let settledFor = 0;
  const SETTLE_SECONDS = 60;
  const learn = (dt: number, ok: boolean, base: number) => {
    const tau = zone.feedForward.learnSeconds;
    if (!(tau > 0) || !ok || !(dt > 0) || !(base > 0.05)) {
      settledFor = 0;
      return;
    }
    settledFor += dt;
    if (settledFor < SETTLE_SECONDS) return;
    const i = pid.integral;
    const before = learned.dutyPerWattFactor;
    const next = Math.max(LEARNED_DUTY_PER_WATT_FACTOR.min, Math.min(LEARNED_DUTY_PER_WATT_FACTOR.max, before + (1 - Math.exp(-dt / tau)) * (i / base)));
    learned.dutyPerWattFactor = next;
    learned.learnedSeconds += dt;
    pid.shiftIntegral(-(next - before) * base);
  };

  /**
   * The power a GPU's die peak answers to once the bursts repeat: the die is a first-order filter of its
   * power (time constant C / G, the identified rig at the duty held), so over a cycle repeating every
   * `cycle` s its temperature over the air is the periodic response of that filter over G. The last
   * cycle of readings run through the filter from 0 ends at y; the periodic response starts the cycle at
   * y / (1 - e^(-cycle/tau)) and its highest point in the cycle is the power of the die's peak: the
   * bursts' mean plus the ripple the heat capacity lets through (60 s bursts of 150/40 W, tau ~130 s:
   * ~107 W, where a 30 s power filter's peaks read ~116 W). Not the filter run on from the load's start:
   * that is the transient of a die still warming, far under what the bursts settle at.
   */
  const burstPeakW = (k: number, cycle: number) => {
    const log = powerLog[k]!;
    const tau = ids[k]!.timeConstantS(heldDuty ?? 0);
    if (!(tau > 0) || !Number.isFinite(tau) || !log.length) return NaN;
    let from = log.length;
    let span = 0;
    while (from > 0 && span < cycle) span += log[--from]!.dt;
    let y = 0;
    let decay = 1;
    const path: Array<{ y: number; decay: number }> = [];
    for (let i = from; i < log.length; i++) {
      const a = Math.exp(-log[i]!.dt / tau);
      y = y * a + log[i]!.w * (1 - a);
      decay *= a;
      path.push({ y, decay });
    }
    const start = y / (1 - decay);
    return Number.isFinite(start) ? Math.max(start, ...path.map((q) => q.y + start * q.decay)) : NaN;
  };
  /** the duty that holds the die's peak at the setpoint for the power its peak answers to (burstPeakW), on every GPU read: the most the term may be (Infinity: no cap) */
  const rawBurstCap = (air: number) => {
    const cycle = Math.min(...means.map((m) => m.burstPeriodSeconds));
    if (!zone.feedForward.enabled || !(zone.feedForward.identifySeconds > 0) || !(cycle <= BURST_MEAN_HOLD_SECONDS) || !meanRead.every(Boolean)) return Infinity;
    const cap = Math.max(...ids.map((id, k) => id.dutyFor(burstPeakW(k, cycle), zone.pid.setpoint, air)));
    return Number.isFinite(cap) ? cap : Infinity;
  };
  /**
   * The cap as applied: low-passed over CORRECTION_SECONDS, from its first value once the bursts are
   * recognised. Each identification window moves the rig's estimates a little; followed at once, the fans
   * reversed with them (two GPUs in 40 C air, one bursting 150/40 W: 0.35 reversals/min). A rise of more
   * than the backlash deadband is no such wobble but a load: it is taken at once. The cap outlives a load's
   * end (the bursts' interval is remembered for 5 hold windows) and sits near 0 through the idle after it;
   * crawling up from there at CORRECTION_SECONDS, it held the next load's term at 0.3 where 0.43 was needed
   * and the third burst peaked 1.2 C over the setpoint.
   */
  const updateBurstCap = (dt: number, air: number) => {
    const raw = rawBurstCap(air);
    if (!Number.isFinite(raw)) capNow = null;
    else capNow = capNow === null || raw - capNow > zone.reverseDeadband ? raw : capNow + (dt > 0 ? 1 - Math.exp(-dt / CORRECTION_SECONDS) : 0) * (raw - capNow);
  };
  const burstCap = () => capNow ?? Infinity;
  /** the approach's ratio (APPROACH_SHARE) for this step's readings, 0..1; 1 where none applies */
  const rawApproachRatio = (temps: ReadonlyArray<number | null | undefined>, powerW: ReadonlyArray<number | null | undefined> | undefined, air: number) => {
    if (zone.mode !== 'pid' || !zone.feedForward.enabled || !(zone.feedForward.identifySeconds > 0)) return 1;
    let ratio = 0;
    for (let k = 0; k < zone.gpus.length; k++) {
      const t = temps[k];
      if (!finite(t)) return 1;
      const p = powerW?.[k];
      const w = Math.max(ffs[k]!.estimateW, finite(p) ? p : 0);
      const atSetpoint = ids[k]!.dutyFor(w, zone.pid.setpoint, air);
      const onTheWay = ids[k]!.dutyFor(w, zone.pid.setpoint + APPROACH_SHARE * (zone.pid.setpoint - REGULATING_BAND_C - t), air);
      ratio = Math.max(ratio, atSetpoint > 0 ? Math.max(0, Math.min(1, onTheWay / atSetpoint)) : 1);
    }
    return Number.isFinite(ratio) ? ratio : 1;
  };
  /** while the term waits for the identifier (FF_WAIT_WINDOWS): at most what keeps the demand at minDuty with the other terms of the last step */
  const waitRoom = () => (ffWaiting && last !== null && !last.failsafe ? Math.max(0, zone.minDuty - (last.demand - last.terms.ff)) : Infinity);

  /**
   * The feed-forward term at a temperature, with the current parameters and power estimate, as a step
   * would apply it (the burst cap and the identifier wait included): a settings change is bumpless only
   * if the integral absorbs what the applied term moves, not what an uncapped one would.
   */
  const ffTerm = (t: number) => {
    if (!zone.feedForward.enabled || !Number.isFinite(t)) return 0;
    const raw = Math.max(0, ffs[0]!.dutyAt(estimateW()) * learned.dutyPerWattFactor * ffScale() * headroomWeight(t) + modelCorrection(t));
    const capped = Math.min(raw, burstCap());
    // the approach's bound as a step would set it with this term (it scales with the term)
    return Math.min(capped, approaching ? Math.max(approachTerm, approachRatio * capped) : Infinity, waitRoom());
  };

  return {
    state() {
      return { learned: { ...learned }, config: structuredClone(zone), last, fanMinDuty: allocator.minDuty(), rigs: ids.map((id) => id.model()), rigStates: ids.map((id) => id.state()) };
    },

    restoreLearned(l) {
      const f = l.dutyPerWattFactor;
      if (!(f >= LEARNED_DUTY_PER_WATT_FACTOR.min && f <= LEARNED_DUTY_PER_WATT_FACTOR.max) || !(l.learnedSeconds >= 0 && Number.isFinite(l.learnedSeconds))) return false;
      // identified rigs: all of them or none (a zone whose GPUs changed starts identifying afresh)
      if (l.rigs !== undefined && (!Array.isArray(l.rigs) || l.rigs.length !== ids.length || !l.rigs.every((r) => createRigIdentifier().restore(r)))) return false;
      const before = ffTerm(lastTemp);
      learned.dutyPerWattFactor = f;
      learned.learnedSeconds = l.learnedSeconds;
      l.rigs?.forEach((r, k) => ids[k]!.restore(r));
      // bumpless, like any feed-forward change
      if (zone.mode === 'pid') pid.shiftIntegral(before - ffTerm(lastTemp));
      return true;
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
      const issues = zoneIssues(next);
      if (issues.length) throw new Error(`zone "${zone.id}": ${issues.join('; ')}`);
      const modeChanged = next.mode !== zone.mode;
      const ffBefore = ffTerm(lastTemp);
      zone = next;
      ffs.forEach((f, k) => f.setParams(ffParams(k)));
      for (const m of means) m.setParams(meanParams());
      allocator.setStall(zone.stall);
      if (modeChanged) {
        pidNeedsTrack = true;
        curve.reset();
      }
      // Gains change without a jump: the integral absorbs the P/D/FF difference at the last
      // reading. A setpoint change still moves the P term (that is what a setpoint is for).
      applyGains();
      if (zone.mode === 'pid' && !modeChanged) pid.shiftIntegral(ffBefore - ffTerm(lastTemp));
      return structuredClone(zone);
    },

    step(input) {
      const firstStep = lastNow === null;
      const dt = firstStep ? Infinity : Math.max(0, input.now - lastNow!);
      lastNow = input.now;
      // The first controlled step has nothing to slew from: it starts at its own demand. Failsafe
      // steps before it (no sample yet at start-up) do not count, or every start would come down
      // from full fans at the slow slew rate.
      const first = !controlled;
      const alarms: string[] = [];

      const temps: number[] = [];
      zone.gpus.forEach((gpu, k) => {
        const t = input.temps[k];
        if (finite(t)) temps.push(t);
        else alarms.push(`sensor-missing:gpu${gpu}`);
      });
      const hint = finite(input.loadHintW) ? input.loadHintW : undefined;
      ambientC = plausibleAmbient(input.ambientC) ? input.ambientC : null;
      const identify = zone.feedForward.identifySeconds > 0;
      const air = ambientC ?? zone.feedForward.ambientCelsius;
      // Identification, and the heat of GPUs without power readings (null: measured, or not known)
      const observedW = zone.gpus.map((_, k) => {
        const t = input.temps[k];
        const p = input.powerW?.[k];
        if (!finite(t)) {
          slopes[k]!.reset();
          modelC[k] = lastObservedW[k] = null;
          return null;
        }
        // the die moves as the observed heat and the duty held over the last interval say, within the reading's band
        // (GPUs with power readings, and any until the observer has an estimate, take the reading as it is)
        const half = zone.pid.sensorResolutionCelsius / 2;
        let m = modelC[k] ?? null;
        const q = lastObservedW[k] ?? null;
        if (m === null || q === null || !(dt > 0) || !Number.isFinite(dt)) m = t;
        else m = Math.min(t + half, Math.max(t - half, m + (dt / ids[k]!.model().heatCapacityJPerK) * (q - ids[k]!.coolingW(m, heldDuty ?? 0, air))));
        modelC[k] = m;
        // the cooling of that interval, averaged with the slope over the same window
        const slope = slopes[k]!.push(input.now, m, ids[k]!.coolingW(m, heldDuty ?? 0, air));
        if (finite(p)) windowPeakW[k] = Math.max(windowPeakW[k]!, p);
        if (finite(p)) {
          means[k]!.step(firstStep ? 0 : dt, p);
          const log = powerLog[k]!;
          if (!firstStep && dt > 0 && Number.isFinite(dt)) {
            // readings closer than POWER_LOG_STEP_SECONDS share an entry (their time-weighted mean): the die's
            // filter (a time constant of minutes) cannot tell them apart, and a fast control loop kept thousands
            const tail = log[log.length - 1];
            if (tail && tail.dt < POWER_LOG_STEP_SECONDS) {
              tail.w = (tail.w * tail.dt + p * dt) / (tail.dt + dt);
              tail.dt += dt;
            } else log.push({ dt, w: p });
            powerLogSpan[k]! += dt;
          }
          while (log.length && powerLogSpan[k]! - log[0]!.dt >= BURST_MEAN_HOLD_SECONDS) powerLogSpan[k]! -= log.shift()!.dt;
        }
        meanRead[k] = finite(p);
        if (identify && !firstStep && heldDuty !== null && ids[k]!.step(dt, t, finite(p) ? p : null, heldDuty, air)) {
          if (stoppedFor >= STILL_WINDOW_SECONDS) stillWindows[k]!++;
          if (loadSince !== null && windowFrom[k]! >= loadSince && windowPeakW[k]! > zone.feedForward.idleWatts + ARRIVAL_MIN_LOAD_W) loadWindows[k]!++;
          windowPeakW[k] = 0;
          windowFrom[k] = input.now;
        }
        if (finite(p) || !identify || slope === null) return null;
        return (lastObservedW[k] = ids[k]!.heatFrom(slope, slopes[k]!.mean()));
      });
      // Gain scheduling: without feed-forward input the integral gain that suits it is far too slow.
      const nowPidOnly = !zone.feedForward.enabled || (hint === undefined && !zone.gpus.some((_, k) => finite(input.powerW?.[k]) || observedW[k] !== null));
      if (nowPidOnly !== pidOnly) {
        pidOnly = nowPidOnly;
        // the integral is kept in duty: a new ki changes only how fast it moves from here (no jump)
        applyGains();
      }
      correction += (firstStep ? 1 : 1 - Math.exp(-dt / CORRECTION_SECONDS)) * (rawCorrection() - correction);
      if (!Number.isFinite(correction)) correction = 0;
      // Per GPU: each filter sees its own GPU's power (missing: 0) and the zone's hint; the busiest estimate sets the term.
      let ffDuty = 0;
      const tempsNow = zone.gpus.map((_, k) => input.temps[k]);
      if (tempsNow.some((t) => finite(t) && t >= zone.pid.setpoint - REGULATING_BAND_C)) {
        regulatingSince = input.now;
        regulatingDuty = stopped ? 0 : duty;
      }
      ffs.forEach((f, k) => {
        const read = finite(input.powerW?.[k]);
        if (read !== ffRead[k]) {
          ffRead[k] = read;
          f.setParams(ffParams(k));
        }
        const w = finite(input.powerW?.[k]) ? input.powerW![k]! : (observedW[k] ?? 0);
        ffDuty = Math.max(ffDuty, f.step(firstStep ? 0 : dt, w, hint, identify ? riseFor(k, tempsNow[k], w, air, input.now) : undefined, fallFor(k, tempsNow[k], w, input.now)));
      });
      const waited = ffWaiting;
      updateWaiting(input.now, hint, input.powerW, tempsNow, air);
      // A term held back starts from what the windows measured (the last one included) where that asks less
      // than the prior: not from the low-passed way down to it. One that asks more is low-passed as usual (a few
      // windows at one duty do not tell the fans' strength, and their noise would come through whole).
      if (waited && !ffWaiting && ffHeldBack) correction = Math.min(correction, rawCorrection());
      const temperature = alarms.length === 0 && temps.length ? aggregate(temps) : NaN;
      if (Number.isFinite(temperature)) lastTemp = temperature;
      const hottest = temps.length ? Math.max(...temps) : NaN;
      if (hottest >= zone.criticalCelsius) alarms.push(`critical:${hottest.toFixed(1)}C>=${zone.criticalCelsius}C`);

      let terms = ZERO_TERMS;
      let demand = 1;
      let failsafe = alarms.length > 0;
      const budget = input.budget && Number.isFinite(input.budget.cap) && Number.isFinite(input.budget.floor) ? input.budget : null;
      let budgetBound = false;
      let integralBefore: number | null = null;
      arrivalLift = false;
      if (!failsafe) {
        if (zone.mode === 'pid') {
          updateEngaged(temperature, ffDuty);
          const ffBase = zone.feedForward.enabled ? ffDuty * ffScale() * headroomWeight(temperature) : 0;
          let ffNow = Math.max(0, ffBase * learned.dutyPerWattFactor + modelCorrection(temperature));
          const capped = capNow !== null;
          updateBurstCap(first ? 0 : dt, air);
          ffNow = Math.min(ffNow, burstCap());
          // Bursts just recognised with the die under its setpoint: what the integral lost since the load
          // started is the way in, the uncapped term holding the first bursts' peaks over the die's need
          // while the die was still warming (it fell through their off parts). The cap now sizes the term
          // for the die's peak at the setpoint, and the arrival lift at the held peak restores only what was
          // lost after it came within REGULATING_BAND_C: kept, the trim let the die peak 2-3 C over the setpoint
          // for the rest of the load.
          if (!capped && capNow !== null && temperature < zone.pid.setpoint && pid.integral < integralAtLoad) pid.shiftIntegral(integralAtLoad - pid.integral);
          // A load that starts far under the setpoint with the cap still on from the last one: the trim the
          // last load's end left under zero is not this load's (the arrival lift at the held peak comes after
          // the die has already peaked over the setpoint on the way in: 0.9 C at 80 C, 40 C air).
          if (capped && loadSince === input.now && (pid.measurement ?? temperature) < zone.pid.setpoint - REGULATING_BAND_C && pid.integral < 0) pid.shiftIntegral(-pid.integral);
          // the approach of a hinted load (APPROACH_SHARE): scaled until a die comes within REGULATING_BAND_C
          if (approaching && tempsNow.some((t) => finite(t) && t >= zone.pid.setpoint - REGULATING_BAND_C)) approaching = false;
          if (approaching) {
            approachRatio = Math.max(approachRatio, rawApproachRatio(tempsNow, input.powerW, air));
            approachTerm = Math.max(approachTerm, approachRatio * ffNow);
            ffNow = Math.min(ffNow, approachTerm);
          }
          const room = waitRoom();
          // (held back by more than the backlash deadband: less is a wobble the fans would not have followed,
          // and the few windows' correction no surer than the low-passed one)
          if (ffNow - room > zone.reverseDeadband) ffHeldBack = true;
          ffNow = Math.min(ffNow, room);
          if (pidNeedsTrack && !first) pid.track(stopped ? 0 : duty, temperature, zone.pid.setpoint, ffNow);
          pidNeedsTrack = false;
          // A zone warming toward its setpoint from far below (not near it for REGULATING_SECONDS)
          // under feed-forward: the integral does not wind down on the way (it would overshoot
          // once there; a slow heatsink takes minutes). Near the setpoint it trims as usual.
          // (Not while the load bursts: the feed-forward holds the bursts' peaks and the integral trims that.)
          // a steady load read on every GPU: each within 10% of its filtered estimate (bursts never settle;
          // the estimate of a bursty load holds its peaks). The arrival's model duty and learning both need it.
          const steadyPower = zone.gpus.every((_, k) => finite(input.powerW?.[k]) && Math.abs(input.powerW![k]! - ffs[k]!.estimateW) <= 0.1 * Math.max(ffs[k]!.estimateW, 1));
          // (While the burst cap is on, the die's peak far under the setpoint is a die still warming to the
          // bursts' periodic peak the cap is sized for: its falls through off parts are not a surplus to trim.
          // Nor on the way in from there, until the held peak arrives (at most REGULATING_SECONDS, then it trims
          // as usual: a cap that overrates the rig must not freeze the integral with the die under the setpoint):
          // the held peak lags the die's by the hold and its filter, and a trim taken on the way in let the
          // die peak 1.5 C over the setpoint before the arrival could restore it.)
          const pvNow = pid.measurement ?? temperature;
          if (capNow === null || pvNow < zone.pid.setpoint - REGULATING_BAND_C) peakBandSince = input.now;
          const warmingToBursts =
            capNow !== null &&
            (pvNow < zone.pid.setpoint - REGULATING_BAND_C ||
              (pvNow < zone.pid.setpoint && input.now - peakBandSince < REGULATING_SECONDS && input.now - reachedSince >= REGULATING_SECONDS));
          const holdDown = warmingToBursts || (input.now - regulatingSince >= REGULATING_SECONDS && pid.derivative > RISING_MIN_CPS && !ffs.some((f) => f.bursting));
          // The slow fall filter (measurementFallSeconds) is there for a load drop: the die dips while the
          // heatsink settles at the lower load, and the duty must not follow the dip. Near the setpoint
          // under a load that has not changed (steady power on every GPU, not bursting) nothing dips: a
          // reading that falls is the die settling under the setpoint (an arrival overshoot corrected,
          // a feed-forward or identified model that asks a little more than the rig needs). Held 600 s
          // at the old reading, P and I saw no error for minutes while the die sat up to a degree
          // under its setpoint with the fans louder than needed; the rise time constant lets them see it.
          // (Not from the observer's heat: its steps at each reading change would flicker it.)
          // Only at or under the setpoint, and only within SETTLE_FALL_C of what P and I see: a larger gap is
          // the memory of an overshoot the fans are still working off, and dropping it at once would cut
          // the duty while the die is still on its way down.
          const settling =
            steadyPower &&
            !ffs.some((f) => f.bursting) &&
            temperature <= zone.pid.setpoint &&
            temperature >= zone.pid.setpoint - REGULATING_BAND_C &&
            (pid.measurement ?? temperature) - temperature <= SETTLE_FALL_C;
          integralBefore = pid.integral;
          const r = pid.step({ dt: first ? 0 : dt, measurement: temperature, setpoint: zone.pid.setpoint, ff: ffNow, constrain: (v) => pidConstrain(v, dt), backCalculate: !stopped, freezeAtOrBelow: zone.minDuty, holdDown, settling, periodic: capNow !== null });
          terms = { p: r.p, i: r.i, d: r.d, ff: r.ff };
          demand = r.demand;
          // While the burst cap is on, the arrival is the held peak's (what P and I regulate), not a reading's:
          // the readings cross the setpoint with each burst long before the bursts' periodic peak is there, and
          // with the lift off while bursting the trim the way in took stayed (60 s bursts at 72 C: the duty held
          // 0.03 under the cap by the backlash, the die peaking 1.5 C over the setpoint). The lift is the usual
          // one (back to what the integral held before the held peak came within REGULATING_BAND_C, at most to
          // the feed-forward, i.e. the cap); no creep bound (the reading's creep over its last degree is each
          // burst's rise, not the arrival's) and no model duty (the cap is the model's duty for the peak).
          const peakHeld = capNow !== null;
          const tArrive = peakHeld ? (pid.measurement ?? temperature) : temperature;
          const creep = peakHeld ? Infinity : creepDuty(temperature, input.now, air);
          const heatOff = () =>
            zone.gpus.every((_, k) => {
              const p = input.powerW?.[k];
              return finite(p) && p <= zone.feedForward.idleWatts + ARRIVAL_MIN_LOAD_W;
            });
          const steady = arrivalDuty(tArrive, input.now, ffNow, steadyPower && !peakHeld, air, peakHeld, heatOff);
          if (temperature >= zone.pid.setpoint - CREEP_SPAN_C && temperature < zone.pid.setpoint) lastSpanSince = Math.min(lastSpanSince, input.now);
          else if (temperature < zone.pid.setpoint - CREEP_SPAN_C) lastSpanSince = Infinity;
          if (!(tArrive >= zone.pid.setpoint - REGULATING_BAND_C)) integralOnApproach = pid.integral;
          // The feed-forward's part undoes only what the integral lost on the way in (since the die came
          // within REGULATING_BAND_C): back to what it held before, never over it, so a downward trim it held
          // (bursts, a learned rig the feed-forward overrates) stays. Whatever the sign of what it held: the
          // integral a load starts with is often negative, trimmed down while the die cooled after the last
          // load, and the way in to the next one trims it as much as it trims a zero one (with a negative
          // start refused here, a second load the zone carries with no power reading settled half a degree
          // over the setpoint where the first settled under it). The model's part not where even full fans
          // cannot hold the load: the limit does that, a raised integral would only keep the fans up after
          // it. P is left out: it is the lag of the measurement filter (the reading is at the setpoint) and
          // fades within it.
          const lift = steady !== 0 ? Math.min(Math.max(0, creep + r.p), Math.max(Math.min(steady.ff - (demand - r.p), integralOnApproach - r.i), steady.model < zone.maxDuty ? steady.model - (demand - r.p) : 0)) : 0;
          if (lift > 0) {
            pid.shiftIntegral(lift);
            terms = { ...terms, i: pid.integral };
            demand = terms.p + terms.i + terms.d + terms.ff;
            arrivalLift = true;
          }
          // learn only from a settled zone: at its setpoint, steady load and temperature, fans running within their limits, power measured
          const measured = hint === undefined || zone.gpus.every((_, k) => finite(input.powerW?.[k]) && input.powerW![k]! >= hint);
          const settled =
            !first &&
            !stopped &&
            !pidOnly &&
            measured &&
            steadyPower &&
            Math.abs(temperature - zone.pid.setpoint) <= 1 &&
            Math.abs(pid.derivative) <= 0.005 &&
            duty > zone.minDuty + 0.01 &&
            duty < zone.maxDuty - 0.01 &&
            estimateW() > zone.feedForward.idleWatts + 20;
          learn(dt, settled, ffBase);
        } else if (zone.mode === 'curve') {
          demand = curve.step(temperature);
        } else demand = zone.fixedDuty;
        // A NaN or infinite term would become a NaN duty the allocator turns into stopped fans:
        // that is a controller fault, so the zone goes to full with an alarm instead.
        const broken = nonFinite({ proportional: terms.p, integral: terms.i, derivative: terms.d, 'feed-forward': zone.mode === 'pid' ? terms.ff : ffDuty, [`${zone.mode}-output`]: demand });
        if (broken) {
          alarms.push(`controller-non-finite:${broken}`);
          failsafe = true;
          curve.reset();
        } else {
          if (first) high = duty = Math.min(zone.maxDuty, Math.max(zone.minDuty, demand));
          const wasStopped = stopped;
          /**
           * The identified heatsink settles every zone GPU's load (its power estimate: bursts
           * averaged as the heatsink averages them, and held a while) at least `marginC` under the
           * setpoint with the fans stopped (not the instantaneous power: a burst would cross the
           * hysteresis band at once). Only where it
           * is known: identification on, every GPU's power read and its still-air conductance
           * measured (windows with the fans stopped), not the prior's.
           */
          const holdsAt = (marginC: number) =>
            identify &&
            zone.gpus.every((_, k) => finite(input.powerW?.[k]) && stillWindows[k]! >= PASSIVE_MIN_STILL_WINDOWS && ids[k]!.dutyFor(ffs[k]!.estimateW, zone.pid.setpoint - marginC, air) <= 0);
          /** a zone GPU under a load would reach the setpoint within START_LEAD_SECONDS with the fans stopped */
          const nearing = () =>
            (capNow !== null || ffs.some((f) => f.bursting) || means.some((m) => m.bursting)) &&
            estimateW() > zone.feedForward.idleWatts + ARRIVAL_MIN_LOAD_W &&
            zone.gpus.some((_, k) => {
              const t = input.temps[k];
              const p = input.powerW?.[k];
              return finite(t) && ids[k]!.secondsTo(t, Math.max(finite(p) ? p : 0, ffs[k]!.estimateW), 0, air, zone.pid.setpoint) < START_LEAD_SECONDS;
            });
          const plain = nextStopped(demand, estimateW(), temperature, hint, holdsAt, nearing);
          stopped = budget ? budgetStopped(budget, plain) : plain;
          /**
           * The least airflow holds the load: every GPU's estimate settles `hysteresis` under the
           * setpoint (the identified model, or the prior before it has learned) with at most
           * TRICKLE_LEAST_SHARE of it, one GPU's would pass the setpoint with none, and nothing
           * asks for more (no hint of a load, the demand under minDuty, the die not over the
           * setpoint by TRICKLE_OVER_C).
           */
          const least = allocator.leastShare();
          const light = () =>
            zone.mode === 'pid' &&
            least > 0 &&
            least < zone.minDuty &&
            !(hint !== undefined && hint > zone.feedForward.idleWatts) &&
            demand < zone.minDuty &&
            temperature < zone.pid.setpoint + TRICKLE_OVER_C &&
            // the model explains the warming (with the fans stopped the load would pass the setpoint; a die
            // at the setpoint under a load the model says still air holds means the model is wrong here)
            ffs.some((f, k) => ids[k]!.dutyFor(f.estimateW, zone.pid.setpoint, air) > 0) &&
            ffs.every((f, k) => ids[k]!.dutyFor(f.estimateW, zone.pid.setpoint - zone.hysteresis, air) <= TRICKLE_LEAST_SHARE * least);
          // it starts only as the temperature restarts stopped fans (the demand under minDuty) and ends with the next stop
          trickle = !stopped && !budget && (trickle || wasStopped) && light();
          const own = stopped ? 0 : trickle ? least : wasStopped ? Math.max(zone.minDuty, runningDuty(demand, dt)) : backlash(demand, runningDuty(demand, dt));
          const next = budget && !stopped ? budgeted(budget, own) : own;
          budgetBound = budget !== null && (stopped !== plain || Math.abs(next - own) > 1e-9);
          // the budget, not the temperature, moved the duty: the integral must not learn from it
          if (budgetBound && zone.mode === 'pid' && integralBefore !== null) {
            pid.shiftIntegral(integralBefore - pid.integral);
            terms = { ...terms, i: pid.integral };
            demand = terms.p + terms.i + terms.d + terms.ff;
          }
          duty = next;
          controlled = true;
        }
      }
      if (failsafe) {
        // a broken term is named in the alarm; the output carries no NaN further
        terms = ZERO_TERMS;
        demand = 1;
        high = duty = 1;
        stopped = false;
        passiveStop = false;
        trickle = false;
        // the next controlled step starts over from the full duty the fans have: no NaN carried on
        pidNeedsTrack = true;
      }

      heldDuty = stopped ? 0 : duty;
      stoppedFor = stopped ? stoppedFor + (Number.isFinite(dt) ? dt : 0) : 0;
      const alloc = allocator.step(input.now, stopped ? 0 : duty, input.fanRpm);
      alarms.push(...alloc.alarms);
      // informs only (pushed after the failsafe decision): the feed-forward falls back to ambientCelsius
      if (ambientC === null && zone.feedForward.ambientThermistor !== undefined) alarms.push(`ambient-missing:${zone.feedForward.ambientThermistor}`);
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
        ambientC: ambientC ?? zone.feedForward.ambientCelsius,
        ambientSource: ambientC === null ? 'config' : 'thermistor',
        budget: budget && !failsafe ? { cap: budget.cap, floor: budget.floor, bound: budgetBound } : null,
      };
      return last;
    },
  };
}
