/**
 * The thermal state as the API shows it: one TypeBox definition per shape gives the response
 * validation/serialisation, the TypeScript type and the OpenAPI document.
 */
import { MusicView, musicView } from '../music/view.ts';
import { performance } from 'node:perf_hooks';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { ZoneConfig } from '../config.ts';
import { ZoneTuning, withoutDefaults } from './tuning.ts';
import type { ThermalService } from './service.ts';
import { YieldView } from '../yield/view.ts';

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

export const AlarmView = Type.Object({
  kind: Type.String({ description: 'sensor-stale, sensor-missing, critical, nvidia-smi-down, cooler-link-lost, controller-error, controller-non-finite, not-started, daemon-stop, fan-stalled, tuning-not-saved, ...' }),
  subject: Type.String({ description: 'what it is about: gpuN, a fan id, the cooler, nvidia-smi, the zone' }),
  message: Type.String(),
  failsafe: Type.Boolean({ description: 'this alarm holds the zone fans at full' }),
  since: Type.String({ format: 'date-time' }),
});

export const FanView = Type.Object({
  id: Type.String(),
  duty: Type.Number({ description: 'duty the fan runs at, 0..1: as the cooler reports it (its own failsafe, a kick-start included) where it does, else as commanded' }),
  commanded: Type.Number({ description: 'duty the control loop commanded, 0..1' }),
  rpm: Nullable(Type.Number({ description: 'tach; null without tach or reading' })),
  minDuty: Type.Number({ description: 'effective minimum (raised after stalls)' }),
  kicking: Type.Boolean(),
  stalls: Type.Integer(),
});

export const SettingOriginView = Type.Object({
  source: Type.Union([Type.Literal('config'), Type.Literal('mode'), Type.Literal('tuning'), Type.Literal('autotune')]),
  mode: Type.Optional(Type.String({ description: 'the mode, for source mode' })),
  at: Type.Optional(Nullable(Type.String({ description: 'when it was applied (null: before this was recorded)' }))),
});

export const ZoneSettings = withoutDefaults(Type.Omit(ZoneConfig, ['id', 'gpus', 'fans']));

export const ZoneView = Type.Object({
  id: Type.String(),
  gpus: Type.Array(Type.Integer()),
  mode: Type.String(),
  setpoint: Type.Number({ description: 'PID setpoint, C' }),
  criticalCelsius: Type.Number(),
  temperature: Nullable(Type.Number({ description: 'zone temperature (max/mean of its GPUs), C' })),
  temperatures: Type.Array(Type.Object({ gpu: Type.Integer(), celsius: Nullable(Type.Number()), ageSeconds: Nullable(Type.Number()) })),
  sampleAgeSeconds: Nullable(Type.Number({ description: 'age of the oldest zone GPU sample' })),
  duty: Type.Number({ description: 'zone output duty, 0..1 (1 in failsafe)' }),
  demand: Nullable(Type.Number({ description: 'controller demand before limits and slew: in pid mode the signed sum p+i+d+ff, below 0 under the setpoint, above 1 far over it (the gance_zone_demand_ratio metric clamps it to 0..1)' })),
  stopped: Type.Boolean({ description: 'fans stopped on purpose (demand below stopBelowDuty)' }),
  terms: Type.Object({ p: Type.Number(), i: Type.Number(), d: Type.Number(), ff: Type.Number() }, { description: 'PID terms in duty units' }),
  ambient: Nullable(
    Type.Object(
      { celsius: Type.Number(), source: Type.Union([Type.Literal('thermistor'), Type.Literal('config')]) },
      { description: "intake air temperature the feed-forward scales by: the zone's ambientThermistor, or feedForward.ambientCelsius when it has no usable reading" },
    ),
  ),
  learned: Type.Object(
    {
      dutyPerWattFactor: Type.Number({ description: 'learned duty per watt / configured feedForward.dutyPerWatt (1: nothing learned)' }),
      dutyPerWatt: Type.Number({ description: 'the duty per watt the feed-forward uses now' }),
      learnedSeconds: Type.Number({ description: 'seconds of settled operation it has learned from (feedForward.learnSeconds; kept in the state directory)' }),
      rigs: Type.Array(
        Type.Object({
          gpu: Type.Integer(),
          heatCapacityJPerK: Type.Number({ description: 'heat capacity of die and heatsink, J/K' }),
          stillWPerK: Type.Number({ description: 'conductance to the air with the fans stopped, W/K' }),
          fullWPerK: Type.Number({ description: 'conductance to the air at full airflow, W/K' }),
          ambientOffsetC: Type.Number({ description: 'what the air at the fins has over the intake reading, C' }),
          timeConstantFullS: Type.Number({ description: 'time constant at full airflow, s' }),
          timeConstantStillS: Type.Number({ description: 'time constant with the fans stopped, s' }),
          updates: Type.Integer({ description: "20 s windows with power readings it learned from" }),
          rejected: Type.Integer({ description: 'of those, outliers (they count only up to a bound: a glitch moves little)' }),
          confidence: Type.Number({ description: '0..1, how far its uncertainty has shrunk from the prior (0: only the prior)' }),
        }),
        { description: 'per zone GPU, the heatsink identified while the zone runs (feedForward.identifySeconds; kept in the state directory): the feed-forward uses it' },
      ),
    },
    { description: 'what the zone has learned about this rig' },
  ),
  fans: Type.Array(FanView),
  failsafe: Type.Boolean(),
  alarms: Type.Array(AlarmView),
  settings: ZoneSettings,
  tuned: Nullable(ZoneTuning),
  persisted: Type.Boolean({ description: 'false: the run-time tuning in effect could not be saved to the state directory (see the tuning-not-saved alarm); a restart would go back to the last saved settings' }),
  tuningWarnings: Type.Array(Type.String(), { description: 'what the run-time tuning gives up against the config file (a later critical backstop, a lower ceiling, open-loop fans)' }),
  provenance: Type.Record(Type.String(), SettingOriginView, {
    description: 'where each setting (dotted path: mode, pid.setpoint, curve) comes from: the config file, a mode, a tuning (PATCH/PUT through the API or CLI) or an autotune result; the last one applied wins',
  }),
  music: MusicView,
});
export type ZoneView = Static<typeof ZoneView>;

