/**
 * `gance thermal ...`: look at and tune a running daemon's thermal control, or run the plant and
 * the real controllers offline.
 *
 *   gance thermal status [--url URL] [--json]
 *   gance thermal set <zone> [--setpoint C] [--mode pid|curve|fixed] [--duty D] [--kp --ki --kd] [--curve T:D,...]
 *                        [--min-duty D] [--max-duty D] [--critical C] [--url URL]
 *   gance thermal reset <zone> [--url URL]
 *   gance thermal mode [NAME | --off] [--url URL] [--json]
 *   gance thermal simulate [--profile standard|idle|full] [--config FILE] [--setpoint C] [--mode M] [--every S] [--json]
 */
import { InvalidArgumentError, type Command } from 'commander';
import { DEFAULT_CONFIG_PATH } from '../config/paths.ts';
import type { ZonePatch } from '../thermal/control/index.ts';
import type { ThermalView, ZoneView } from '../thermal/service/view.ts';
import type { SimulateOptions } from './thermal-simulate.ts';
import { registerMode } from './thermal-mode.ts';
import { daemonAddress, daemonFetch, tokenHint } from './daemon-api.ts';

const DEFAULT_URL = 'http://127.0.0.1:9840';

/** decimal notation only: Number() reads "" and " " as 0 and "0x46" as 70 */
const DECIMAL = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

/** a commander parser for a number option in min..max; anything else is refused naming the option */
/**
 * --out PREFIX: its folder must be there and writable, checked before a simulation or an
 * experiment (minutes on a rig) rather than as an ENOENT once its files are written.
 */
export async function refuseUnwritableOut(prefix: string | undefined): Promise<void> {
  if (prefix === undefined) return;
  const [{ access, constants }, { dirname, resolve }] = await Promise.all([import('node:fs/promises'), import('node:path')]);
  const dir = dirname(resolve(prefix));
  if (!(await access(dir, constants.W_OK).then(() => true, () => false))) throw new Error(`--out ${prefix}: folder ${dir} does not exist or is not writable`);
}

export function number(name: string, min: number, max: number) {
  return (v: string) => {
    const x = DECIMAL.test(v) ? Number(v) : Number.NaN;
    if (!Number.isFinite(x) || x < min || x > max) throw new InvalidArgumentError(`${name} must be a number in ${min}..${max}, got "${v}"`);
    return x;
  };
}

/** --curve: "T:D,T:D,..." as [temperature, duty] points; order and shape are the daemon's rules to check */
function curve(v: string): [number, number][] {
  const points = v.split(',').map((p) => p.split(':'));
  const ok = points.length >= 2 && points.length <= 32 && points.every((p) => p.length === 2 && p.every((x) => DECIMAL.test(x)));
  const out = ok ? points.map(([t, d]) => [Number(t), Number(d)] as [number, number]) : [];
  if (!ok || !out.every(([t, d]) => t >= -40 && t <= 150 && d >= 0 && d <= 1)) {
    throw new InvalidArgumentError(`--curve must be 2 to 32 points TEMPERATURE:DUTY separated by commas (C in -40..150, duty in 0..1), e.g. 40:0,70:0.33,100:1; got "${v}"`);
  }
  return out;
}

