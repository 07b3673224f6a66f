/**
 * `gance thermal ...`: look at and tune a running daemon's thermal control, or run the plant and
 * the real controllers offline.
 *
 *   gance thermal status [--url URL] [--json]
 *   gance thermal set <zone> [--setpoint C] [--mode pid|curve|fixed] [--duty D] [--kp --ki --kd] [--url URL]
 *   gance thermal reset <zone> [--url URL]
 *   gance thermal simulate [--profile standard|idle|full] [--config FILE] [--setpoint C] [--mode M] [--every S] [--json]
 */
import { InvalidArgumentError, type Command } from 'commander';
import { DEFAULT_CONFIG_PATH, loadConfigFile } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import type { ZoneConfig } from '../thermal/config.ts';
import { countReversals, createZoneController, type ZonePatch } from '../thermal/control/index.ts';
import { constant, createPlant, standardBenchmarkProfile, type LoadProfile } from '../thermal/plant/index.ts';
import type { ThermalView, ZoneView } from '../thermal/service/view.ts';
import { plantConfigFor } from '../thermal/sim/rig.ts';

const DEFAULT_URL = 'http://127.0.0.1:9840';

function number(name: string, min: number, max: number) {
  return (v: string) => {
    const x = Number(v);
    if (!Number.isFinite(x) || x < min || x > max) throw new InvalidArgumentError(`${name} must be a number in ${min}..${max}, got "${v}"`);
    return x;
  };
}

