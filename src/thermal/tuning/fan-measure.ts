/**
 * Fan characterisation and the cooler's end-of-line test (`gance fans measure`).
 *
 * Per fan, the others held at full (the GPUs stay cool, and a fan measured alone is not helped
 * by its neighbours' airflow on the tach):
 *   1. full duty, settle: maximum rpm; no tach answer -> `tach` fails; 0 rpm -> `pwm` fails
 *      (the PWM does not reach the fan, or the fan is dead);
 *   2. ramp down (5 % steps above 60 %, 1 % below), settle at each: the rpm-over-duty curve, and
 *      the lowest duty at which it still turns (minimum running duty);
 *   3. stop it, then ramp up from 0 in 1 % steps: the first duty at which it starts (start duty).
 * The duties are sent as they are: no kick-start and no stall re-kick touch a fan being measured
 * (through the daemon, the service stops driving the fan and hides its tach from the stall
 * detector until the measurement ends, whatever way it ends).
 * Thermistors: each must read, and plausibly (0..100 C, not below the intake air by more than 5 C).
 * Safety: before every step the guard is asked; a GPU past its zone setpoint + 5 C puts every fan
 * to full and stops with TuningAbortedError. Any failure leaves the fans at full.
 *
 * The result is stored in the state directory (fan-characterisation.json); at start the daemon
 * uses the measured figures instead of the configured minDuty/startDuty/maxRpm, with margins
 * (effectiveFans), except for fans the config pins (thermal.measuredFans.pin).
 */
import { readFileSync } from 'node:fs';
import { readFile, rename } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { formatSchemaErrors } from '../../config/errors.ts';
import type { FanConfig } from '../../cooler/config.ts';
import { writeFileAtomic } from '../service/atomic-file.ts';
import { withFileLock } from '../../lifecycle/file-lock.ts';
import { TuningAbortedError } from './zone-io.ts';

export interface FanRig {
  fans: string[];
  thermistors: string[];
  setDuties(duties: Readonly<Record<string, number>>): Promise<void>;
  read(): Promise<{ fans: { id: string; rpm: number | null }[]; thermistors: { id: string; celsius: number | null }[] }>;
  wait(seconds: number): Promise<void>;
  /** every fan to full (never throws) */
  failsafe(reason: string): Promise<void>;
  /** null when safe; otherwise why to stop (e.g. "GPU 0 at 81 C, over its zone setpoint 75 C + 5 C") */
  guard(): Promise<string | null>;
}

/** above any 40 mm fan (the fastest turn about 30,000 rpm) and far under what breaks the allocation's sums */
export const MAX_FAN_RPM = 100_000;
const Rpm = () => Type.Number({ minimum: 0, maximum: MAX_FAN_RPM });
const Duty = () => Type.Number({ minimum: 0, maximum: 1 });

// Bounded: the stored report replaces the configured fan figures at start, past the config's checks,
// so a figure no fan can have (a hand-edited or broken file) must fail here rather than reach the allocation.
export const FanCharacterisation = Type.Object({
  id: Type.String({ maxLength: 64 }),
  pass: Type.Boolean({ description: 'PWM reaches the fan and its tach answers' }),
  problems: Type.Array(Type.String({ maxLength: 1000 }), { maxItems: 64 }),
  maxRpm: Type.Union([Rpm(), Type.Null()], { description: 'rpm at full duty' }),
  minDuty: Type.Union([Duty(), Type.Null()], { description: 'lowest duty at which the turning fan keeps turning' }),
  startDuty: Type.Union([Duty(), Type.Null()], { description: 'lowest duty that starts it from standstill' }),
  curve: Type.Array(Type.Object({ duty: Duty(), rpm: Type.Union([Rpm(), Type.Null()]) }), { maxItems: 1000, description: 'rpm over duty, from full down' }),
});
export type FanCharacterisation = Static<typeof FanCharacterisation>;

export const ThermistorCheck = Type.Object({ id: Type.String(), celsius: Type.Union([Type.Number(), Type.Null()]), pass: Type.Boolean(), problem: Type.Union([Type.String(), Type.Null()]) });
export type ThermistorCheck = Static<typeof ThermistorCheck>;

export const FanReport = Type.Object({
  measuredAt: Type.String({ description: 'ISO 8601 time of the measurement' }),
  pass: Type.Boolean({ description: 'every measured fan and every thermistor passed' }),
  fans: Type.Array(FanCharacterisation, { maxItems: 64 }),
  thermistors: Type.Array(ThermistorCheck, { maxItems: 64 }),
});
export type FanReport = Static<typeof FanReport>;

export interface MeasureOptions {
  /** only these fans (default all) */
  fans?: string[];
  /** s to settle after each duty change (default 3: three rpm time constants of a 40 mm fan) */
  settleS?: number;
  onProgress?: (fan: string, what: string, duty: number, rpm: number | null) => void;
}

const round = (x: number) => Math.round(x * 1000) / 1000;

function downDuties(): number[] {
  const out: number[] = [];
  for (let d = 100; d > 60; d -= 5) out.push(d / 100);
  for (let d = 60; d >= 0; d -= 1) out.push(d / 100);
  return out;
}

