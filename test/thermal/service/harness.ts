/**
 * The thermal service wired the way the daemon wires it in simulated mode: the plant in real
 * time, the simulated cooler on it, the fake nvidia-smi printing it, the real parser, service,
 * API plugin and metrics. Timings are shortened so faults show within a second.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../../src/api/app.ts';
import { resolveConfig } from '../../../src/config/load.ts';
import type { Config } from '../../../src/config/schema.ts';
import type { Cooler } from '../../../src/cooler/cooler.ts';
import { SimulatedCooler } from '../../../src/cooler/simulated.ts';
import { createEventBus } from '../../../src/events.ts';
import { createRegistry } from '../../../src/metrics.ts';
import { thermalApi } from '../../../src/thermal/api.ts';
import type { ZoneController } from '../../../src/thermal/control/index.ts';
import { registerThermalMetrics } from '../../../src/thermal/metrics.ts';
import { SimulatedSmiSource } from '../../../src/thermal/sensors/simulated.ts';
import { ThermalService, type ThermalServiceOptions } from '../../../src/thermal/service/service.ts';
import { SimRig, plantConfigFor, type SimProfile } from '../../../src/thermal/sim/rig.ts';
import type { ThermalView, ZoneView } from '../../../src/thermal/service/view.ts';
import { expect } from 'vitest';
import { until } from '../sensors/helpers.ts';

export { until };

export interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

export interface HarnessOptions {
  gpus?: number;
  profile?: SimProfile;
  /** merged into every zone */
  zone?: Record<string, unknown>;
  thermal?: Record<string, unknown>;
  sensors?: Record<string, unknown>;
  /** another cooler than the simulated one on the plant (the plant's fans then get no duties), opened */
  coolerFactory?: (config: Config['cooler']) => Promise<Cooler>;
  /** merged into the cooler section (e.g. a longer watchdogSeconds, which bounds thermal.periodMs) */
  cooler?: Record<string, unknown>;
  stateDir?: string;
  controllerFactory?: ThermalServiceOptions['controllerFactory'];
  start?: boolean;
  /** GPUs on the simulated rig that no zone lists (still air: under no fan) */
  unzonedGpus?: number[];
}

export type Harness = Awaited<ReturnType<typeof harness>>;