export const GpuView = Type.Object({
  index: Type.Integer(),
  uuid: Type.String(),
  name: Type.String(),
  temperature: Nullable(Type.Number()),
  power: Nullable(Type.Number({ description: 'W' })),
  utilization: Nullable(Type.Number({ description: '0..1' })),
  throttleReasons: Type.Array(Type.String()),
  ageSeconds: Type.Number(),
  missing: Type.Boolean(),
  source: Type.String(),
  zones: Type.Array(Type.String(), { description: 'ids of the zones this GPU drives; empty: in no zone, its temperature drives no fans' }),
});

export const ThermalView = Type.Object({
  zones: Type.Array(ZoneView),
  gpus: Type.Array(GpuView),
  thermistors: Type.Array(Type.Object({ id: Type.String(), celsius: Nullable(Type.Number()) })),
  sensors: Type.Object({
    source: Type.String(),
    running: Type.Boolean(),
    restarts: Type.Integer(),
    failedSamples: Type.Integer(),
    reasonsField: Nullable(Type.String()),
    lastError: Nullable(Type.String()),
    staleAfterMs: Type.Integer(),
  }),
  cooler: Type.Object({ kind: Type.String(), linkUp: Type.Boolean(), deviceFailsafe: Nullable(Type.Boolean()), writeFailures: Type.Integer() }),
  failsafe: Type.Boolean({ description: 'some zone is held at full fans' }),
  loop: Type.Object({ periodMs: Type.Integer(), alive: Type.Boolean() }),
  yield: Nullable(YieldView),
  mode: Type.Object({ active: Nullable(Type.Object({ name: Type.String(), at: Type.String({ format: 'date-time' }) })) }, { description: 'the mode applied last (GET /v1/thermal/mode lists them)' }),
});
export type ThermalView = Static<typeof ThermalView>;

const finiteOrNull = (x: number | null | undefined) => (typeof x === 'number' && Number.isFinite(x) ? x : null);
const round = (x: number, digits = 4) => Number(x.toFixed(digits));