export async function measureFans(rig: FanRig, o: MeasureOptions = {}): Promise<FanReport> {
  const which = o.fans ?? rig.fans;
  for (const f of which) if (!rig.fans.includes(f)) throw new RangeError(`no fan "${f}" (fans: ${rig.fans.join(', ')})`);
  const settle = o.settleS ?? 3;
  const full = Object.fromEntries(rig.fans.map((f) => [f, 1]));
  const check = async () => {
    const why = await rig.guard();
    if (why) {
      await rig.failsafe(why);
      throw new TuningAbortedError(`${why}: fans to full, measurement stopped`);
    }
  };
  const rpmOf = async (id: string) => (await rig.read()).fans.find((f) => f.id === id)?.rpm ?? null;
  const at = async (id: string, duty: number, seconds = settle) => {
    await check();
    await rig.setDuties({ ...full, [id]: duty });
    await rig.wait(seconds);
    // a fan spinning down below its stall duty still reads for a while: read on while it falls
    let rpm = await rpmOf(id);
    for (let k = 0; k < 20 && rpm !== null && rpm > 0; k++) {
      await rig.wait(1);
      const next = await rpmOf(id);
      const steady = next !== null && next >= 0.97 * rpm;
      rpm = next;
      if (steady) break;
    }
    return rpm;
  };
  try {
    const fans: FanCharacterisation[] = [];
    for (const id of which) {
      const problems: string[] = [];
      const maxRpm = await at(id, 1, settle * 2);
      o.onProgress?.(id, 'full', 1, maxRpm);
      const result: FanCharacterisation = { id, pass: true, problems, maxRpm, minDuty: null, startDuty: null, curve: [{ duty: 1, rpm: maxRpm }] };
      if (maxRpm === null) problems.push('tach: no reading at full duty (tach wire, pull-up or the channel)');
      else if (maxRpm <= 0) problems.push('pwm: 0 rpm at full duty (the PWM does not reach the fan, or it is blocked or unpowered)');
      if (problems.length === 0) {
        let lowest = 1;
        for (const duty of downDuties().slice(1)) {
          const rpm = await at(id, duty);
          o.onProgress?.(id, 'down', duty, rpm);
          result.curve.push({ duty: round(duty), rpm });
          if (!rpm) break;
          lowest = duty;
        }
        result.minDuty = round(lowest);
        // Stopped for sure, then up from standstill.
        await at(id, 0, settle * 2);
        for (let k = 1; k <= 100; k++) {
          const duty = k / 100;
          const rpm = await at(id, duty);
          o.onProgress?.(id, 'up', duty, rpm);
          if (rpm) {
            result.startDuty = round(duty);
            break;
          }
        }
        if (result.startDuty === null) problems.push('start: the fan did not start from standstill at any duty');
        const tops = result.curve.filter((p) => p.rpm !== null && p.rpm > 0).map((p) => p.rpm!);
        // a tach that reads the same at every duty is not reading this fan
        if (tops.length > 3 && Math.max(...tops) - Math.min(...tops) < 0.1 * Math.max(...tops)) problems.push('tach: the rpm does not follow the duty (another fan\'s tach on this channel?)');
      }
      result.pass = problems.length === 0;
      fans.push(result);
      await rig.setDuties(full);
    }
    const state = await rig.read();
    const readings = state.thermistors.filter((t) => rig.thermistors.includes(t.id));
    const lowest = Math.min(...readings.map((t) => t.celsius ?? Infinity));
    const thermistors: ThermistorCheck[] = rig.thermistors.map((id) => {
      const c = state.thermistors.find((t) => t.id === id)?.celsius ?? null;
      let problem: string | null = null;
      if (c === null) problem = 'no reading (open or shorted input)';
      else if (!(c >= 0 && c <= 100)) problem = `${c} C is outside 0..100 C (wrong beta/series resistor, or shorted)`;
      else if (c < lowest - 5 && readings.length > 1) problem = `${c} C, more than 5 C under the coolest other sensor`;
      return { id, celsius: c, pass: problem === null, problem };
    });
    return { measuredAt: new Date().toISOString(), pass: fans.every((f) => f.pass) && thermistors.every((t) => t.pass), fans, thermistors };
  } finally {
    // whatever happened: every fan to full (the daemon's control takes over from there)
    await rig.failsafe('fan measurement finished');
  }
}

// ---- the stored characterisation and how the daemon uses it ----

export const FAN_FILE = 'fan-characterisation.json';
const checkReport = TypeCompiler.Compile(FanReport);

/** added to a measured minimum running duty and start duty before use (tolerance, warm bearings, supply sag) */
export const MEASURED_MARGIN = { minDuty: 0.05, startDuty: 0.1 } as const;

/** per report path, the save in progress: saves merge into the file, so they take turns */
const saving = new Map<string, Promise<unknown>>();

export interface SavedFanReport {
  path: string;
  /** the stored report did not read (not JSON, or not a fan characterisation): kept there, whole, and this one saved alone */
  setAside: { to: string; problem: string } | null;
}

