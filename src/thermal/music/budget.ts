/**
 * The noise budget of one zone while a track with known loudness plays (issue 14).
 *
 * Each second of the track allows the fans a level at the listener (music - audibleBelowMusicDb);
 * the fans' data turn it into a duty cap (0: they must stop). Planning backwards over the horizon
 * with the die model (model.ts) gives, for each coming second, the highest temperature from which
 * the capped fans can still keep the die under its ceiling (setpoint + warmAboveSetpointCelsius)
 * to the end: a quiet passage lowers that path ahead of it by as much as it will warm the die, so
 * the die is cooled down in the loud passage before (pre-cooling, led by the rig's time constant)
 * and allowed to warm in the quiet one. Each control step then gets:
 *
 *   cap    the loudest duty that stays inaudible now; none outside the track, and none (with the
 *          floor at full) once the die reaches the ceiling, until it is back under it: a quiet
 *          passage too long to cover ends with a few loud seconds rather than a long audible hum;
 *   floor  the least duty within the cap that keeps the die on its path a second from now
 *          (pre-cooling).
 *
 * The zone applies both on top of its own demand (control/zone.ts); its critical-temperature and
 * sensor failsafes are outside this and still put the fans to full.
 */
import { fanNoiseDba, sumDba, type AllocFan } from '../control/allocation.ts';
import type { MusicConfig } from './config.ts';
import { backStepC, conductanceAt, stepC, timeConstantS, type DieModel } from './model.ts';
import { zoneNoiseDba } from './noise.ts';

/** A track's loudness, placed in time: where it is now and how fast it moves. */
export interface MusicSchedule {
  /** level at the listener per track second, dBA (loudness.ts) */
  levelsDba: number[];
  /** track position (s) at `anchorS` */
  positionS: number;
  /** monotonic seconds (the service clock) when the track was at positionS */
  anchorS: number;
  /** track seconds per second: 1 for playback; a render reports its own pace */
  rate: number;
  /** a looped file plays again from the start */
  loop: boolean;
}

export interface BudgetZone {
  setpoint: number;
  criticalCelsius: number;
  minDuty: number;
  maxDuty: number;
  /** reading step of the temperature, C: the plan starts from the top of the reading's interval */
  sensorResolutionCelsius?: number;
}

export interface BudgetInput {
  nowS: number;
  /** zone temperature as the controller aggregates it, C */
  temperature: number;
  /** heat to plan with: the busiest GPU's power or the load hint, W */
  watts: number;
  ambientC: number;
  /** zone duty the fans had since the previous step (the observer's input); absent: not known */
  duty?: number;
  zone: BudgetZone;
}

export interface BudgetStep {
  /** highest zone duty; >= maxDuty: no cap; < minDuty: stop */
  cap: number;
  /** lowest zone duty (0: none); wins over the cap */
  floor: number;
  /** music at the listener now, dBA */
  musicDba: number;
  /** the fans' allowance now, dBA */
  allowedDba: number;
  /** the planned temperature path now, C */
  pathC: number;
  /** heat the observer adds to the model's, W (the rig off the model: dust, another heatsink) */
  offsetW: number;
  /** why the cap is lifted, if it is */
  lifted: 'ceiling' | null;
}

/** the cap stays this far under the allowance: fans slowing down approach their level from above */
const CAP_MARGIN_DB = 1;

/** how far under the ceiling (less the guard) a boost at the ceiling cools before it lets go, C */
const BOOST_BAND_C = 1;

/** the observer's time scale, s */
const OBSERVER_SECONDS = 60;

/** duty -> level at the listener, tabulated (the allocator's split is too slow per planned second) */
class NoiseTable {
  private readonly duties: number[] = [];
  private readonly levels: number[] = [];
  constructor(
    fans: ReadonlyArray<AllocFan>,
    readonly minDuty: number,
    readonly maxDuty: number,
    distanceM: number,
  ) {
    const n = 120;
    let top = -Infinity;
    for (let k = 0; k <= n; k++) {
      const d = minDuty + ((maxDuty - minDuty) * k) / n;
      // the running maximum: a level that dips with more duty (a fan dropping out) must not raise the cap past a louder duty below it
      top = Math.max(top, zoneNoiseDba(fans, Math.max(d, 1e-3), distanceM));
      this.duties.push(d);
      this.levels.push(top);
    }
  }

  /** highest tabulated duty at or under `allowed` dBA; 0 when even minDuty is louder */
  cap(allowed: number): number {
    if (this.levels[0]! > allowed) return 0;
    let lo = 0;
    let hi = this.levels.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.levels[mid]! <= allowed) lo = mid;
      else hi = mid - 1;
    }
    return this.duties[lo]!;
  }
}

