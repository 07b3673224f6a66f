/**
 * Music-aware cooling benchmark (issue 14): audible fan seconds, music-blind vs music-aware, at
 * equal peak temperature.
 *
 * Plant: one K80-like GPU under three 40 mm fans (src/thermal/plant, 30 C air, whole-degree
 * temperature readings, power readings with 0.5 W noise). Load: idle (30 W) for 60 s, then a render
 * at 150 W for the whole track, with the usual load hint (150 W, 30 s) when it starts; the track
 * plays from the render's start (a render at the track's own pace, or a set playing it).
 *
 * Tracks: loudness envelopes with quiet and loud passages, per second, mapped so the loudest second
 * is 95 dBA at the listener (src/thermal/music/loudness.ts). Five are synthesised as envelopes
 * (seeded); one is audio made by ffmpeg (a chord whose level steps between loud and quiet) and run
 * through the real analysis (src/latents prepareOffline -> per-frame RMS -> loudnessSchedule), as a
 * render does.
 *
 * Controllers: the zone controller (src/thermal/control, default tuning) at several setpoints,
 * music-blind; the same with the noise budget (src/thermal/music, default config) fed the
 * track's schedule 60 s before the render starts, as the render pipeline announces it after its
 * analysis.
 *
 * A second rig, off the budget's model (20% less conductance, 30% less heat capacity: a dusty
 * heatsink), runs the same tracks at fewer setpoints to show what model error costs.
 *
 * Audible second: the fans' level at the listener (their data at 1 m, 50 log10 of the rpm share,
 * energy mean over the second) above the music's level that second minus 10 dB. Counted over the
 * track. Equal peak: per track, the blind controller's audible seconds are interpolated (linearly
 * in peak temperature between its setpoints) at the aware run's peak; the figure is the sum over
 * tracks, aware / blind-at-equal-peak. Target: <= 0.5.
 *
 * Run: node --import tsx test/bench/thermal-music.ts   (THERMAL_MUSIC_QUICK=1: fewer setpoints)
 * Last line: one JSON object.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { LatentsConfig } from '../../src/latents/config.ts';
import { prepareOffline } from '../../src/latents/offline.ts';
import { ZoneConfig } from '../../src/thermal/config.ts';
import { createZoneController } from '../../src/thermal/control/index.ts';
import { NoiseBudget } from '../../src/thermal/music/budget.ts';
import { MusicConfig } from '../../src/thermal/music/config.ts';
import { loudnessSchedule } from '../../src/thermal/music/loudness.ts';
import { createPlant, fanConfigsFor, k80Rig, profile, rng, type PlantConfig } from '../../src/thermal/plant/index.ts';

const PLANT_DT = 0.1;
const PERIOD = 0.2;
const LEAD_IN = 60;
const AUDIBLE_BELOW_DB = 10;

const rig = k80Rig({ gpus: 1, fansPerGpu: 3, ambientC: 30, seed: 7, powerNoiseW: 0.5 });
/**
 * The same rig off the budget's model (its defaults are the K80 figures): a dusty heatsink with 20%
 * less conductance and 30% less heat capacity (faster, hotter), to show what model error costs.
 */
const mismatched: PlantConfig = {
  ...rig,
  gpus: rig.gpus.map((g) => ({ ...g, heatCapacityJPerK: g.heatCapacityJPerK * 0.7, conductanceStillWPerK: g.conductanceStillWPerK * 0.8, conductanceFullWPerK: g.conductanceFullWPerK * 0.8 })),
};
const fanConfigs = fanConfigsFor(rig, { minDuty: 0.2, startDuty: 0.5 });
const fanIds = fanConfigs.map((f) => f.id);
const allocFans = fanConfigs.map((f) => ({ id: f.id, maxRpm: f.maxRpm, minDuty: f.minDuty, startDuty: f.startDuty, maxDba: f.maxDba }));

// ---- tracks ----

type Kind = 'loud' | 'mid' | 'quiet' | 'soft' | 'break';
const RANGE: Record<Kind, [number, number]> = { loud: [84, 95], mid: [62, 72], quiet: [38, 46], soft: [30, 36], break: [18, 24] };