async function api<T>(url: string, path: string, init?: { method: string; body?: unknown }): Promise<T> {
  let res: Response;
  try {
    res = await fetch(new URL(path, url), {
      method: init?.method ?? 'GET',
      headers: init?.body !== undefined ? { 'content-type': 'application/json' } : undefined,
      body: init?.body !== undefined ? JSON.stringify(init.body) : undefined,
      signal: AbortSignal.timeout(5000),
    });
  } catch (err) {
    throw new Error(`cannot reach the daemon at ${url} (${(err as Error).cause ? String((err as { cause: Error }).cause.message) : (err as Error).message}); is it running? (--url)`);
  }
  const body = (await res.json().catch(() => ({}))) as T & { message?: string };
  if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${path}: ${res.status} ${body.message ?? res.statusText}`);
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

const fmt = (x: number | null | undefined, digits = 1, unit = '') => (x === null || x === undefined || !Number.isFinite(x) ? '-' : `${x.toFixed(digits)}${unit}`);
const pct = (x: number) => `${Math.round(x * 100)}%`;

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
  return [zones, '', fans, '', gpus, '', sensors, cooler].join('\n');
}

// ---- offline simulation ----

export interface SimulateOptions {
  config: Config;
  profile: 'standard' | 'idle' | 'full';
  patch?: ZonePatch;
  /** seconds of simulated time; default the profile's length */
  seconds?: number;
  /** print a timeline row every this many simulated seconds (0: none) */
  every?: number;
  out?: (line: string) => void;
}

export interface SimulateZoneResult {
  zone: string;
  peakC: number;
  secondsAtOrAboveCritical: number;
  secondsAboveSetpointPlus3: number;
  meanDba: number;
  peakDba: number;
  reversalsPerMinute: number;
  failsafeSteps: number;
}

function loadProfile(name: SimulateOptions['profile']): LoadProfile {
  return name === 'standard' ? standardBenchmarkProfile() : constant(name === 'full' ? 150 : 30, 1800);
}

/**
 * The real zone controllers against the plant, stepped at the configured loop period with
 * simulated time (no waiting). Sensors read like nvidia-smi: whole degrees.
 */
export function simulate(opts: SimulateOptions): { seconds: number; zones: SimulateZoneResult[] } {
  const { config } = opts;
  const out = opts.out ?? (() => {});
  const zones: ZoneConfig[] = config.thermal.zones.map((z) => ({ ...z }));
  const plant = createPlant(plantConfigFor(config.cooler.fans, zones, config.thermal.sensors.simulation.ambientC));
  const profile = loadProfile(opts.profile);
  plant.setLoad('all', profile);
  const controllers = zones.map((z) => {
    const c = createZoneController(z, config.cooler.fans);
    if (opts.patch) c.update(opts.patch);
    return c;
  });
  for (const f of config.cooler.fans) plant.setDuty(f.id, 1);
  const dt = config.thermal.periodMs / 1000;
  const total = opts.seconds ?? profile.durationSeconds;
  const steps = Math.round(total / dt);
  const warmup = Math.min(120, total / 4);
  const acc = zones.map(() => ({ peak: -Infinity, crit: 0, above: 0, energy: 0, peakDba: -Infinity, duties: [] as { t: number; duty: number }[], failsafe: 0 }));
  const every = opts.every ?? 0;
  if (every > 0) out(table(['T', ...zones.flatMap((z) => [`${z.id} W`, `${z.id} C`, `${z.id} DUTY`, `${z.id} dBA`])], []));
  for (let k = 0; k < steps; k++) {
    const t = k * dt;
    const hint = profile.hints.find((h) => t >= h.at && t < h.at + h.seconds);
    const row: string[] = [`${t.toFixed(0)} s`];
    zones.forEach((z, i) => {
      const gpus = z.gpus.map((g) => plant.gpu(g));
      const res = controllers[i]!.step({
        now: t,
        temps: gpus.map((g) => Math.round(g.temperatureC)),
        powerW: gpus.map((g) => g.powerW),
        loadHintW: hint?.watts,
        fanRpm: Object.fromEntries(z.fans.map((f) => [f, plant.fan(f).rpm])),
      });
      for (const [f, d] of Object.entries(res.fanDuties)) plant.setDuty(f, d);
      const a = acc[i]!;
      const trueT = Math.max(...gpus.map((g) => g.temperatureC));
      a.peak = Math.max(a.peak, trueT);
      if (trueT >= z.criticalCelsius) a.crit += dt;
      if (trueT > res.setpoint + 3) a.above += dt;
      if (res.failsafe) a.failsafe += 1;
      a.duties.push({ t, duty: res.duty });
      const l = Math.max(-200, 10 * Math.log10(z.fans.reduce((e, f) => e + 10 ** (plant.fan(f).noiseDba / 10), 0) || 1e-20));
      a.energy += 10 ** (l / 10) * dt;
      a.peakDba = Math.max(a.peakDba, l);
      if (every > 0 && k % Math.round(every / dt) === 0) row.push(fmt(gpus[0]!.powerW, 0), fmt(trueT, 1), pct(res.duty), l < -100 ? 'off' : fmt(l, 1));
    });
    if (row.length > 1) out(row.join('  '));
    // (rows are space-joined, not padded: a long timeline streams)
    plant.step(dt);
  }
  return {
    seconds: total,
    zones: zones.map((z, i) => {
      const a = acc[i]!;
      const minutes = Math.max(1e-9, (total - warmup) / 60);
      return {
        zone: z.id,
        peakC: Number(a.peak.toFixed(2)),
        secondsAtOrAboveCritical: Number(a.crit.toFixed(1)),
        secondsAboveSetpointPlus3: Number(a.above.toFixed(1)),
        meanDba: Number((10 * Math.log10(a.energy / total)).toFixed(2)),
        peakDba: Number(a.peakDba.toFixed(2)),
        reversalsPerMinute: Number((countReversals(a.duties, { deadband: 0.02, from: warmup }) / minutes).toFixed(3)),
        failsafeSteps: a.failsafe,
      };
    }),
  };
}

export function register(program: Command): void {
  const thermal = program.command('thermal').description('thermal control: status, run-time tuning, offline simulation');

  thermal
    .command('status')
    .description("print every zone, fan and GPU of a running daemon's thermal control")
    .option('--url <url>', 'daemon API address', DEFAULT_URL)
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
    .option('--url <url>', 'daemon API address', DEFAULT_URL)
    .option('--setpoint <celsius>', 'PID setpoint', number('--setpoint', -40, 150))
    .option('--mode <mode>', 'pid, curve or fixed')
    .option('--duty <ratio>', 'fixed-mode duty 0..1', number('--duty', 0, 1))
    .option('--kp <n>', 'duty per C', number('--kp', 0, 10))
    .option('--ki <n>', 'duty per C*s', number('--ki', 0, 10))
    .option('--kd <n>', 'duty per C/s', number('--kd', 0, 100))
    .action(async (zone: string, o: { url: string; setpoint?: number; mode?: string; duty?: number; kp?: number; ki?: number; kd?: number }) => {
      const patch: Record<string, unknown> = {};
      const pid: Record<string, number> = {};
      if (o.setpoint !== undefined) pid.setpoint = o.setpoint;
      if (o.kp !== undefined) pid.kp = o.kp;
      if (o.ki !== undefined) pid.ki = o.ki;
      if (o.kd !== undefined) pid.kd = o.kd;
      if (Object.keys(pid).length) patch.pid = pid;
      if (o.mode !== undefined) patch.mode = o.mode;
      if (o.duty !== undefined) patch.fixedDuty = o.duty;
      if (Object.keys(patch).length === 0) throw new InvalidArgumentError('nothing to change: give --setpoint, --mode, --duty, --kp, --ki or --kd');
      const z = await api<ZoneView>(o.url, `/v1/thermal/zones/${encodeURIComponent(zone)}`, { method: 'PATCH', body: patch });
      process.stdout.write(`${z.id}: mode ${z.mode}, setpoint ${z.setpoint} C, kp ${z.settings.pid.kp}, ki ${z.settings.pid.ki}, kd ${z.settings.pid.kd}, fixed duty ${z.settings.fixedDuty}\n`);
      sayTuningNotes(z);
    });

  thermal
    .command('reset')
    .description("put a zone back to the config file's settings")
    .argument('<zone>', 'zone id')
    .option('--url <url>', 'daemon API address', DEFAULT_URL)
    .action(async (zone: string, o: { url: string }) => {
      const z = await api<ZoneView>(o.url, `/v1/thermal/zones/${encodeURIComponent(zone)}/tuning`, { method: 'DELETE' });
      process.stdout.write(`${z.id}: back to the config file (mode ${z.mode}, setpoint ${z.setpoint} C)\n`);
      sayTuningNotes(z);
    });

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
    .action((o: { config: string; profile: string; setpoint?: number; mode?: string; seconds?: number; every: number; json?: boolean }) => {
      if (!['standard', 'idle', 'full'].includes(o.profile)) throw new InvalidArgumentError(`--profile must be standard, idle or full, got "${o.profile}"`);
      if (o.mode !== undefined && !['pid', 'curve', 'fixed'].includes(o.mode)) throw new InvalidArgumentError(`--mode must be pid, curve or fixed, got "${o.mode}"`);
      const config = loadConfigFile(o.config);
      const patch: ZonePatch = {};
      if (o.setpoint !== undefined) patch.pid = { setpoint: o.setpoint };
      if (o.mode !== undefined) patch.mode = o.mode as ZonePatch['mode'];
      const lines: string[] = [];
      const r = simulate({ config, profile: o.profile as SimulateOptions['profile'], patch, seconds: o.seconds, every: o.json ? 0 : o.every, out: (l) => lines.push(l) });
      if (!o.json) {
        process.stdout.write(`${lines.join('\n')}\n\n`);
        process.stdout.write(
          `${table(
            ['ZONE', 'PEAK', '>= CRITICAL', '> SETPOINT+3', 'MEAN dBA', 'PEAK dBA', 'REVERSALS/MIN'],
            r.zones.map((z) => [z.zone, fmt(z.peakC, 1, ' C'), `${z.secondsAtOrAboveCritical} s`, `${z.secondsAboveSetpointPlus3} s`, fmt(z.meanDba, 1), fmt(z.peakDba, 1), fmt(z.reversalsPerMinute, 2)]),
          )}\n`,
        );
      }
      process.stdout.write(`${JSON.stringify({ profile: o.profile, ...r })}\n`);
    });
}