export class NoiseBudget {
  private schedule: MusicSchedule | null = null;
  private table: NoiseTable | null = null;
  private readonly model: DieModel;
  /** at the ceiling: fans at full until the die is a band under it */
  private boost = false;
  /**
   * Disturbance observer: the model's temperature run with the duty really applied, corrected
   * toward the readings, and a heat offset that absorbs what the model gets wrong (second order,
   * critically damped at OBSERVER_SECONDS; whole-degree readings average out in it).
   */
  private observed: { t: number; at: number } | null = null;
  private offsetW = 0;
  /** stopped fans restart with a kick at their start duty: its level at the listener, dBA */
  private readonly kickDba: number;

  constructor(
    private readonly fans: ReadonlyArray<AllocFan>,
    private readonly cfg: MusicConfig,
  ) {
    this.model = cfg.model;
    this.kickDba = sumDba(fans.map((f) => fanNoiseDba(f, f.startDuty))) - 20 * Math.log10(Math.max(0.1, cfg.listenerDistanceMeters));
    if (!(cfg.model.conductanceFullWPerK > cfg.model.conductanceStillWPerK)) {
      throw new Error(`thermal.music.model: conductanceFullWPerK (${cfg.model.conductanceFullWPerK}) must be above conductanceStillWPerK (${cfg.model.conductanceStillWPerK})`);
    }
  }

  /** the rig's thermal time constant with the fans at full, s (pre-cooling lead) */
  get timeConstantFullS(): number {
    return timeConstantS(this.model, 1);
  }

  set(schedule: MusicSchedule | null): void {
    if (schedule && (!schedule.levelsDba.length || !schedule.levelsDba.every(Number.isFinite))) throw new Error('music schedule: levelsDba must be a non-empty list of finite levels');
    this.schedule = schedule ? { ...schedule, levelsDba: [...schedule.levelsDba] } : null;
  }

  /** re-anchor the track position (a render's progress); the pace follows the last two anchors */
  position(positionS: number, nowS: number): void {
    const s = this.schedule;
    if (!s || !Number.isFinite(positionS)) return;
    const dt = nowS - s.anchorS;
    if (dt >= 1) s.rate = Math.max(0, Math.min(10, (positionS - s.positionS) / dt));
    s.positionS = positionS;
    s.anchorS = nowS;
  }

  get active(): MusicSchedule | null {
    return this.schedule;
  }

  /** music level at a track position, dBA; null outside the track */
  private levelAt(pos: number): number | null {
    const s = this.schedule!;
    const n = s.levelsDba.length;
    if (s.loop) pos = ((pos % n) + n) % n;
    if (pos < 0 || pos >= n) return null;
    return s.levelsDba[Math.floor(pos)]!;
  }

  /** what the fans may make at a track position, dBA (Infinity outside the track) */
  private allowedAt(pos: number): number {
    const l = this.levelAt(pos);
    return l === null ? Infinity : l - this.cfg.audibleBelowMusicDb;
  }

  private capAt(table: NoiseTable, pos: number, zone: BudgetZone): number {
    const l = this.levelAt(pos);
    return l === null ? zone.maxDuty : Math.min(zone.maxDuty, table.cap(l - this.cfg.audibleBelowMusicDb - CAP_MARGIN_DB));
  }