function envelope(name: string, seed: number, sections: Array<[Kind, number]>): { name: string; levels: number[] } {
  const r = rng(seed);
  const levels: number[] = [];
  for (const [kind, seconds] of sections) {
    const [lo, hi] = RANGE[kind];
    let l = (lo + hi) / 2;
    for (let s = 0; s < seconds; s++) {
      l = Math.max(lo, Math.min(hi, l + (r() - 0.5) * 3));
      levels.push(l);
    }
  }
  const top = Math.max(...levels);
  return { name, levels: levels.map((l) => l + 95 - top) };
}

const repeat = <T,>(n: number, xs: T[]): T[] => Array.from({ length: n }, () => xs).flat();

const TRACKS = [
  envelope('verse-chorus', 1, repeat(6, [['quiet', 60], ['loud', 90]] as Array<[Kind, number]>)),
  envelope('ambient-intro', 2, [['soft', 240], ['loud', 300], ['quiet', 180], ['loud', 240], ['soft', 120], ['loud', 120]]),
  envelope('breaks', 3, repeat(5, [['loud', 120], ['break', 20], ['mid', 60], ['break', 10]] as Array<[Kind, number]>)),
  envelope('classical', 4, [['quiet', 300], ['mid', 120], ['loud', 60], ['soft', 200], ['mid', 90], ['loud', 120], ['quiet', 150]]),
  envelope('slow-build', 5, [['soft', 120], ['quiet', 120], ['mid', 180], ['loud', 240], ['quiet', 90], ['loud', 180]]),
];

