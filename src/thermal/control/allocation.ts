/**
 * Quiet allocation: a zone duty (share of the zone fans' full airflow) becomes per-fan duties
 * that deliver that airflow with the least noise, then kick-start and stall handling per fan.
 *
 * Model (hardware/fan data, REFERENCE.md section 3): airflow ~ rpm ~ duty * maxRpm; a fan's
 * level L = maxDba + 50*log10(rpm/maxRpm), so its sound energy ~ 10^(maxDba/10) * duty^5 and the
 * cost of a set of fans is the energy sum. The cost is convex, so for a given set of running fans
 * the optimum spreads the airflow (equal for equal fans: "two slow fans beat one fast one");
 * a fan's minimum duty can make running fewer fans cheaper, so sets are compared too.
 */

export const NOISE_DB_PER_DECADE = 50;
const EXPONENT = NOISE_DB_PER_DECADE / 10;

export interface AllocFan {
  id: string;
  maxRpm: number;
  /** lowest duty at which it keeps turning */
  minDuty: number;
  /** duty that starts it from standstill */
  startDuty: number;
  /** level at full speed, dBA */
  maxDba: number;
}

/** Level of one fan at a duty, dBA; -Infinity when stopped. */
export function fanNoiseDba(fan: Pick<AllocFan, 'maxDba'>, duty: number): number {
  return duty > 0 ? fan.maxDba + NOISE_DB_PER_DECADE * Math.log10(duty) : -Infinity;
}

/** Energy sum of levels, dBA; -Infinity for silence. */
export function sumDba(levels: Iterable<number>): number {
  let e = 0;
  for (const l of levels) if (Number.isFinite(l)) e += 10 ** (l / 10);
  return e > 0 ? 10 * Math.log10(e) : -Infinity;
}

/** The allocation cost: sound energy relative to 0 dBA. */
export function noiseEnergy(fans: ReadonlyArray<Pick<AllocFan, 'id' | 'maxDba'>>, duties: Readonly<Record<string, number>>): number {
  let e = 0;
  for (const f of fans) {
    const u = duties[f.id] ?? 0;
    if (u > 0) e += 10 ** (f.maxDba / 10) * u ** EXPONENT;
  }
  return e;
}

export interface SplitOptions {
  /** per-fan minimum overriding fan.minDuty (raised after stalls) */
  minDuty?: Readonly<Record<string, number>>;
  /** fans running now: kept as the running set unless another set is quieter by switchMarginDb */
  running?: ReadonlySet<string>;
  /** hysteresis between running sets, dB (stops fans starting and stopping on a boundary) */
  switchMarginDb?: number;
}

interface SetSolution {
  ids: string[];
  duties: Record<string, number>;
  cost: number;
}

/** Optimal duties for a fixed running set, or null if it cannot deliver `flow` (rpm units). */
function solveSet(set: AllocFan[], flow: number, mins: (f: AllocFan) => number): SetSolution | null {
  let lo = 0;
  let hi = 0;
  for (const f of set) {
    lo += f.maxRpm * mins(f);
    hi += f.maxRpm;
  }
  const tol = 1e-9 * hi;
  if (flow > hi + tol) return null;
  if (flow <= lo + tol) {
    // Every fan of the set at its minimum already gives enough (more airflow is the safe side).
    const duties: Record<string, number> = {};
    for (const f of set) duties[f.id] = mins(f);
    return { ids: set.map((f) => f.id), duties, cost: noiseEnergy(set, duties) };
  }
  // KKT: d/du (a u^n) = lambda * r  ->  u = (lambda r / (n a))^(1/(n-1)), clipped to [min, 1].
  // With mu = lambda^(1/(n-1)), delivered flow is monotone in mu: bisect.
  const n = set.length;
  let ref = -Infinity;
  for (const f of set) ref = Math.max(ref, f.maxDba);
  const c = new Array<number>(n);
  const lo_ = new Array<number>(n);
  let muHi = 0;
  for (let k = 0; k < n; k++) {
    const f = set[k]!;
    c[k] = (f.maxRpm / 9000 / (EXPONENT * 10 ** ((f.maxDba - ref) / 10))) ** (1 / (EXPONENT - 1));
    lo_[k] = mins(f);
    muHi = Math.max(muHi, 1 / c[k]!);
  }
  const flowAt = (mu: number) => {
    let q = 0;
    for (let k = 0; k < n; k++) q += Math.min(1, Math.max(lo_[k]!, c[k]! * mu)) * set[k]!.maxRpm;
    return q;
  };
  let muLo = 0;
  for (let it = 0; it < 50; it++) {
    const mid = (muLo + muHi) / 2;
    if (flowAt(mid) < flow) muLo = mid;
    else muHi = mid;
  }
  const duties: Record<string, number> = {};
  for (let k = 0; k < n; k++) duties[set[k]!.id] = Math.min(1, Math.max(lo_[k]!, c[k]! * muHi));
  return { ids: set.map((f) => f.id), duties, cost: noiseEnergy(set, duties) };
}

