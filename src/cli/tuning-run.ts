/**
 * What the tuning commands run (loaded by their actions only; src/cli/tuning.ts defines them).
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { loadConfigFile } from '../config/load.ts';
import { renderChart, zoneChart, zoneCsv, type ZoneChartRow } from '../thermal/charts/svg.ts';
import type { ZoneConfig } from '../thermal/config.ts';
import { createPlant } from '../thermal/plant/index.ts';
import type { ZoneView } from '../thermal/service/view.ts';
import { plantConfigFor } from '../thermal/sim/rig.ts';
import { autotune, tuningPatch, type AutotuneResult } from '../thermal/tuning/autotune.ts';
import { daemonZoneIo } from '../thermal/tuning/daemon-io.ts';
import { loadFanReport, measureFans, saveFanReport, type FanReport } from '../thermal/tuning/fan-measure.ts';
import { simulatedFanRig } from '../thermal/tuning/fan-rig.ts';
import { RULES } from '../thermal/tuning/gains.ts';
import { runStep } from '../thermal/tuning/step.ts';
import { plantZoneIo, TuningAbortedError, type ZoneIo, type ZoneSample } from '../thermal/tuning/zone-io.ts';
import { api, fmt, pct, table } from './thermal.ts';
import type { Where } from './tuning.ts';

const stamp = () => new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
const say = (s: string): void => void process.stdout.write(`${s}\n`);

interface OpenZone {
  io: ZoneIo;
  setpointC: number;
  minDuty: number;
  /** daemon: give the zone its settings back */
  restore(): Promise<void>;
  where: string;
}

async function openZone(o: Where, zoneId: string): Promise<OpenZone> {
  if (o.url) {
    const url = o.url;
    const io = daemonZoneIo((path, init) => api(url, path, init), zoneId);
    const z = await io.begin();
    // Interrupted (Ctrl-C, a timeout's SIGTERM): the zone must not stay at an experiment duty.
    const onSignal = (sig: NodeJS.Signals) => {
      process.stderr.write(`\n${sig}: zone ${zoneId} to full duty (fixed 1.0). Give it back with: gance thermal reset ${zoneId} --url ${url}\n`);
      void io.failsafe('interrupted').finally(() => process.exit(130));
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const release = () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    };
    return {
      io,
      setpointC: z.setpoint,
      minDuty: z.settings.minDuty ?? 0.2,
      restore: async () => {
        release();
        await io.restore();
      },
      where: `daemon ${url}`,
    };
  }
  const config = loadConfigFile(o.config);
  const zone = config.thermal.zones.find((z) => z.id === zoneId);
  if (!zone) throw new InvalidArgumentError(`no zone "${zoneId}" in ${o.config} (zones: ${config.thermal.zones.map((z) => z.id).join(', ')})`);
  const plant = createPlant(plantConfigFor(config.cooler.fans, config.thermal.zones, config.thermal.sensors.simulation.ambientC));
  plant.setLoad('all', o.watts);
  const io = plantZoneIo({ plant, gpus: zone.gpus, fans: zone.fans, periodS: config.thermal.sensors.intervalMs / 1000, aggregate: zone.aggregate });
  return { io, setpointC: zone.pid.setpoint, minDuty: (zone as ZoneConfig).minDuty, restore: async () => undefined, where: `the plant simulator (${o.watts} W, simulated time)` };
}

function writeZoneFiles(prefix: string, title: string, rows: ZoneChartRow[]): string[] {
  const csv = `${prefix}.csv`;
  const svg = `${prefix}.svg`;
  writeFileSync(csv, zoneCsv(rows as (ZoneChartRow & Record<string, unknown>)[]));
  writeFileSync(svg, zoneChart(title, rows));
  return [csv, svg];
}

const rowsOf = (samples: ZoneSample[], setpoint?: (s: ZoneSample) => number | null): ZoneChartRow[] =>
  samples.map((s) => ({ t: s.t, temperature: s.temperature, setpoint: setpoint?.(s) ?? null, duty: s.duty, rpm: s.rpm }));

/** keep an identified model in the daemon: its thermal page previews gains on it */
async function storeModel(o: Where, zone: string, f: { gain: number; timeConstantS: number; deadTimeS: number; r2: number; rmsC: number }): Promise<void> {
  if (!o.url) return;
  const body = { gain: f.gain, timeConstantS: f.timeConstantS, deadTimeS: f.deadTimeS, r2: Math.max(-1e6, f.r2), rmsC: f.rmsC, identifiedAt: new Date().toISOString(), source: 'identified' };
  await api(o.url, `/v1/thermal/zones/${encodeURIComponent(zone)}/model`, { method: 'PUT', body }).then(
    () => say(`model stored in the daemon (its thermal page previews gains on it)`),
    (err: Error) => process.stderr.write(`warning: the model was not stored in the daemon: ${err.message}\n`),
  );
}