/** audio made by ffmpeg, analysed by the real latents pipeline (per-frame RMS), as a render does */
async function ffmpegTrack(): Promise<{ name: string; levels: number[]; analysisSeconds: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'gance-music-bench-'));
  try {
    const wav = join(dir, 'track.wav');
    // 600 s: a chord, loud for 90 s then quiet for 60 s; the quiet levels step down (-50, -58, -64 dB)
    const gain = "if(lt(mod(t,150),90),1,if(lt(t,300),0.0032,if(lt(t,450),0.00126,0.00063)))";
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', `aevalsrc=exprs='(0.4*sin(2*PI*220*t)+0.3*sin(2*PI*277*t)+0.2*sin(2*PI*330*t))*${gain}':s=22050:d=600`, '-ac', '1', wav]);
    const t0 = performance.now();
    const config = Value.Default(LatentsConfig, Value.Clone({ resampler: 'ffmpeg', analysisThreads: 1 })) as LatentsConfig;
    const plan = await prepareOffline({ files: [wav], config, richFeatures: false, helperThread: false });
    const analysisSeconds = (performance.now() - t0) / 1000;
    return { name: 'ffmpeg-chord (real analysis)', levels: loudnessSchedule(plan.rms, config.fps), analysisSeconds };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- one run ----

interface Run {
  rig: string;
  track: string;
  setpoint: number;
  aware: boolean;
  peakC: number;
  audibleSeconds: number;
  meanDba: number;
  secondsAboveSetpoint: number;
}

function run(rigName: string, plantConfig: PlantConfig, track: { name: string; levels: number[] }, setpoint: number, aware: boolean, music: MusicConfig): Run {
  const plant = createPlant(plantConfig);
  const seconds = track.levels.length;
  plant.setLoad(0, profile([{ seconds: LEAD_IN, watts: 30 }, { seconds, watts: 150 }]));
  const base = Value.Default(ZoneConfig, Value.Clone({ id: 'gpu0', gpus: [0], fans: fanIds })) as ZoneConfig;
  const zone = createZoneController(base, fanConfigs);
  zone.update({ pid: { setpoint } });
  const cfg = zone.state().config;
  const budget = new NoiseBudget(allocFans, music);
  // the render announces its track after its analysis, LEAD_IN s before its frames (and the music) start
  if (aware) budget.set({ levelsDba: track.levels, positionS: -LEAD_IN, anchorS: 0, rate: 1, loop: false });
  const steps = Math.round((LEAD_IN + seconds) / PLANT_DT);
  const every = Math.round(PERIOD / PLANT_DT);
  const perSecond = Math.round(1 / PLANT_DT);
  let peakC = -Infinity;
  let audible = 0;
  let above = 0;
  let energy = 0;
  let secEnergy = 0;
  let counted = 0;
  let lastDuty: number | undefined;
  for (let k = 0; k < steps; k++) {
    const now = k * PLANT_DT;
    if (k % every === 0) {
      const g = plant.gpu(0);
      const temp = Math.round(g.temperatureC);
      const hintW = now >= LEAD_IN && now < LEAD_IN + 30 ? 150 : undefined;
      const b = aware
        ? budget.step({ nowS: now, temperature: temp, watts: Math.max(hintW ?? 0, g.powerW), ambientC: cfg.feedForward.ambientCelsius, duty: lastDuty, zone: { setpoint, criticalCelsius: cfg.criticalCelsius, minDuty: cfg.minDuty, maxDuty: cfg.maxDuty, sensorResolutionCelsius: cfg.pid.sensorResolutionCelsius } })
        : null;
      const out = zone.step({ now, temps: [temp], powerW: [Math.round(g.powerW * 100) / 100], loadHintW: hintW, fanRpm: Object.fromEntries(plant.fans().map((f) => [f.id, f.rpm])), budget: b });
      for (const id of fanIds) plant.setDuty(id, out.fanDuties[id] ?? 0);
      lastDuty = out.duty;
    }
    plant.step(PLANT_DT);
    const t = plant.gpu(0).temperatureC;
    if (now < LEAD_IN) continue;
    peakC = Math.max(peakC, t);
    if (t > setpoint) above += PLANT_DT;
    const l = plant.noiseDba();
    const e = Number.isFinite(l) ? 10 ** (l / 10) : 0;
    secEnergy += e;
    energy += e;
    counted++;
    if ((k + 1) % perSecond === 0) {
      const second = Math.floor(now - LEAD_IN + 1e-6);
      const fan = secEnergy > 0 ? 10 * Math.log10(secEnergy / perSecond) : -Infinity;
      const music = track.levels[second];
      if (music !== undefined && fan > music - AUDIBLE_BELOW_DB) audible++;
      secEnergy = 0;
    }
  }
  return { rig: rigName, track: track.name, setpoint, aware, peakC, audibleSeconds: audible, meanDba: energy > 0 ? 10 * Math.log10(energy / counted) : -Infinity, secondsAboveSetpoint: Math.round(above) };
}

/** blind audible seconds at a peak temperature, linear between its setpoints (clamped at the ends) */
function blindAt(blind: Run[], peakC: number): number {
  const pts = [...blind].sort((a, b) => a.peakC - b.peakC);
  if (peakC <= pts[0]!.peakC) return pts[0]!.audibleSeconds;
  for (let k = 1; k < pts.length; k++) {
    const a = pts[k - 1]!;
    const b = pts[k]!;
    if (peakC <= b.peakC) return a.audibleSeconds + ((b.audibleSeconds - a.audibleSeconds) * (peakC - a.peakC)) / (b.peakC - a.peakC || 1);
  }
  return pts[pts.length - 1]!.audibleSeconds;
}

const quick = process.env.THERMAL_MUSIC_QUICK === '1';
const blindSetpoints = quick ? [74, 78, 82] : [72, 74, 76, 78, 80, 82, 84];
const awareSetpoints = quick ? [76, 80] : [74, 76, 78, 80, 82];
const music = Value.Default(MusicConfig, Value.Clone({ enabled: true, ...(process.env.THERMAL_MUSIC_CONFIG ? JSON.parse(process.env.THERMAL_MUSIC_CONFIG) : {}) })) as MusicConfig;

const t0 = performance.now();
const real = await ffmpegTrack();
const tracks = [...TRACKS, real];
const RIGS: Array<{ name: string; plant: PlantConfig; blind: number[]; aware: number[] }> = [
  { name: 'k80', plant: rig, blind: blindSetpoints, aware: awareSetpoints },
  { name: 'k80-dusty (off the model)', plant: mismatched, blind: [74, 78, 82], aware: [76, 80] },
];
const runs: Run[] = [];
for (const r of RIGS) {
  for (const tr of tracks) {
    for (const sp of r.blind) runs.push(run(r.name, r.plant, tr, sp, false, music));
    for (const sp of r.aware) runs.push(run(r.name, r.plant, tr, sp, true, music));
  }
}
const elapsed = (performance.now() - t0) / 1000;

const fmt = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : String(x));
console.log(`thermal-music benchmark: ${tracks.length} tracks (${tracks.map((t) => `${t.name} ${t.levels.length} s`).join(', ')}), ${runs.length} runs in ${elapsed.toFixed(1)} s (real analysis ${real.analysisSeconds.toFixed(1)} s)`);
console.log('');
console.log('rig                        track                         ctl     sp   peak C  audible s  mean dBA  s>setpoint');
for (const r of runs) {
  console.log(`${r.rig.padEnd(26)} ${r.track.padEnd(29)} ${(r.aware ? 'aware' : 'blind').padEnd(6)} ${String(r.setpoint).padStart(3)}  ${fmt(r.peakC, 2).padStart(7)}  ${String(r.audibleSeconds).padStart(9)}  ${fmt(r.meanDba, 2).padStart(8)}  ${String(r.secondsAboveSetpoint).padStart(10)}`);
}