function subsets<T>(items: T[]): T[][] {
  const out: T[][] = [];
  for (let mask = 1; mask < 1 << items.length; mask++) out.push(items.filter((_, k) => mask & (1 << k)));
  return out;
}

/**
 * Zone duty -> per-fan duties with the least noise that deliver at least that airflow (no kicks;
 * see createFanAllocator). zoneDuty 0 stops every fan. A set of fans may deliver more than asked
 * when its minimum duties force it (three fans at their minimum can be quieter than two faster).
 */
export function quietSplit(fans: ReadonlyArray<AllocFan>, zoneDuty: number, opts: SplitOptions = {}): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of fans) out[f.id] = 0;
  const d = Math.max(0, Math.min(1, zoneDuty));
  if (d <= 0 || fans.length === 0) return out;
  const mins = (f: AllocFan) => Math.max(0, Math.min(1, opts.minDuty?.[f.id] ?? f.minDuty));
  const flow = d * fans.reduce((s, f) => s + f.maxRpm, 0);

  // Exhaustive over sets for small zones; for big ones the quietest-first prefixes (exact for
  // identical fans) keep the step cheap.
  const ordered = [...fans].sort((a, b) => a.maxDba - 50 * Math.log10(a.maxRpm) - (b.maxDba - 50 * Math.log10(b.maxRpm)));
  const candidates = fans.length <= 10 ? subsets(ordered) : ordered.map((_, k) => ordered.slice(0, k + 1));
  let best: SetSolution | null = null;
  let current: SetSolution | null = null;
  const runningKey = opts.running ? [...opts.running].sort().join('\u0000') : null;
  for (const set of candidates) {
    const sol = solveSet(set, flow, mins);
    if (!sol) continue;
    if (!best || sol.cost < best.cost) best = sol;
    if (runningKey !== null && [...sol.ids].sort().join('\u0000') === runningKey) current = sol;
  }
  if (!best) return out;
  const margin = 10 ** ((opts.switchMarginDb ?? 0) / 10);
  const chosen = current && current.cost <= best.cost * margin ? current : best;
  Object.assign(out, chosen.duties);
  return out;
}

export interface StallParams {
  kickSeconds: number;
  detectSeconds: number;
  minDutyStep: number;
}

export interface FanAllocation {
  fanDuties: Record<string, number>;
  fans: Record<string, { duty: number; minDuty: number; kicking: boolean; stalls: number }>;
  alarms: string[];
}

export interface FanAllocator {
  /**
   * rpm per fan id (null/undefined: no tach, no stall detection). A stopped fan that is asked to
   * turn gets max(startDuty, duty) for kickSeconds. A fan commanded to turn that reads 0 rpm for
   * detectSeconds after its kick is stalled: 1st stall -> kick again; 2nd -> kick and raise its
   * minimum duty by minDutyStep (kept); 3rd -> alarm and full duty until it turns again.
   */
  step(now: number, zoneDuty: number, rpm?: Readonly<Record<string, number | null | undefined>>): FanAllocation;
  /** per-fan minimum after stall escalation */
  minDuty(): Record<string, number>;
  /**
   * The least airflow the zone's fans can give while any turns (share of the zone's full
   * airflow): the fan whose minimum moves the least air, alone, at that minimum. Stalled fans
   * (alarmed) do not count; 0 when none works.
   */
  leastShare(): number;
  setStall(p: StallParams): void;
}

interface FanRuntime {
  commanded: number;
  kickUntil: number;
  watchFrom: number;
  stalls: number;
  raisedMin: number;
  alarmed: boolean;
}

