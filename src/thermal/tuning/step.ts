/**
 * Step response: hold a duty until the temperature is steady, step to another, record until it
 * settles, fit a FOPDT model (fopdt.ts). Safety: above `abortAboveC` the fans go to full and the
 * run stops with TuningAbortedError; any other failure puts them to full too.
 */
import { fitStep, type StepFit } from './fopdt.ts';
import { TuningAbortedError, type ZoneIo, type ZoneSample } from './zone-io.ts';

export interface SteadyOptions {
  /** window over which the trend is judged, s (default 120) */
  windowS?: number;
  /** steady when the least-squares trend over the window is below this, C/s (default 0.001: 0.12 C per 2 minutes) */
  slopeCPerS?: number;
}

export interface StepOptions extends SteadyOptions {
  fromDuty: number;
  toDuty: number;
  /** fans to full and abort when the zone reads above this, C */
  abortAboveC: number;
  /** longest hold at fromDuty waiting for steady, s (default 1800) */
  maxHoldS?: number;
  /** longest record after the step, s (default 1800) */
  maxRecordS?: number;
  /** progress, once per sample */
  onSample?: (s: ZoneSample, phase: 'hold' | 'step') => void;
}

export interface StepResult {
  fit: StepFit;
  /** every sample; `t` on the experiment clock; stepAtS is when the duty changed */
  samples: ZoneSample[];
  stepAtS: number;
  /** the record reached steady before maxRecordS */
  settled: boolean;
}

/** least-squares slope of (t, y), C/s */
export function trend(points: ReadonlyArray<{ t: number; y: number }>): number {
  const n = points.length;
  if (n < 2) return Infinity;
  const mt = points.reduce((s, p) => s + p.t, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.t - mt) * (p.y - my);
    den += (p.t - mt) ** 2;
  }
  return den > 0 ? num / den : Infinity;
}

/** steady: a full window whose trend is below the limit */
export function isSteady(samples: ReadonlyArray<ZoneSample>, since: number, o: SteadyOptions = {}): boolean {
  const w = o.windowS ?? 120;
  const last = samples[samples.length - 1];
  if (!last || last.t - since < w) return false;
  const pts = samples.filter((s) => s.t >= last.t - w && s.temperature !== null).map((s) => ({ t: s.t, y: s.temperature! }));
  return Math.abs(trend(pts)) < (o.slopeCPerS ?? 0.001);
}

/**
 * Take a sample, check it against the safety limit (fans to full and TuningAbortedError above
 * it, or without a reading), record it.
 */
export async function guardedSample(io: ZoneIo, samples: ZoneSample[], abortAboveC: number): Promise<ZoneSample> {
  const s = await io.sample();
  samples.push(s);
  if (s.temperature === null) {
    await io.failsafe('no temperature reading');
    throw new TuningAbortedError('the zone temperature could not be read: fans to full', samples);
  }
  if (s.temperature > abortAboveC) {
    await io.failsafe(`above ${abortAboveC} C`);
    throw new TuningAbortedError(`the zone reached ${s.temperature} C, above the limit of ${abortAboveC} C: fans to full, experiment stopped`, samples);
  }
  return s;
}

/** Run `body`; whatever it throws, the fans go to full first. */
export async function withFailsafe<T>(io: ZoneIo, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (err) {
    await io.failsafe(`tuning failed: ${(err as Error).message}`);
    throw err;
  }
}

export function runStep(io: ZoneIo, o: StepOptions): Promise<StepResult> {
  for (const [k, v] of [['fromDuty', o.fromDuty], ['toDuty', o.toDuty]] as const) {
    if (!(v >= 0 && v <= 1)) throw new RangeError(`${k} must be within 0..1, got ${v}`);
  }
  if (Math.abs(o.toDuty - o.fromDuty) < 0.05) throw new RangeError(`the step must change the duty by at least 0.05 (from ${o.fromDuty} to ${o.toDuty})`);
  const maxHold = o.maxHoldS ?? 1800;
  const maxRecord = o.maxRecordS ?? 1800;
  return withFailsafe(io, async () => {
    const samples: ZoneSample[] = [];
    await io.setDuty(o.fromDuty);
    const holdStart = (await guardedSample(io, samples, o.abortAboveC)).t;
    for (;;) {
      await io.wait(io.periodS);
      const s = await guardedSample(io, samples, o.abortAboveC);
      o.onSample?.(s, 'hold');
      if (isSteady(samples, holdStart, o)) break;
      if (s.t - holdStart > maxHold) throw new Error(`the temperature did not settle at duty ${o.fromDuty} within ${maxHold} s (is the load steady?)`);
    }
    await io.setDuty(o.toDuty);
    const stepAt = samples[samples.length - 1]!.t;
    let settled = false;
    for (;;) {
      await io.wait(io.periodS);
      const s = await guardedSample(io, samples, o.abortAboveC);
      o.onSample?.(s, 'step');
      if (isSteady(samples, stepAt, o)) {
        settled = true;
        break;
      }
      if (s.t - stepAt > maxRecord) break;
    }
    // the fit sees the last minute before the step (its level) and everything after
    const pts = samples.filter((s) => s.t >= stepAt - 60 && s.temperature !== null).map((s) => ({ t: s.t - stepAt, temperature: s.temperature! }));
    const fit = fitStep(pts, o.fromDuty, o.toDuty);
    return { fit, samples, stepAtS: stepAt, settled };
  });
}