/** a failed experiment on the daemon leaves the zone at full: say how to give it back */
function failed(o: Where, zone: string, err: unknown, samples: ZoneSample[], prefix: string): never {
  if (samples.length) say(`partial record: ${writeZoneFiles(prefix, `zone ${zone}: stopped`, rowsOf(samples)).join(', ')}`);
  if (o.url) process.stderr.write(`zone ${zone} is held at full duty (fixed 1.0). Give it back with: gance thermal reset ${zone} --url ${o.url} (the config file's settings) or gance thermal set ${zone} --mode pid --url ${o.url}\n`);
  process.exitCode = err instanceof TuningAbortedError ? 3 : 1;
  throw err;
}

export async function stepCommand(o: Where & { zone: string; from: number; to: number; abortAbove?: number }): Promise<void> {
  const z = await openZone(o, o.zone);
  const abortAboveC = o.abortAbove ?? z.setpointC + 5;
  const prefix = o.out ?? `gance-step-${o.zone}-${stamp()}`;
  say(`step on zone ${o.zone} through ${z.where}: hold ${pct(o.from)} until steady, then ${pct(o.to)}; fans to full above ${abortAboveC} C`);
  let last = -Infinity;
  const r = await runStep(z.io, {
    fromDuty: o.from,
    toDuty: o.to,
    abortAboveC,
    onSample: (s, phase) => {
      if (o.url && s.t - last >= 30) {
        last = s.t;
        say(`  ${fmt(s.t, 0, ' s')} ${phase} ${fmt(s.temperature, 1, ' C')} duty ${pct(s.duty)}`);
      }
    },
  }).catch((err: unknown) => failed(o, o.zone, err, err instanceof TuningAbortedError ? err.samples : [], prefix));
  await z.restore();
  const f = r.fit;
  await storeModel(o, o.zone, f);
  say(
    table(
      ['GAIN', 'TIME CONSTANT', 'DEAD TIME', 'R^2', 'RMS', 'FROM', 'TO', 'SETTLED'],
      [[`${fmt(f.gain, 2)} C/duty`, fmt(f.timeConstantS, 1, ' s'), fmt(f.deadTimeS, 1, ' s'), f.r2.toFixed(4), fmt(f.rmsC, 2, ' C'), fmt(f.initialC, 1, ' C'), fmt(f.finalC, 1, ' C'), r.settled ? 'yes' : 'NO (record cut at the limit)']],
    ),
  );
  say(`files: ${writeZoneFiles(prefix, `zone ${o.zone}: step ${pct(o.from)} -> ${pct(o.to)}`, rowsOf(r.samples)).join(', ')}`);
  say(JSON.stringify({ zone: o.zone, model: { gain: f.gain, timeConstantS: f.timeConstantS, deadTimeS: f.deadTimeS }, r2: f.r2, rmsC: f.rmsC, settled: r.settled }));
}

export function proposalsText(r: AutotuneResult): string {
  return table(
    ['RULE', 'KP', 'KI', 'KD', 'OVERSHOOT', 'SETTLING', 'OSCILLATES', 'DUTY TRAVEL', ''],
    r.proposals.map((p) => [
      p.rule,
      p.kp.toPrecision(3),
      p.ki.toPrecision(3),
      p.kd.toPrecision(3),
      fmt(p.expected.overshootC, 2, ' C'),
      p.expected.settlingS === null ? 'never' : fmt(p.expected.settlingS, 0, ' s'),
      p.expected.oscillating ? 'YES' : 'no',
      fmt(p.expected.dutyTravel, 2),
      p.rule === r.recommended ? '<- quiet fans' : '',
    ]),
  );
}