export function createFanAllocator(fans: ReadonlyArray<AllocFan>, stall: StallParams, switchMarginDb = 1): FanAllocator {
  let params = { ...stall };
  // The split is the expensive part and its inputs rarely change between control steps.
  let memoKey = '';
  let memo: Record<string, number> = {};
  const split = (healthy: AllocFan[], share: number, running: Set<string>, mins: Record<string, number>) => {
    const key = `${share}|${healthy.map((f) => f.id).join(',')}|${[...running].join(',')}|${healthy.map((f) => mins[f.id]).join(',')}`;
    if (key !== memoKey) {
      memo = quietSplit(healthy, share, { minDuty: mins, running, switchMarginDb });
      memoKey = key;
    }
    return memo;
  };
  const rt = new Map<string, FanRuntime>();
  for (const f of fans) rt.set(f.id, { commanded: 0, kickUntil: -Infinity, watchFrom: Infinity, stalls: 0, raisedMin: f.minDuty, alarmed: false });
  const minDuty = () => Object.fromEntries(fans.map((f) => [f.id, rt.get(f.id)!.raisedMin]));

  return {
    minDuty,
    leastShare() {
      const totalRpm = fans.reduce((s, f) => s + f.maxRpm, 0);
      let least = Infinity;
      for (const f of fans) {
        const s = rt.get(f.id)!;
        if (!s.alarmed) least = Math.min(least, (Math.max(0, Math.min(1, s.raisedMin)) * f.maxRpm) / totalRpm);
      }
      return Number.isFinite(least) && totalRpm > 0 ? least : 0;
    },
    setStall(p) {
      params = { ...p };
    },
    step(now, zoneDuty, rpm = {}) {
      const alarms: string[] = [];
      // Tach first: it decides which fans can carry airflow this step.
      for (const f of fans) {
        const s = rt.get(f.id)!;
        const r = rpm[f.id];
        if (typeof r !== 'number' || !Number.isFinite(r)) continue;
        if (r > 0) {
          s.stalls = 0;
          s.alarmed = false;
          continue;
        }
        if (s.commanded > 0 && now >= s.watchFrom + params.detectSeconds) {
          s.stalls += 1;
          if (s.stalls >= 3) s.alarmed = true;
          else {
            if (s.stalls === 2) s.raisedMin = Math.min(1, s.raisedMin + params.minDutyStep);
            s.kickUntil = now + params.kickSeconds;
            s.watchFrom = s.kickUntil;
          }
          if (s.alarmed) s.watchFrom = now; // keep counting, alarm stays until it turns
        }
      }
      const healthy = fans.filter((f) => !rt.get(f.id)!.alarmed);
      const running = new Set(healthy.filter((f) => rt.get(f.id)!.commanded > 0).map((f) => f.id));
      // Airflow the zone asks for, carried by the fans that work.
      const totalRpm = fans.reduce((s, f) => s + f.maxRpm, 0);
      const healthyRpm = healthy.reduce((s, f) => s + f.maxRpm, 0);
      // 1e-4 airflow resolution: far below what a fan resolves, and it lets the split be reused.
      const share = healthyRpm > 0 ? Math.min(1, Math.ceil(((zoneDuty * totalRpm) / healthyRpm) * 1e4) / 1e4) : 0;
      const duties = split(healthy, share, running, minDuty());

      const fanDuties: Record<string, number> = {};
      const detail: FanAllocation['fans'] = {};
      for (const f of fans) {
        const s = rt.get(f.id)!;
        let target = s.alarmed ? 1 : (duties[f.id] ?? 0);
        if (target > 0 && s.commanded <= 0) {
          s.kickUntil = now + params.kickSeconds;
          s.watchFrom = s.kickUntil;
        }
        if (target <= 0) s.watchFrom = Infinity;
        const kicking = target > 0 && now < s.kickUntil;
        if (kicking) target = Math.max(target, f.startDuty);
        s.commanded = target;
        fanDuties[f.id] = target;
        detail[f.id] = { duty: target, minDuty: s.raisedMin, kicking, stalls: s.stalls };
        if (s.alarmed) alarms.push(`fan-stalled:${f.id}`);
      }
      return { fanDuties, fans: detail, alarms };
    },
  };
}