  /** null: no track now or ahead within the horizon (the zone runs unbudgeted) */
  step(input: BudgetInput): BudgetStep | null {
    const s = this.schedule;
    if (!s) return null;
    const { zone } = input;
    const pos = s.positionS + s.rate * (input.nowS - s.anchorS);
    const n = s.levelsDba.length;
    if (!s.loop && pos >= n) return null;
    if (!s.loop && s.rate > 0 && pos + s.rate * this.cfg.horizonSeconds < 0) return null;
    if (!Number.isFinite(input.temperature)) return null;
    if (!this.table || this.table.minDuty !== zone.minDuty || this.table.maxDuty !== zone.maxDuty) this.table = new NoiseTable(this.fans, zone.minDuty, zone.maxDuty, this.cfg.listenerDistanceMeters);
    const table = this.table;

    const ceiling = Math.min(zone.setpoint + this.cfg.warmAboveSetpointCelsius, zone.criticalCelsius - 2);
    const m = this.model;
    const ta = input.ambientC;
    this.observe(input);
    const watts = Math.max(0, input.watts + this.offsetW);
    const reach = ta + watts / conductanceAt(m, zone.maxDuty);
    // caps per planned second: the fans slow down spinDownSeconds ahead of a quieter second
    const H = this.cfg.horizonSeconds;
    const lead = this.cfg.spinDownSeconds;
    const capOf = (k: number) => {
      let c = this.capAt(table, pos + s.rate * k, zone);
      for (let j = 1; j <= Math.ceil(lead); j++) c = Math.min(c, this.capAt(table, pos + s.rate * (k + Math.min(j, lead)), zone));
      return c;
    };
    const caps: number[] = [];
    for (let k = 0; k <= H; k++) caps.push(capOf(k));
    // Stopped fans restart with a kick (startDuty): through seconds where that kick would be
    // heard the plan keeps them stopped, so it pre-cools for that rather than for slow fans.
    let stopped = input.duty !== undefined && input.duty <= 0;
    for (let k = 0; k <= H; k++) {
      if (caps[k]! < zone.minDuty) stopped = true;
      else if (stopped && this.kickDba > this.allowedAt(pos + s.rate * k) - CAP_MARGIN_DB) caps[k] = 0;
      else stopped = false;
    }
    // backwards: the highest temperature at second k from which the capped fans hold the die a
    // guard under the ceiling (the boost at the ceiling is the backstop, not the plan)
    const top = ceiling - this.cfg.guardCelsius;
    let path = top;
    const paths = new Array<number>(H + 1);
    paths[H] = top;
    for (let k = H - 1; k >= 0; k--) {
      path = Math.min(top, backStepC(m, path, caps[k]! < zone.minDuty ? 0 : caps[k]!, watts, ta, 1));
      // below what full airflow can reach, the passage cannot be covered whole: plan to the reachable
      // (the floor then runs the fans at full before it, and the passage's end gets audible)
      path = Math.max(path, Math.min(top, reach + 0.5));
      paths[k] = path;
    }
    // where the fans may run at full unheard, cool a reading's step under the path: the quiet
    // passage then starts with that in hand instead of on its edge (whole-degree readings)
    const target = paths[1]! - (caps[0]! >= zone.maxDuty - 1e-9 ? (zone.sensorResolutionCelsius ?? 0) : 0);
    const reading = input.temperature;
    // a whole-degree reading of 72 may be a die at 72.5: the plan starts from the top of the interval
    const half = (zone.sensorResolutionCelsius ?? 0) / 2;
    const t = reading + half;
    const after = (u: number) => stepC(m, t, u < zone.minDuty ? 0 : u, watts, ta, 1);
    const level = this.levelAt(pos);
    const musicDba = level ?? NaN;
    const allowedDba = level === null ? Infinity : level - this.cfg.audibleBelowMusicDb;
    // kept stopped for the kick, but the die needs them this second: they restart (one kick, heard)
    const cap0 = caps[0]! < zone.minDuty && after(0) > target ? capOf(0) : caps[0]!;
    // the least duty that ends the next second on the path (0 when none is needed)
    const leastFor = (hi: number): number => {
      if (after(0) <= target) return 0;
      if (after(hi) > target) return hi;
      let lo = 0;
      let top = hi;
      for (let k = 0; k < 24; k++) {
        const mid = (lo + top) / 2;
        if (after(mid) <= target) top = mid;
        else lo = mid;
      }
      return Math.max(top, zone.minDuty);
    };
    // At the ceiling the fans go to full until the die is back a band under it: a few loud seconds
    // then quiet again, rather than a duty that hovers audibly for the rest of a quiet passage.
    if (reading >= ceiling) this.boost = true;
    else if (reading <= ceiling - this.cfg.guardCelsius - BOOST_BAND_C) this.boost = false;
    let cap = cap0;
    let floor: number;
    let lifted: BudgetStep['lifted'] = null;
    if (this.boost) {
      cap = zone.maxDuty;
      lifted = 'ceiling';
      floor = zone.maxDuty;
    } else floor = leastFor(cap0);
    return { cap, floor: Math.min(floor, zone.maxDuty), musicDba, allowedDba, pathC: paths[0]!, offsetW: this.offsetW, lifted };
  }

  private observe(input: BudgetInput): void {
    const o = this.observed;
    const dt = o ? input.nowS - o.at : NaN;
    if (!o || !(dt > 0 && dt <= 5) || !(input.duty !== undefined && Number.isFinite(input.duty))) {
      this.observed = { t: input.temperature, at: input.nowS };
      return;
    }
    const predicted = stepC(this.model, o.t, input.duty, Math.max(0, input.watts + this.offsetW), input.ambientC, dt);
    const e = input.temperature - predicted;
    const w = 1 / OBSERVER_SECONDS;
    o.t = predicted + 2 * w * dt * e;
    o.at = input.nowS;
    const bound = Math.max(50, input.watts);
    this.offsetW = Math.max(-bound, Math.min(bound, this.offsetW + this.model.heatCapacityJPerK * w * w * dt * e));
  }
}