export async function autotuneCommand(o: Where & { zone: string; apply?: string; amplitude: number; maxExcursion: number; abortAbove?: number }): Promise<void> {
  if (o.apply !== undefined && !(RULES as readonly string[]).includes(o.apply)) throw new InvalidArgumentError(`--apply must be one of ${RULES.join(', ')}, got "${o.apply}"`);
  if (o.apply !== undefined && !o.url) throw new InvalidArgumentError('--apply changes a running daemon: give its --url');
  const z = await openZone(o, o.zone);
  const abortAboveC = o.abortAbove ?? z.setpointC + 5;
  const prefix = o.out ?? `gance-autotune-${o.zone}-${stamp()}`;
  say(`autotune of zone ${o.zone} through ${z.where}: step fit, then relay +-${pct(o.amplitude)} around ${z.setpointC} C (bound +-${o.maxExcursion} C, safety limit ${abortAboveC} C)`);
  const samples: { s: ZoneSample; phase: string }[] = [];
  let last = -Infinity;
  const r = await autotune(z.io, {
    setpointC: z.setpointC,
    abortAboveC,
    maxExcursionC: o.maxExcursion,
    amplitude: o.amplitude,
    minDuty: z.minDuty,
    onSample: (s, phase) => {
      samples.push({ s, phase });
      if (o.url && s.t - last >= 30) {
        last = s.t;
        say(`  ${fmt(s.t, 0, ' s')} ${phase} ${fmt(s.temperature, 1, ' C')} duty ${pct(s.duty)}`);
      }
    },
  }).catch((err: unknown) => failed(o, o.zone, err, samples.map((x) => x.s), prefix));
  await z.restore();
  const m = r.model;
  await storeModel(o, o.zone, m);
  say(`model: gain ${fmt(m.gain, 2)} C/duty, time constant ${fmt(m.timeConstantS, 1)} s, dead time ${fmt(m.deadTimeS, 1)} s (R^2 ${m.r2.toFixed(4)}, RMS ${fmt(m.rmsC, 2)} C)`);
  say(`relay: Ku ${r.relay.ku.toPrecision(3)} duty/C, Pu ${fmt(r.relay.pu, 1)} s, amplitude ${fmt(r.relay.amplitudeC, 2)} C, balancing duty ${pct(r.relay.biasDuty)}`);
  say(`expected response on the identified plant (plain PI(D), setpoint lowered 5 C):\n${proposalsText(r)}`);
  const files = writeZoneFiles(prefix, `zone ${o.zone}: autotune (step, then relay)`, samples.map(({ s, phase }) => ({ t: s.t, temperature: s.temperature, setpoint: phase === 'relay' ? z.setpointC : null, duty: s.duty, rpm: s.rpm })));
  const expected = `${prefix}-expected.svg`;
  const colour = ['#2ca02c', '#1f77b4', '#d62728', '#ff7f0e'];
  writeFileSync(
    expected,
    renderChart({
      title: `zone ${o.zone}: expected response of each proposal (setpoint lowered 5 C, C from the new setpoint)`,
      panels: [
        { left: { label: 'C from setpoint', series: r.proposals.map((p, k) => ({ name: p.rule, color: colour[k], points: p.expected.trace.map((x) => [x.t, x.temperature] as const) })) } },
        { left: { label: 'duty, %', min: 0, max: 100, series: r.proposals.map((p, k) => ({ name: p.rule, color: colour[k], points: p.expected.trace.map((x) => [x.t, x.duty * 100] as const) })) } },
      ],
    }),
  );
  say(`files: ${[...files, expected].join(', ')}`);
  if (o.apply) {
    const p = r.proposals.find((x) => x.rule === o.apply)!;
    const body = tuningPatch(p);
    // marked as an autotune result: the zone's provenance says so
    const zv = await api<ZoneView>(o.url!, `/v1/thermal/zones/${encodeURIComponent(o.zone)}?source=autotune`, { method: 'PATCH', body });
    say(`applied ${p.rule} to zone ${o.zone}: kp ${zv.settings.pid.kp}, ki ${zv.settings.pid.ki}, kiWithoutFeedForward ${zv.settings.pid.kiWithoutFeedForward}, kd ${zv.settings.pid.kd}${zv.persisted ? '' : ' (NOT saved: see the daemon log)'}`);
    if (!zv.persisted) process.exitCode = 4;
  } else say(`apply one with: gance thermal autotune ... --apply ${r.recommended} --url URL, or gance thermal set ${o.zone} --kp ... --ki ...`);
}

export function fanReportText(r: FanReport): string {
  const fans = table(
    ['FAN', 'RESULT', 'MAX RPM', 'MIN DUTY', 'START DUTY', 'PROBLEMS'],
    r.fans.map((f) => [f.id, f.pass ? 'pass' : 'FAIL', f.maxRpm === null ? '-' : String(f.maxRpm), f.minDuty === null ? '-' : pct(f.minDuty), f.startDuty === null ? '-' : pct(f.startDuty), f.problems.join('; ') || '-']),
  );
  const th = r.thermistors.length ? table(['THERMISTOR', 'RESULT', 'READS', 'PROBLEM'], r.thermistors.map((t) => [t.id, t.pass ? 'pass' : 'FAIL', fmt(t.celsius, 1, ' C'), t.problem ?? '-'])) : 'no thermistors';
  // rpm over duty, one bar per 10 %
  const bars = r.fans
    .filter((f) => f.maxRpm)
    .map((f) => {
      const lines = [`${f.id} rpm over duty:`];
      for (let d = 100; d >= 10; d -= 10) {
        const p = f.curve.find((x) => Math.abs(x.duty - d / 100) < 1e-6);
        if (!p) continue;
        const rpm = p.rpm ?? 0;
        lines.push(`  ${String(d).padStart(3)}% ${'#'.repeat(Math.round((rpm / f.maxRpm!) * 40)).padEnd(40)} ${rpm}`);
      }
      return lines.join('\n');
    });
  return [`measured ${r.measuredAt}: ${r.pass ? 'PASS' : 'FAIL'}`, fans, th, ...bars].join('\n\n');
}