const summary = RIGS.map((rg) => ({
  rig: rg.name,
  perSetpoint: rg.aware.map((sp) => {
    const rows = tracks.map((tr) => {
      const a = runs.find((r) => r.rig === rg.name && r.aware && r.setpoint === sp && r.track === tr.name)!;
      const blind = runs.filter((r) => r.rig === rg.name && !r.aware && r.track === tr.name);
      return { track: tr.name, peakC: a.peakC, aware: a.audibleSeconds, blindAtEqualPeak: blindAt(blind, a.peakC) };
    });
    const aware = rows.reduce((s, r) => s + r.aware, 0);
    const blind = rows.reduce((s, r) => s + r.blindAtEqualPeak, 0);
    return { setpoint: sp, awareAudibleSeconds: aware, blindAudibleSecondsAtEqualPeak: Math.round(blind * 10) / 10, ratio: blind > 0 ? aware / blind : null, maxPeakC: Math.max(...rows.map((r) => r.peakC)), rows };
  }),
}));
console.log('');
for (const rg of summary) {
  for (const p of rg.perSetpoint) {
    console.log(`${rg.rig}: aware @${p.setpoint} C: ${p.awareAudibleSeconds} audible s vs blind ${fmt(p.blindAudibleSecondsAtEqualPeak)} at equal peak (ratio ${p.ratio === null ? 'n/a' : fmt(p.ratio, 3)}); max peak ${fmt(p.maxPeakC, 2)} C`);
    for (const r of p.rows) console.log(`    ${r.track.padEnd(29)} peak ${fmt(r.peakC, 2)}  aware ${r.aware}  blind@equal-peak ${fmt(r.blindAtEqualPeak)}`);
  }
}
const perSetpoint = summary[0]!.perSetpoint;
const worstOff = Math.max(...summary[1]!.perSetpoint.map((p) => p.ratio ?? Infinity));
const worst = Math.max(...perSetpoint.map((p) => p.ratio ?? Infinity));
const round = (x: number, d = 3) => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : null);
console.log('');
console.log(`worst ratio over setpoints ${fmt(worst, 3)} (target <= 0.5): ${worst <= 0.5 ? 'PASS' : 'FAIL'}; off the model (dusty rig) ${fmt(worstOff, 3)}`);
console.log(
  JSON.stringify({
    bench: 'thermal-music',
    tracks: tracks.map((t) => ({ name: t.name, seconds: t.levels.length })),
    elapsedSeconds: round(elapsed, 1),
    music: { ...music },
    rigs: summary.map((rg) => ({
      rig: rg.rig,
      perSetpoint: rg.perSetpoint.map((p) => ({ setpoint: p.setpoint, awareAudibleSeconds: p.awareAudibleSeconds, blindAudibleSecondsAtEqualPeak: p.blindAudibleSecondsAtEqualPeak, ratio: round(p.ratio ?? NaN), maxPeakC: round(p.maxPeakC, 2) })),
    })),
    runs: runs.map((r) => ({ ...r, peakC: round(r.peakC, 2), meanDba: round(r.meanDba, 2) })),
    worstRatio: round(worst),
    worstRatioOffModel: round(worstOff),
    pass: worst <= 0.5,
  }),
);