export async function api<T>(url: string, path: string, init?: { method: string; body?: unknown }): Promise<T> {
  let res: Response;
  const { clientAuthHeaders } = await import('../api/client-token.ts');
  const auth = clientAuthHeaders();
  try {
    res = await daemonFetch(new URL(path, url), {
      method: init?.method ?? 'GET',
      headers: { ...auth, ...(init?.body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: init?.body !== undefined ? JSON.stringify(init.body) : undefined,
      signal: AbortSignal.timeout(5000),
    });
  } catch (err) {
    throw new Error(`cannot reach the daemon at ${url} (${(err as Error).cause ? String((err as { cause: Error }).cause.message) : (err as Error).message}); is it running? (--url)`);
  }
  const body = (await res.json().catch(() => ({}))) as T & { message?: string };
  if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${path}: ${res.status} ${body.message ?? res.statusText}${tokenHint(res.status)}`);
  return body;
}

/**
 * After a change, what the operator must not miss: it was applied but not saved (exit code 4),
 * or it cools less than the config file. On stderr, so scripts reading stdout are unaffected.
 */
function sayTuningNotes(z: ZoneView): void {
  const notes = z.tuningWarnings.map((w) => `warning: zone ${z.id}: ${w}`);
  if (!z.persisted) {
    notes.push(`warning: zone ${z.id}: applied, but NOT saved in the daemon's state directory (see its log and the tuning-not-saved alarm); a restart goes back to the last saved settings`);
    process.exitCode = 4;
  }
  if (notes.length) process.stderr.write(`${notes.join('\n')}\n`);
}

export const fmt = (x: number | null | undefined, digits = 1, unit = '') => (x === null || x === undefined || !Number.isFinite(x) ? '-' : `${x.toFixed(digits)}${unit}`);
export const pct = (x: number) => `${Math.round(x * 100)}%`;

/** Fixed-width table, columns sized to their content. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, k) => Math.max(h.length, ...rows.map((r) => (r[k] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, k) => c.padEnd(widths[k]!)).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

export function statusText(s: ThermalView): string {
  const zones = table(
    ['ZONE', 'MODE', 'TEMP', 'SETPOINT', 'DUTY', 'P', 'I', 'D', 'FF', 'AGE', 'STATE'],
    s.zones.map((z: ZoneView) => [
      z.id,
      z.mode,
      fmt(z.temperature, 1, ' C'),
      fmt(z.setpoint, 1, ' C'),
      pct(z.duty),
      fmt(z.terms.p, 3),
      fmt(z.terms.i, 3),
      fmt(z.terms.d, 3),
      fmt(z.terms.ff, 3),
      fmt(z.sampleAgeSeconds, 1, ' s'),
      z.failsafe ? `FAILSAFE: ${z.alarms.filter((a) => a.failsafe).map((a) => `${a.kind}(${a.subject})`).join(', ')}` : z.alarms.length ? `alarm: ${z.alarms.map((a) => `${a.kind}(${a.subject})`).join(', ')}` : 'ok',
    ]),
  );
  const fans = table(
    ['FAN', 'ZONE', 'DUTY', 'RPM', 'MIN'],
    s.zones.flatMap((z) => z.fans.map((f) => [f.id, z.id, pct(f.duty), f.rpm === null ? '-' : String(f.rpm), pct(f.minDuty)])),
  );
  const gpus = table(
    ['GPU', 'NAME', 'TEMP', 'POWER', 'UTIL', 'THROTTLE'],
    s.gpus.map((g) => [String(g.index), g.name || g.uuid, fmt(g.temperature, 0, ' C'), fmt(g.power, 1, ' W'), g.utilization === null ? '-' : pct(g.utilization), g.throttleReasons.join(',') || '-']),
  );
  const sensors = `sensors: ${s.sensors.source} ${s.sensors.running ? 'streaming' : 'DOWN'} (restarts ${s.sensors.restarts}, failed samples ${s.sensors.failedSamples})${s.sensors.lastError ? `, last error: ${s.sensors.lastError}` : ''}`;
  const cooler = `cooler: ${s.cooler.kind}, link ${s.cooler.linkUp ? 'up' : 'DOWN'}${s.thermistors.length ? `; thermistors ${s.thermistors.map((t) => `${t.id} ${fmt(t.celsius, 1, ' C')}`).join(', ')}` : ''}`;
  const mode = `mode: ${s.mode.active ? `${s.mode.active.name} (applied ${s.mode.active.at})` : 'none'}`;
  const yielding = (s.yield?.zones ?? []).filter((y) => y.step > 0).map((y) => `yield: zone ${y.zone} synthesis at ${pct(y.speed)} (step ${y.step}/${y.steps}): ${y.reason}`);
  return [zones, '', fans, '', gpus, '', sensors, cooler, mode, ...yielding].join('\n');
}

export function register(program: Command): void {
  const thermal = program.command('thermal').description('thermal control: status, run-time tuning, offline simulation');

  thermal
    .command('status')
    .description("print every zone, fan and GPU of a running daemon's thermal control")
    .option('--url <url>', 'daemon API address', daemonAddress('--url'), DEFAULT_URL)
    .option('--json', 'print the raw API answer')
    .action(async (opts: { url: string; json?: boolean }) => {
      const s = await api<ThermalView>(opts.url, '/v1/thermal');
      process.stdout.write(opts.json ? `${JSON.stringify(s, null, 2)}\n` : `${statusText(s)}\n`);
      if (s.failsafe) process.exitCode = 3;
    });

  thermal
    .command('set')
    .description("change a zone's settings now (saved by the daemon in its state directory)")
    .argument('<zone>', 'zone id')
    .option('--url <url>', 'daemon API address', daemonAddress('--url'), DEFAULT_URL)
    .option('--setpoint <celsius>', 'PID setpoint', number('--setpoint', -40, 150))
    .option('--mode <mode>', 'pid, curve or fixed')
    .option('--duty <ratio>', 'fixed-mode duty 0..1', number('--duty', 0, 1))
    .option('--kp <n>', 'duty per C', number('--kp', 0, 10))
    .option('--ki <n>', 'duty per C*s', number('--ki', 0, 10))
    .option('--kd <n>', 'duty per C/s', number('--kd', 0, 100))
    .option('--curve <points>', 'curve mode: TEMPERATURE:DUTY points, e.g. 40:0,70:0.33,100:1', curve)
    .option('--min-duty <ratio>', 'lowest zone duty while the fans run, 0..1', number('--min-duty', 0, 1))
    .option('--max-duty <ratio>', 'highest zone duty, 0..1', number('--max-duty', 0, 1))
    .option('--critical <celsius>', 'fans to full at or above this', number('--critical', -40, 105))
    .action(async (zone: string, o: { url: string; setpoint?: number; mode?: string; duty?: number; kp?: number; ki?: number; kd?: number; curve?: [number, number][]; minDuty?: number; maxDuty?: number; critical?: number }) => {
      const patch: Record<string, unknown> = {};
      const pid: Record<string, number> = {};
      if (o.setpoint !== undefined) pid.setpoint = o.setpoint;
      if (o.kp !== undefined) pid.kp = o.kp;
      if (o.ki !== undefined) pid.ki = o.ki;
      if (o.kd !== undefined) pid.kd = o.kd;
      if (Object.keys(pid).length) patch.pid = pid;
      if (o.mode !== undefined) patch.mode = o.mode;
      if (o.duty !== undefined) patch.fixedDuty = o.duty;
      if (o.curve !== undefined) patch.curve = o.curve;
      if (o.minDuty !== undefined) patch.minDuty = o.minDuty;
      if (o.maxDuty !== undefined) patch.maxDuty = o.maxDuty;
      if (o.critical !== undefined) patch.criticalCelsius = o.critical;
      if (Object.keys(patch).length === 0) throw new InvalidArgumentError('nothing to change: give --setpoint, --mode, --duty, --kp, --ki, --kd, --curve, --min-duty, --max-duty or --critical');
      const z = await api<ZoneView>(o.url, `/v1/thermal/zones/${encodeURIComponent(zone)}`, { method: 'PATCH', body: patch });
      process.stdout.write(`${z.id}: mode ${z.mode}, setpoint ${z.setpoint} C, kp ${z.settings.pid.kp}, ki ${z.settings.pid.ki}, kd ${z.settings.pid.kd}, fixed duty ${z.settings.fixedDuty}\n`);
      sayTuningNotes(z);
    });

  thermal
    .command('reset')
    .description("put a zone back to the config file's settings")
    .argument('<zone>', 'zone id')
    .option('--url <url>', 'daemon API address', daemonAddress('--url'), DEFAULT_URL)
    .action(async (zone: string, o: { url: string }) => {
      const z = await api<ZoneView>(o.url, `/v1/thermal/zones/${encodeURIComponent(zone)}/tuning`, { method: 'DELETE' });
      process.stdout.write(`${z.id}: back to the config file (mode ${z.mode}, setpoint ${z.setpoint} C)\n`);
      sayTuningNotes(z);
    });

  registerMode(thermal, DEFAULT_URL);

  thermal
    .command('simulate')
    .description('run the simulated GPUs and fans with the real controllers, offline (no daemon, no waiting)')
    .option('-c, --config <file>', 'YAML config (its cooler fans and thermal zones)', DEFAULT_CONFIG_PATH)
    .option('--profile <name>', 'load: standard (idle, 150 W, render bursts, idle), idle or full', 'standard')
    .option('--setpoint <celsius>', 'override every zone\'s PID setpoint', number('--setpoint', -40, 150))
    .option('--mode <mode>', 'override every zone\'s mode: pid, curve or fixed')
    .option('--seconds <n>', 'simulated time (default: the profile length)', number('--seconds', 1, 86_400))
    .option('--every <seconds>', 'print a timeline row every this many simulated seconds (0: summary only)', number('--every', 0, 86_400), 60)
    .option('--json', 'print only the JSON summary')
    .option('--out <prefix>', 'also write PREFIX-ZONE.csv and PREFIX-ZONE.svg (temperature, setpoint, duty, rpm every second)')
    .action(async (o: { config: string; profile: string; setpoint?: number; mode?: string; seconds?: number; every: number; json?: boolean; out?: string }) => {
      if (!['standard', 'idle', 'full'].includes(o.profile)) throw new InvalidArgumentError(`--profile must be standard, idle or full, got "${o.profile}"`);
      if (o.mode !== undefined && !['pid', 'curve', 'fixed'].includes(o.mode)) throw new InvalidArgumentError(`--mode must be pid, curve or fixed, got "${o.mode}"`);
      await refuseUnwritableOut(o.out);
      const [{ loadConfigFile }, { simulate, dbaText }] = await Promise.all([import('../config/load.ts'), import('./thermal-simulate.ts')]);
      const config = loadConfigFile(o.config);
      const patch: ZonePatch = {};
      if (o.setpoint !== undefined) patch.pid = { setpoint: o.setpoint };
      if (o.mode !== undefined) patch.mode = o.mode as ZonePatch['mode'];
      const lines: string[] = [];
      const rows = new Map<string, { t: number; temperature: number; setpoint: number; duty: number; rpm: number | null }[]>();
      // one row per simulated second is plenty for a chart
      const record = o.out ? (zone: string, row: { t: number; temperature: number; setpoint: number; duty: number; rpm: number | null }) => {
        const list = rows.get(zone) ?? rows.set(zone, []).get(zone)!;
        if (!list.length || row.t - list[list.length - 1]!.t >= 1 - 1e-9) list.push(row);
      } : undefined;
      const r = simulate({ config, profile: o.profile as SimulateOptions['profile'], patch, seconds: o.seconds, every: o.json ? 0 : o.every, out: (l) => lines.push(l), record });
      if (o.out) {
        const [{ writeFileSync }, { zoneChart, zoneCsv }] = await Promise.all([import('node:fs'), import('../thermal/charts/svg.ts')]);
        for (const [zone, list] of rows) {
          writeFileSync(`${o.out}-${zone}.csv`, zoneCsv(list));
          writeFileSync(`${o.out}-${zone}.svg`, zoneChart(`zone ${zone}: simulated, ${o.profile} profile`, list));
          lines.push(`files: ${o.out}-${zone}.csv, ${o.out}-${zone}.svg`);
        }
      }
      if (!o.json) {
        process.stdout.write(`${lines.join('\n')}\n\n`);
        process.stdout.write(
          `${table(
            ['ZONE', 'PEAK', '>= CRITICAL', '> SETPOINT+3', 'MEAN dBA', 'PEAK dBA', 'REVERSALS/MIN'],
            r.zones.map((z) => [z.zone, fmt(z.peakC, 1, ' C'), `${z.secondsAtOrAboveCritical} s`, `${z.secondsAboveSetpointPlus3} s`, dbaText(z.meanDba), dbaText(z.peakDba), fmt(z.reversalsPerMinute, 2)]),
          )}\n`,
        );
      }
      process.stdout.write(`${JSON.stringify({ profile: o.profile, ...r })}\n`);
    });
}