export async function harness(opts: HarnessOptions = {}) {
  const gpus = opts.gpus ?? 1;
  const fans: { id: string; channel: number }[] = [];
  const zones: Record<string, unknown>[] = [];
  for (let g = 0; g < gpus; g++) {
    const ids = ['a', 'b', 'c'].map((s) => `gpu${g}-${s}`);
    ids.forEach((id, k) => fans.push({ id, channel: g * 3 + k }));
    zones.push({ id: `gpu${g}`, gpus: [g], fans: ids, mode: 'fixed', fixedDuty: 0.4, slewDownPerSecond: 5, ...opts.zone });
  }
  const stateDir = opts.stateDir ?? mkdtempSync(join(tmpdir(), 'gance-thermal-'));
  const config: Config = resolveConfig({
    stateDir,
    cooler: { driver: 'simulated', watchdogSeconds: 0.5, fans, thermistors: [{ id: 'sink0', channel: 0 }], ...opts.cooler },
    thermal: {
      periodMs: 50,
      coolerTimeoutMs: 200,
      history: { seconds: 60, intervalMs: 100 },
      sensors: { source: 'simulated', intervalMs: 100, staleAfterMs: 1500, silentAfterMs: 2500, restartMinMs: 100, restartMaxMs: 1000, ...opts.sensors },
      zones,
      ...opts.thermal,
    },
  });

  const logs: LogLine[] = [];
  const log = pino(
    { level: 'debug' },
    new Writable({
      write(chunk, _enc, cb) {
        for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line) as LogLine);
        cb();
      },
    }),
  );
  const t = config.thermal;
  const rig = new SimRig({ plant: plantConfigFor(config.cooler.fans, [...t.zones, ...(opts.unzonedGpus ?? []).map((g) => ({ gpus: [g], fans: [] }))], 30), profile: opts.profile ?? 'idle' });
  let cooler: Cooler;
  if (opts.coolerFactory) cooler = await opts.coolerFactory(config.cooler);
  else {
    const sim = new SimulatedCooler(config.cooler);
    sim.attachPlant(rig);
    await sim.open();
    cooler = sim;
  }
  const s = t.sensors;
  const source = new SimulatedSmiSource(rig, { intervalMs: s.intervalMs, silentAfterMs: s.silentAfterMs ?? s.staleAfterMs, restartMinMs: s.restartMinMs, restartMaxMs: s.restartMaxMs, log: log.child({ part: 'sensors' }) });
  const events = createEventBus();
  const registry = createRegistry();
  const service = new ThermalService({
    config: t,
    fans: config.cooler.fans,
    cooler,
    source,
    log,
    events,
    stateDir,
    controllerFactory: opts.controllerFactory,
    onLoadHint: (g, w, sec) => rig.hint(g, w, sec),
    thermistors: config.cooler.thermistors.map((th) => th.id),
  });
  registerThermalMetrics(registry, service);
  // every read sees the state of the moment (the daemon's /metrics reuses an exposition for server.metricsCacheMs)
  const app: FastifyInstance = await buildApp({ registry, plugins: [thermalApi(service)], notReady: () => (service.ready() ? [] : ['thermal']), limits: { metricsCacheMs: 0 } });
  if (opts.start !== false) await service.start();

  const h = {
    config,
    stateDir,
    rig,
    // the simulated one unless the test brought its own (and then knows what it is)
    cooler: cooler as SimulatedCooler,
    source,
    service,
    events,
    registry,
    app,
    logs,
    async state(): Promise<ThermalView> {
      const r = await app.inject('/v1/thermal');
      if (r.statusCode !== 200) throw new Error(`GET /v1/thermal: ${r.statusCode} ${r.body}`);
      return r.json() as ThermalView;
    },
    async zone(id = 'gpu0'): Promise<ZoneView> {
      return (await h.state()).zones.find((z) => z.id === id)!;
    },
    async metrics(): Promise<string> {
      return (await app.inject('/metrics')).body;
    },
    /** value of one series, or undefined */
    async metric(name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
      const text = await h.metrics();
      for (const line of text.split('\n')) {
        if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
        const ok = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
        if (ok) return Number(line.slice(line.lastIndexOf(' ') + 1));
      }
      return undefined;
    },
    /** the zone's fans at the plant (the truth, not what was commanded) */
    plantDuties(zone = 'gpu0'): number[] {
      return config.thermal.zones.find((z) => z.id === zone)!.fans.map((f) => rig.plant.fan(f).duty);
    },
    /** under control: no failsafe and the fans below full */
    async underControl(zone = 'gpu0', timeoutMs = 12_000): Promise<ZoneView> {
      let last: ZoneView | undefined;
      try {
        return await untilAsync(
          `zone ${zone} under control`,
          async () => {
            last = await h.zone(zone);
            return !last.failsafe && last.duty < 0.9 && h.plantDuties(zone).every((d) => d < 0.9) ? last : undefined;
          },
          timeoutMs,
        );
      } catch (err) {
        throw new Error(`${(err as Error).message}; last: ${JSON.stringify(last)}`);
      }
    },
    logged(re: RegExp): LogLine | undefined {
      return logs.find((l) => re.test(l.msg));
    },
    async close() {
      await service.stop();
      await cooler.close();
      await app.close();
    },
  };
  return h;
}

/** Polls an async predicate. */
export async function untilAsync<T>(what: string, f: () => Promise<T | undefined | false | null>, timeoutMs = 10_000, stepMs = 25): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

export type { ZoneController };

/** the fault's visible effects: fans full at the plant, the alarm in API and metrics */
export async function expectFailsafe(h: Harness, reason: string, subject: string, zone = 'gpu0') {
  const z = await untilAsync(`${reason} failsafe`, async () => {
    const v = await h.zone(zone);
    return v.failsafe && v.alarms.some((a) => a.kind === reason && a.subject === subject) && h.plantDuties(zone).every((d) => d === 1) ? v : undefined;
  });
  expect(z.duty).toBe(1);
  expect(z.fans.every((f) => f.duty === 1)).toBe(true);
  expect(z.alarms.find((a) => a.kind === reason)).toMatchObject({ failsafe: true, subject });
  expect(await h.metric('gance_thermal_failsafe', { zone, reason })).toBe(1);
  expect(await h.metric('gance_thermal_alarm', { zone, kind: reason, subject })).toBe(1);
  expect(await h.metric('gance_zone_duty_ratio', { zone })).toBe(1);
  expect((await h.state()).failsafe).toBe(true);
}