/**
 * Merges `report` into the stored one (a measurement of some fans keeps the others' figures) and
 * writes it whole (writeFileAtomic: a crash leaves the old file or the new one). Saves take turns,
 * in this process and across processes (the daemon's measurement and the CLI's, under the lock
 * file FAN_FILE.lock): two at once both read the old file, and the later write lost the other's fans.
 *
 * A stored report that does not read (hand-edited, cut short, more fans than the schema takes)
 * was taken for none and overwritten: every other fan's figures gone without a word. It is moved
 * aside to FAN_FILE.bad-TIME, as an unreadable saved tuning or render queue is, and said in
 * `setAside` for the caller to report. One that cannot be read at all (permissions) refuses the save.
 */
export async function saveFanReport(stateDir: string, report: FanReport): Promise<SavedFanReport> {
  const path = resolve(stateDir, FAN_FILE);
  const save = () =>
    withFileLock(`${path}.lock`, async () => {
      let before: FanReport | null = null;
      let setAside: SavedFanReport['setAside'] = null;
      try {
        before = await loadFanReport(stateDir);
      } catch (err) {
        if (!(err instanceof UnreadableReportError)) throw new Error(`${path}: cannot read the stored fan characterisation (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); nothing saved`);
        const to = `${path}.bad-${Date.now()}`;
        await rename(path, to);
        setAside = { to, problem: err.message };
      }
      const merged: FanReport = before ? { ...report, fans: [...before.fans.filter((f) => !report.fans.some((g) => g.id === f.id)), ...report.fans] } : report;
      // never write what the next load would refuse (and the next save set aside)
      if (!checkReport.Check(merged)) {
        const first = formatSchemaErrors(checkReport.Errors(merged))[0];
        throw new Error(`${path}: nothing saved: this measurement merged with the stored figures does not pass (${first ?? 'invalid'}); move ${path} aside to start anew`);
      }
      await writeFileAtomic(path, `${JSON.stringify(merged, null, 2)}\n`);
      return { path, setAside };
    });
  const next = (saving.get(path) ?? Promise.resolve()).then(save, save);
  saving.set(path, next);
  try {
    return await next;
  } finally {
    if (saving.get(path) === next) saving.delete(path);
  }
}

/** a stored report whose content does not pass (not JSON, or the schema): set aside by a save */
class UnreadableReportError extends Error {}

/** the report in `data`, or an error naming the file and the first field that does not pass (`fans[0].minDuty: must be >= 0`) */
function checkedReport(path: string, data: unknown): FanReport {
  if (checkReport.Check(data)) return data;
  const first = formatSchemaErrors(checkReport.Errors(data))[0];
  throw new UnreadableReportError(`${path}: not a fan characterisation (${first ?? 'invalid'})`);
}

function parsedReport(path: string, text: string): FanReport {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new UnreadableReportError(`${path}: not JSON (${(err as Error).message})`);
  }
  return checkedReport(path, data);
}

/** the stored report, null when there is none; throws on a file that does not pass the schema */
export async function loadFanReport(stateDir: string): Promise<FanReport | null> {
  let text: string;
  try {
    text = await readFile(join(stateDir, FAN_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  return parsedReport(join(stateDir, FAN_FILE), text);
}

/** loadFanReport, synchronously (daemon start builds its subsystems synchronously) */
export function loadFanReportSync(stateDir: string): FanReport | null {
  let text: string;
  try {
    text = readFileSync(join(stateDir, FAN_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  return parsedReport(join(stateDir, FAN_FILE), text);
}

/**
 * The fan configs the allocation uses: measured figures (with margins) over the configured
 * minDuty/startDuty/maxRpm for every fan that passed its measurement, except pinned ones.
 * Returns what changed, for the log.
 */
export function effectiveFans(configured: ReadonlyArray<FanConfig>, report: FanReport | null, pinned: ReadonlyArray<string> = []): { fans: FanConfig[]; changes: string[] } {
  const changes: string[] = [];
  const fans = configured.map((f) => {
    const m = report?.fans.find((x) => x.id === f.id);
    if (!m || !m.pass || pinned.includes(f.id)) return f;
    const next = { ...f };
    if (m.minDuty !== null) next.minDuty = Math.min(1, round(m.minDuty + MEASURED_MARGIN.minDuty));
    if (m.startDuty !== null) next.startDuty = Math.min(1, round(Math.max(m.startDuty + MEASURED_MARGIN.startDuty, next.minDuty)));
    if (m.maxRpm !== null && m.maxRpm > 0) next.maxRpm = m.maxRpm;
    if (next.minDuty !== f.minDuty || next.startDuty !== f.startDuty || next.maxRpm !== f.maxRpm) {
      changes.push(`${f.id}: minDuty ${f.minDuty} -> ${next.minDuty}, startDuty ${f.startDuty} -> ${next.startDuty}, maxRpm ${f.maxRpm} -> ${next.maxRpm} (measured ${report!.measuredAt})`);
    }
    return next;
  });
  return { fans, changes };
}