export function zoneView(service: ThermalService, id: string): ZoneView | undefined {
  const z = service.zoneSlot(id);
  if (!z) return undefined;
  const now = performance.now();
  const samples = service.source.latest();
  const rpm = new Map(service.coolerState()?.fans.map((f) => [f.id, f.rpm]) ?? []);
  const out = z.runtime.out;
  const applied = service.appliedDuties();
  const temperatures = z.config.gpus.map((g) => {
    const s = samples.get(g);
    return { gpu: g, celsius: s?.temperatureC ?? null, ageSeconds: s ? round((now - s.receivedAt) / 1000, 3) : null };
  });
  const ages = temperatures.map((t) => t.ageSeconds);
  return {
    id,
    gpus: z.config.gpus,
    mode: z.config.mode,
    setpoint: z.config.pid.setpoint,
    criticalCelsius: z.config.criticalCelsius,
    temperature: finiteOrNull(out?.temperature),
    temperatures,
    sampleAgeSeconds: ages.some((a) => a === null) ? null : Math.max(...(ages as number[])),
    duty: round(service.zoneDuty(id, applied)),
    demand: out ? round(out.demand) : null,
    stopped: out?.stopped ?? false,
    terms: out ? { p: round(out.terms.p), i: round(out.terms.i), d: round(out.terms.d), ff: round(out.terms.ff) } : { p: 0, i: 0, d: 0, ff: 0 },
    ambient: out ? { celsius: round(out.ambientC), source: out.ambientSource } : null,
    learned: {
      dutyPerWattFactor: round(z.learned.dutyPerWattFactor),
      dutyPerWatt: round(z.learned.dutyPerWattFactor * z.config.feedForward.dutyPerWatt, 6),
      learnedSeconds: Math.round(z.learned.learnedSeconds),
      rigs: z.rigs.map((r, k) => ({
        gpu: z.config.gpus[k]!,
        heatCapacityJPerK: round(r.heatCapacityJPerK, 1),
        stillWPerK: round(r.stillWPerK, 3),
        fullWPerK: round(r.fullWPerK, 3),
        ambientOffsetC: round(r.ambientOffsetC, 2),
        timeConstantFullS: round(r.timeConstantFullS, 1),
        timeConstantStillS: round(r.timeConstantStillS, 1),
        updates: r.updates,
        rejected: r.rejected,
        confidence: round(r.confidence, 3),
      })),
    },
    fans: z.config.fans.map((f) => ({
      id: f,
      duty: round(applied.get(f) ?? z.runtime.duties[f] ?? 1),
      commanded: round(z.runtime.duties[f] ?? 1),
      rpm: rpm.get(f) ?? null,
      minDuty: z.fanMinDuty[f] ?? 0,
      kicking: out?.fans[f]?.kicking ?? false,
      stalls: out?.fans[f]?.stalls ?? 0,
    })),
    failsafe: z.runtime.failsafe,
    alarms: z.runtime.alarms.map((a) => ({ ...a, since: new Date(a.since).toISOString() })),
    settings: Object.fromEntries(Object.entries(z.config).filter(([k]) => !['id', 'gpus', 'fans'].includes(k))) as ZoneView['settings'],
    tuned: z.tuned ?? null,
    persisted: z.persisted,
    tuningWarnings: z.tuningWarnings,
    provenance: z.provenance,
    music: musicView(service.music, id),
  };
}

export function thermalView(service: ThermalService): ThermalView {
  const now = performance.now();
  const info = service.gpuInfo();
  const missing = service.source.missing();
  const st = service.source.stats();
  const cs = service.coolerState();
  return {
    zones: service.zoneIds().map((id) => zoneView(service, id)!),
    gpus: [...service.source.latest().values()]
      .sort((a, b) => a.index - b.index)
      .map((s) => ({
        index: s.index,
        uuid: s.uuid,
        name: info.get(s.index)?.name ?? '',
        temperature: s.temperatureC,
        power: s.powerW,
        utilization: s.utilization,
        throttleReasons: s.throttleReasons,
        ageSeconds: round((now - s.receivedAt) / 1000, 3),
        missing: missing.has(s.index),
        source: s.source,
        zones: service.zonesOf(s.index),
      })),
    thermistors: cs?.thermistors ?? [],
    sensors: { source: service.source.kind, running: st.running, restarts: st.restarts, failedSamples: st.failedSamples, reasonsField: st.reasonsField, lastError: st.lastError, staleAfterMs: service.config.sensors.staleAfterMs },
    cooler: { kind: service.cooler.info.kind, linkUp: service.io.linkOk(), deviceFailsafe: cs?.failsafe ?? null, writeFailures: service.io.writeFailures },
    failsafe: service.zoneIds().some((id) => service.zoneSlot(id)!.runtime.failsafe),
    loop: { periodMs: service.periodMs, alive: service.alive() },
    yield: service.yielding?.view() ?? null,
    mode: { active: service.modeState().active },
  };
}