export async function expectRecovered(h: Harness, reason: string, subject: string, zone = 'gpu0') {
  const z = await h.underControl(zone);
  expect(z.alarms).toEqual([]);
  expect(await h.metric('gance_thermal_failsafe', { zone, reason })).toBe(0);
  expect(await h.metric('gance_thermal_alarm', { zone, kind: reason, subject })).toBeUndefined();
  const line = h.logged(new RegExp(`recovered from ${reason} \\(${subject}\\)`));
  expect(line).toBeDefined();
  expect(line!.level).toBe(30);
  expect(h.logs.some((l) => l.level === 40 && l.msg.includes('FAILSAFE') && l.alarm === reason)).toBe(true);
}


/**
 * Whether the alarm event matching (zone, kind, subject, raised) came from a periodic tick. The
 * 'tick' event follows a periodic tick synchronously, so an alarm raised or cleared in one sees it
 * before the next turn of the event loop; one from an extra tick does not.
 */
function alarmByPeriodicTick(h: Harness, m: { zone: string; kind: string; subject: string; raised: boolean }): Promise<boolean> {
  let ticked = false;
  const onTick = () => (ticked = true);
  h.service.on('tick', onTick);
  return new Promise<boolean>((resolve) => {
    const onAlarm = (e: { zone: string; alarm: { kind: string; subject: string }; raised: boolean }) => {
      if (e.zone !== m.zone || e.alarm.kind !== m.kind || e.alarm.subject !== m.subject || e.raised !== m.raised) return;
      h.service.off('alarm', onAlarm);
      ticked = false;
      setImmediate(() => {
        h.service.off('tick', onTick);
        resolve(ticked);
      });
    };
    h.service.on('alarm', onAlarm);
  });
}

/** Whether the zone's fans at the plant come to satisfy `ok` before the next periodic tick. */
async function plantBeforeNextTick(h: Harness, zone: string, ok: (duties: number[]) => boolean): Promise<boolean> {
  if (ok(h.plantDuties(zone))) return true;
  let ticked = false;
  const onTick = () => (ticked = true);
  h.service.on('tick', onTick);
  try {
    return await new Promise<boolean>((resolve) => {
      const check = setInterval(() => {
        if (ok(h.plantDuties(zone))) resolve(true);
        else if (ticked) resolve(false);
        else return;
        clearInterval(check);
      }, 5);
    });
  } finally {
    h.service.off('tick', onTick);
  }
}

/**
 * Injects a fault and asserts its failsafe acted at once, not at the next periodic tick: the alarm
 * (kind, subject, zone) is raised outside a periodic tick and the zone's fans are at full at the
 * plant before the next one. Meant for a period far longer than the fault takes to show.
 */
export async function expectFailsafeBeforeNextTick(h: Harness, inject: () => void, kind: string, subject: string, zone = 'gpu0'): Promise<void> {
  const raised = alarmByPeriodicTick(h, { zone, kind, subject, raised: true });
  inject();
  expect(await raised, `${kind} (${subject}) raised only by a periodic tick`).toBe(false);
  // the fans went to full then, with no periodic tick between: the plant says so before the next one
  expect(await plantBeforeNextTick(h, zone, (d) => d.every((x) => x === 1)), `zone ${zone}'s fans full before the next periodic tick`).toBe(true);
  const z = await h.zone(zone);
  expect(z.failsafe).toBe(true);
  expect(z.alarms.find((a) => a.kind === kind)).toMatchObject({ subject, failsafe: true });
}

/**
 * Runs `act` (a start, a restart of the reader) and asserts the zone, held at full for want of a
 * reading, came under control when the reading came, not at the next periodic tick: the alarm
 * (kind, subject) cleared outside a periodic tick and the fans below full before the next one.
 */
export async function expectReleasedBeforeNextTick(h: Harness, act: () => Promise<void> | void, kind: string, subject: string, zone = 'gpu0'): Promise<void> {
  const cleared = alarmByPeriodicTick(h, { zone, kind, subject, raised: false });
  await act();
  expect(await cleared, `${kind} (${subject}) cleared only by a periodic tick`).toBe(false);
  expect(await plantBeforeNextTick(h, zone, (d) => d.every((x) => x < 1)), `zone ${zone}'s fans below full before the next periodic tick`).toBe(true);
  const z = await h.zone(zone);
  expect(z.failsafe).toBe(false);
  expect(z.alarms).toEqual([]);
}