function writeFanFiles(prefix: string, r: FanReport): string[] {
  const csv = `${prefix}.csv`;
  const svg = `${prefix}.svg`;
  writeFileSync(csv, `fan,duty,rpm\n${r.fans.flatMap((f) => f.curve.map((p) => `${f.id},${p.duty},${p.rpm ?? ''}`)).join('\n')}\n`);
  writeFileSync(
    svg,
    renderChart({
      title: `fans: rpm over duty (${r.measuredAt})`,
      timeLabel: 'duty, %',
      panels: [{ left: { label: 'rpm', min: 0, series: r.fans.map((f) => ({ name: f.id, points: [...f.curve].sort((a, b) => a.duty - b.duty).map((p) => [p.duty * 100, p.rpm] as const) })) } }],
    }),
  );
  return [csv, svg];
}

export async function fansMeasureCommand(o: { fan?: string[]; url?: string; config: string; out?: string }): Promise<void> {
  let report: FanReport;
  let saved: string | null;
  if (o.url) {
    const url = o.url;
    await api(url, '/v1/thermal/fans/measure', { method: 'POST', body: o.fan ? { fans: o.fan } : {} });
    let last = '';
    let s: { state: string; progress: { fan: string; phase: string; duty: number; rpm: number | null } | null; report: FanReport | null; error: string | null; savedTo: string | null };
    for (;;) {
      await new Promise((r) => setTimeout(r, 2000));
      s = await api(url, '/v1/thermal/fans/measure');
      const line = s.progress ? `${s.progress.fan} ${s.progress.phase}` : s.state;
      if (line !== last) say(`  ${line}${s.progress ? ` ${pct(s.progress.duty)} ${s.progress.rpm ?? '-'} rpm` : ''}`);
      last = line;
      if (s.state !== 'running') break;
    }
    if (!s.report) {
      process.exitCode = s.state === 'aborted' ? 3 : 1;
      throw new Error(`fan measurement ${s.state}: ${s.error ?? 'no report'} (every fan at full for 30 s, then back to thermal control)`);
    }
    report = s.report;
    saved = s.savedTo;
  } else {
    const config = loadConfigFile(o.config);
    if (config.cooler.driver !== 'simulated') {
      throw new InvalidArgumentError(`the cooler of ${o.config} is real (${config.cooler.driver}): measure it through the daemon that holds it and reads the GPUs (--url), so the setpoint + 5 C abort can work`);
    }
    const rig = await simulatedFanRig(config.cooler, config.thermal.zones);
    try {
      report = await measureFans(rig, { fans: o.fan });
    } finally {
      await rig.close();
    }
    const r = await saveFanReport(resolve(config.stateDir), report);
    saved = r.path;
    if (r.setAside) process.stderr.write(`warning: ${r.setAside.problem}; moved aside to ${r.setAside.to} (the other fans' figures are there); saved this measurement alone\n`);
  }
  say(fanReportText(report));
  say(`\nsaved: ${saved ?? 'not saved (the daemon has no state directory)'}; the daemon uses the measured figures from its next start`);
  say(`files: ${writeFanFiles(o.out ?? `gance-fans-${stamp()}`, report).join(', ')}`);
  if (!report.pass) process.exitCode = 1;
}

export async function fansShowCommand(o: { url?: string; config: string; out?: string; json?: boolean }): Promise<void> {
  let report: FanReport | null;
  if (o.url) report = (await api<{ report: FanReport | null }>(o.url, '/v1/thermal/fans')).report;
  else report = await loadFanReport(resolve(loadConfigFile(o.config).stateDir));
  if (!report) {
    say('no fan characterisation stored yet: run gance fans measure');
    process.exitCode = 1;
    return;
  }
  if (o.json) {
    say(JSON.stringify(report, null, 2));
    return;
  }
  say(fanReportText(report));
  if (o.out) say(`files: ${writeFanFiles(o.out, report).join(', ')}`);
}
