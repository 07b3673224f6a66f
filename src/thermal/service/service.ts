/**
 * The thermal control loop as a daemon unit. Its own timer runs every periodMs; a tick never
 * awaits anything: sensors are read from the latest sample, cooler commands go out
 * fire-and-forget with timeouts. Each tick, per zone: sensor faults and link state decide whether
 * the zone is in failsafe (fans to full, alarm); otherwise the zone controller computes the duties.
 *
 * Failsafe reasons, each with fans at 100% and an alarm in the API and metrics, cleared (and
 * logged) by themselves when the cause goes away:
 *   sensor-stale      a GPU's latest sample is older than sensors.staleAfterMs
 *   sensor-missing    a zone GPU is absent from nvidia-smi's output or reads [N/A]
 *   critical          a zone GPU at or above criticalCelsius (cleared 3 C below it)
 *   nvidia-smi-down   the reading process is dead or restarting
 *   cooler-link-lost  the cooler's link is down or its commands go unanswered
 *   controller-error  the zone controller threw, or gave fan duties that are not numbers in 0..1
 *   controller-non-finite  a controller term (PID, curve, feed-forward) came out NaN or infinite
 *   not-started       the loop has not started yet (the cooler port is still being opened)
 *   daemon-stop       the unit was stopped
 * Each is one function in failsafe-rules.ts; the tick composes them. The sensor ones do not wait
 * for the next tick: a sample going stale, a sample that is empty, critical or shows a GPU gone,
 * and the reading process going down each run an extra tick at once (zones at full need none).
 * So do the first usable sample of a GPU and the reading process coming back: the fans held at
 * full for want of a reading come down then, not up to a whole period later.
 */
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Cooler, CoolerState } from '../../cooler/cooler.ts';
import type { FanConfig } from '../../cooler/config.ts';
import type { DaemonEventBus } from '../../events.ts';
import type { Unit } from '../../lifecycle/unit.ts';
import type { ThermalConfig, ZoneConfig } from '../config.ts';
import { createZoneController, type RigModel, type ZoneController, type ZoneLearned, type ZoneStepOutput } from '../control/index.ts';
import type { GpuSample, GpuSensorSource } from '../sensors/types.ts';
import { MusicRouter, type MusicAnnouncement } from '../music/router.ts';
import { CoolerIo } from './cooler-io.ts';
import * as rules from './failsafe-rules.ts';
import type { RaisedAlarm } from './failsafe-rules.ts';
import { Ring } from './history.ts';
import { LearnedStore } from './learned-store.ts';
import { RuntimeTuning, type ActiveMode, type TuningOrigin } from './runtime-tuning.ts';
import { modesOf, type ModeConfig } from '../modes/config.ts';
import type { SettingOrigin } from '../modes/layers.ts';
import type { ZoneTuning } from './tuning.ts';
import type { ThermalYield } from '../yield/controller.ts';
import { dutyCeiling } from '../yield/rules.ts';

export { FAILSAFE_REASONS, type FailsafeReason } from './failsafe-rules.ts';

/**
 * What changes when a zone learns: the duty per watt to 1e-3, and each rig identification per
 * RIG_SAVE_WINDOWS windows learned (a few minutes of load; a short run adds nothing worth a write).
 */
function learnedSignature(l: ZoneLearned): string {
  return `${l.dutyPerWattFactor.toFixed(3)}|${(l.rigs ?? []).map((r) => Math.floor(r.updates / RIG_SAVE_WINDOWS)).join(',')}`;
}
const RIG_SAVE_WINDOWS = 15;

/** what the controllers learned is saved at most this often (and at stop) */
const LEARNED_SAVE_MS = 60_000;

/** cooler state older than this gives the controller no tach (stall detection pauses) */
const COOLER_STATE_FRESH_MS = 2000;

export interface Alarm extends RaisedAlarm {
  /** epoch ms the alarm was raised */
  since: number;
}

export interface ZoneRuntime {
  id: string;
  out: ZoneStepOutput | null;
  alarms: Alarm[];
  failsafe: boolean;
  /** duties commanded this tick per fan */
  duties: Record<string, number>;
  temps: (number | null)[];
}

export interface HistoryEntry {
  t: number;
  zones: Record<string, { temperature: number | null; setpoint: number; duty: number; failsafe: boolean }>;
  gpus: Record<string, { temperature: number | null; power: number | null; utilization: number | null }>;
  fans: Record<string, { duty: number; rpm: number | null }>;
}

export interface ThermalServiceOptions {
  config: ThermalConfig;
  fans: ReadonlyArray<FanConfig>;
  cooler: Cooler;
  source: GpuSensorSource;
  log: Logger;
  events?: DaemonEventBus;
  /** where thermal-tuning.json lives; absent: run-time tuning is not persisted */
  stateDir?: string;
  /** how zone controllers are made (tests wrap the real one to make it throw) */
  controllerFactory?: (zone: ZoneConfig, fans: ReadonlyArray<FanConfig>) => ZoneController;
  /** extra per-GPU info for the API (names, driver), from discovery */
  gpuInfo?: () => ReadonlyMap<number, { name: string; driverVersion?: string }>;
  /** load hints also reach the simulated GPUs (simulated mode) */
  onLoadHint?: (gpus: number[], watts: number, seconds: number) => void;
  /** cooler.thermistors ids: a run-time tuning's feedForward.ambientThermistor must name one, as at config load; absent: not checked */
  thermistors?: ReadonlyArray<string>;
}

function pick(duties: Readonly<Record<string, number>>, ids: ReadonlyArray<string>): Record<string, number> {
  return Object.fromEntries(ids.filter((id) => duties[id] !== undefined).map((id) => [id, duties[id]!]));
}

interface ZoneSlot {
  config: ZoneConfig;
  controller: ZoneController;
  rt: ZoneRuntime;
  /** GPUs latched in critical */
  critical: Set<number>;
  controllerFailing: boolean;
}

/**
 * Events: 'tick' ({ periodS: number | null, latenessS, durationS }), 'alarm' ({ zone, alarm, raised }).
 */
export class ThermalService extends EventEmitter {
  readonly name = 'thermal';
  readonly periodMs: number;
  readonly io: CoolerIo;
  private readonly zones = new Map<string, ZoneSlot>();
  private readonly staleAfterMs: number;
  private readonly tuning: RuntimeTuning;
  private readonly learnedStore: LearnedStore | null;
  /** dutyPerWattFactor per zone as last saved */
  /** per zone, what was last saved (learnedSignature): a save only when something changed */
  private readonly learnedSaved = new Map<string, string>();
  private learnedSavedAt = -Infinity;
  private readonly history: Ring<HistoryEntry>;
  private readonly historyIntervalMs: number;
  private lastHistoryAt = -Infinity;
  /** live from `from` (a hint announced ahead: its pre-cooling lead) until `until`, ms */
  private readonly hints = new Map<number, { watts: number; from: number; until: number }>();
  /** tracks with known loudness -> per-zone noise budgets (thermal.music) */
  readonly music: MusicRouter;
  private timer: NodeJS.Timeout | undefined;
  /** an extra tick at the moment a zone GPU's sample goes stale, when that comes before the next tick */
  private staleTimer: NodeJS.Timeout | undefined;
  /** an extra tick is queued for a sample or a source failure that puts a zone at full (judgeSoon) */
  private judgePending = false;
  private nextAt = 0;
  private lastTickAt = -Infinity;
  private running = false;
  private stopped = false;
  private hadFirstSample = false;
  private readonly validSeen = new Set<number>();
  private failsafeActive: boolean | null = null;
  /** fan duties held by a measurement (fans measure), null when the controllers drive every fan */
  private held: Record<string, number> | null = null;
  /** slows synthesis on zones at full fans near critical (thermal.yield); null: not attached */
  private yielder: ThermalYield | null = null;
  private readonly onHint = (h: { gpus: number[]; watts: number; seconds: number; source: string; startsInSeconds?: number }) => this.hint(h.gpus, h.watts, h.seconds, h.source, h.startsInSeconds);
  private readonly onMusic = (m: MusicAnnouncement) => {
    // from other subsystems' emit(): a bad track is logged, never thrown back at the sender
    try {
      const zones = this.music.announce(m, performance.now() / 1000);
      this.opts.log.info({ source: m.source, gpus: m.gpus, seconds: m.levelsDba.length, zones, enabled: this.music.config.enabled }, `music from ${m.source}: ${m.levelsDba.length} s of loudness for zones ${zones.join(', ') || '(none)'}`);
    } catch (err) {
      this.opts.log.warn({ source: m.source, err: (err as Error).message }, `ignored music from ${m.source}: ${(err as Error).message}`);
    }
  };
  private readonly onMusicPosition = (p: { source: string; positionSeconds: number }) => this.music.position(p.source, p.positionSeconds, performance.now() / 1000);
  private readonly onLoadEnd = (e: { source: string }) => this.music.end(e.source);
  private readonly onSample = (smp: GpuSample) => {
    if (this.sampleForcesFailsafe(smp) || this.firstReading(smp)) this.judgeSoon();
    this.noteUnzoned(smp);
  };
  /** GPUs the sensors report that no zone controls, warned of once each */
  private readonly unzonedWarned = new Set<number>();
  private readonly onSourceRunning = (up: boolean) => {
    // down: zones not yet at full go there; up again: zones held at full for it may come down
    if ([...this.zones.values()].some((z) => z.rt.failsafe === up)) this.judgeSoon();
  };

  constructor(private readonly opts: ThermalServiceOptions) {
    super();
    const c = opts.config;
    this.periodMs = c.periodMs;
    this.staleAfterMs = c.sensors.staleAfterMs;
    this.io = new CoolerIo(opts.cooler, c.coolerTimeoutMs, opts.log.child({ part: 'cooler-io' }));
    this.historyIntervalMs = c.history.intervalMs;
    this.history = new Ring(Math.max(1, Math.ceil((c.history.seconds * 1000) / c.history.intervalMs)));
    const make = opts.controllerFactory ?? createZoneController;
    for (const z of c.zones) {
      this.zones.set(z.id, {
        config: z,
        controller: make(z, opts.fans),
        // until the first tick: failsafe with its reason, or the metrics read 0 for every reason
        rt: { id: z.id, out: null, alarms: [{ ...rules.notStarted(z.id), since: Date.now() }], failsafe: true, duties: Object.fromEntries(z.fans.map((f) => [f, 1])), temps: z.gpus.map(() => null) },
        critical: new Set(),
        controllerFailing: false,
      });
    }
    this.music = new MusicRouter(
      c.music,
      c.zones.map((z) => ({ id: z.id, gpus: z.gpus, fans: z.fans.flatMap((id) => opts.fans.filter((f) => f.id === id)) })),
    );
    this.tuning = new RuntimeTuning(this.zones, opts.stateDir, opts.log, modesOf(c), opts.thermistors);
    this.learnedStore = opts.stateDir ? new LearnedStore(opts.stateDir, opts.log) : null;
  }

  get source(): GpuSensorSource {
    return this.opts.source;
  }

  get cooler(): Cooler {
    return this.opts.cooler;
  }

  get config(): ThermalConfig {
    return this.opts.config;
  }

  /** where the daemon keeps its state (tuning, fan characterisation); undefined: nowhere */
  get stateDir(): string | undefined {
    return this.opts.stateDir;
  }

  get fanConfigs(): ReadonlyArray<FanConfig> {
    return this.opts.fans;
  }

  /** The unit the supervisor runs (after the cooler). */
  unit(): Unit {
    return {
      name: 'thermal',
      dependsOn: ['cooler'],
      start: () => this.start(),
      stop: () => this.stop(),
      ready: () => this.ready(),
      alive: () => this.alive(),
    };
  }

  async start(): Promise<void> {
    await this.tuning.restore();
    await this.restoreLearned();
    this.stopped = false;
    this.validSeen.clear();
    this.opts.events?.on('load-hint', this.onHint);
    this.opts.events?.on('music', this.onMusic);
    this.opts.events?.on('music-position', this.onMusicPosition);
    this.opts.events?.on('load-end', this.onLoadEnd);
    this.opts.source.on('sample', this.onSample);
    this.opts.source.on('running', this.onSourceRunning);
    await this.opts.source.start();
    this.running = true;
    this.opts.log.info({ periodMs: this.periodMs, zones: [...this.zones.keys()], source: this.opts.source.kind }, 'thermal control started; fans stay at full until the first sample');
    this.nextAt = performance.now();
    this.onTimer();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.staleTimer);
    this.opts.events?.off('load-hint', this.onHint);
    this.opts.events?.off('music', this.onMusic);
    this.opts.events?.off('music-position', this.onMusicPosition);
    this.opts.events?.off('load-end', this.onLoadEnd);
    this.opts.source.off('sample', this.onSample);
    this.opts.source.off('running', this.onSourceRunning);
    // One last tick raises the daemon-stop alarm everywhere and commands full duty...
    this.tick();
    // ...and the device's own failsafe command makes sure of it (bounded; the reader stops meanwhile).
    await Promise.all([this.io.failsafeNow('daemon stop'), this.opts.source.stop(), this.saveLearned(performance.now())]);
    this.opts.log.info('thermal control stopped: fans at full');
  }

  /** Ready once every zone GPU has given a valid temperature. */
  ready(): boolean {
    return this.running && [...this.zones.values()].every((z) => z.config.gpus.every((g) => this.validSeen.has(g)));
  }

  /** False when the loop has not ticked for 3 periods. */
  alive(): boolean {
    return this.running && performance.now() - this.lastTickAt < 3 * this.periodMs;
  }

  /**
   * A render announces load: the feed-forward leads it, and a hint above idle starts stopped fans.
   * One announced ahead (startsInSeconds) goes live thermal.music.preCoolTimeConstants of the
   * rig's time constants before its load: enough to pre-cool, not minutes of needless fan noise.
   */
  hint(gpus: number[], watts: number, seconds: number, source = 'api', startsInSeconds = 0): void {
    // Called from other subsystems' emit(): a bad hint is logged, never thrown back at the sender.
    if (!Array.isArray(gpus) || !gpus.every((g) => Number.isInteger(g)) || !(watts >= 0 && watts < 10_000) || !(seconds > 0 && seconds <= 86_400) || !(startsInSeconds >= 0 && startsInSeconds <= 86_400)) {
      this.opts.log.warn({ gpus, watts, seconds, source, startsInSeconds }, 'ignored a malformed load hint (expected gpus: integer[], watts 0..10000, seconds 0..86400, startsInSeconds 0..86400)');
      return;
    }
    const now = performance.now();
    const startAt = now + startsInSeconds * 1000;
    const leadMs = this.preCoolLeadSeconds() * 1000;
    for (const g of gpus) this.hints.set(g, { watts, from: Math.max(now, startAt - leadMs), until: startAt + seconds * 1000 });
    const simulate = () => {
      try {
        this.opts.onLoadHint?.(gpus, watts, seconds);
      } catch (err) {
        this.opts.log.warn({ err }, 'simulated load hint failed');
      }
    };
    // the simulated GPUs draw the announced load when it starts
    if (startsInSeconds > 0 && this.opts.onLoadHint) setTimeout(simulate, startsInSeconds * 1000).unref();
    else simulate();
    this.opts.log.debug({ gpus, watts, seconds, source, startsInSeconds, preCoolFromS: Math.max(0, startsInSeconds - leadMs / 1000) }, 'load hint');
  }

  /** how long before an announced load its hint goes live, s */
  preCoolLeadSeconds(): number {
    return this.music.config.preCoolTimeConstants * this.music.timeConstantFullS;
  }

  private onTimer(): void {
    const now = performance.now();
    const latenessMs = Math.max(0, now - this.nextAt);
    const periodS = Number.isFinite(this.lastTickAt) ? (now - this.lastTickAt) / 1000 : null;
    this.lastTickAt = now;
    this.tick();
    const durationS = (performance.now() - now) / 1000;
    this.emit('tick', { periodS, latenessS: latenessMs / 1000, durationS });
    if (!this.running) return;
    this.nextAt += this.periodMs;
    // Far behind (a blocked event loop): start again from now rather than firing a burst.
    if (this.nextAt < performance.now()) this.nextAt = performance.now() + this.periodMs;
    this.timer = setTimeout(() => this.onTimer(), Math.max(0, this.nextAt - performance.now()));
    this.armStaleWatch();
  }

  /**
   * Staleness is judged when a sample goes stale, not only at the next tick: judged at ticks
   * alone, a sensor that died just after one went unnoticed for staleAfterMs plus a whole period
   * (up to 13 s at periodMs 10 s and the default 3 s). This arms a timer at the earliest moment a
   * zone GPU's latest sample passes staleAfterMs, when that comes before the next tick; zones
   * already at full fans need none.
   */
  private armStaleWatch(): void {
    clearTimeout(this.staleTimer);
    this.staleTimer = undefined;
    if (!this.running) return;
    const deadline = this.firstStaleAt();
    if (deadline >= this.nextAt) return;
    // 1 ms past it: the rule calls a sample stale once it is strictly older than the limit
    this.staleTimer = setTimeout(() => this.onStaleWatch(), Math.max(0, deadline - performance.now()) + 1);
  }

  /** When the first latest sample of a GPU in a zone not at full fans passes staleAfterMs (Infinity: none). */
  private firstStaleAt(): number {
    const samples = this.opts.source.latest();
    let deadline = Infinity;
    for (const slot of this.zones.values()) {
      if (slot.rt.failsafe) continue;
      for (const g of slot.config.gpus) {
        const smp = samples.get(g);
        if (smp) deadline = Math.min(deadline, smp.receivedAt + this.staleAfterMs);
      }
    }
    return deadline;
  }

  /** A sample went stale between ticks: an extra tick now (not a period: no 'tick' event) puts its zone at full. */
  private onStaleWatch(): void {
    this.staleTimer = undefined;
    if (!this.running) return;
    // a newer sample may have come meanwhile: then only the watch moves on
    if (this.firstStaleAt() < performance.now()) this.tick();
    this.armStaleWatch();
  }

  /**
   * Whether this sample puts a zone that is not at full fans into failsafe: it reads no
   * temperature, it is at or above the zone's critical limit, or (a cycle of output closed with
   * it) a zone GPU has gone missing from the output. The same facts the tick's rules judge; the
   * tick decides, this only says that waiting for it (up to periodMs) would be too long.
   */
  private sampleForcesFailsafe(smp: GpuSample): boolean {
    let missing: ReadonlySet<number> | undefined;
    for (const slot of this.zones.values()) {
      if (slot.rt.failsafe) continue;
      const gpus = slot.config.gpus;
      if (gpus.includes(smp.index) && (smp.temperatureC === null || smp.temperatureC >= slot.controller.state().config.criticalCelsius)) return true;
      missing ??= this.opts.source.missing();
      if (gpus.some((g) => missing!.has(g))) return true;
    }
    return false;
  }

  /**
   * A GPU the sensors report but no zone lists: its temperature drives no fans (a zone's gpus
   * mistyped, e.g. [0] twice on a K80, leaves its other die uncontrolled under the shroud). Said
   * once per GPU, with its name, so the log shows it at start rather than after an overheat.
   */
  private noteUnzoned(smp: GpuSample): void {
    if (this.unzonedWarned.has(smp.index) || this.zonesOf(smp.index).length) return;
    this.unzonedWarned.add(smp.index);
    const info = this.gpuInfo().get(smp.index);
    const zones = [...this.zones.values()].map((z) => `${z.config.id}: [${z.config.gpus.join(', ')}]`).join('; ');
    this.opts.log.warn(
      { gpu: smp.index, uuid: smp.uuid, name: info?.name, celsius: smp.temperatureC },
      `GPU ${smp.index}${info?.name ? ` (${info.name})` : ''} is in no zone: its temperature (${smp.temperatureC ?? 'n/a'} C) drives no fans. Add it to a zone's gpus in thermal.zones (now ${zones}) if it sits under the cooler`,
    );
  }

  /** ids of the zones that list this GPU */
  zonesOf(gpu: number): string[] {
    return [...this.zones.values()].filter((z) => z.config.gpus.includes(gpu)).map((z) => z.config.id);
  }

  /** The first usable temperature of a zone GPU since start: its zone has waited at full fans for it. */
  private firstReading(smp: GpuSample): boolean {
    return this.running && smp.temperatureC !== null && !this.validSeen.has(smp.index) && [...this.zones.values()].some((z) => z.config.gpus.includes(smp.index));
  }

  /**
   * A sample or a source failure that puts a zone at full is judged when it comes, not at the
   * next tick (up to periodMs later, seconds at long periods): an extra tick (no 'tick' event),
   * as for staleness. Queued as a microtask: out of the source's emit (a throwing tick must not
   * unwind into its reader), before any timer or I/O, and once for a burst of lines.
   */
  private judgeSoon(): void {
    if (this.judgePending || !this.running) return;
    this.judgePending = true;
    queueMicrotask(() => {
      this.judgePending = false;
      if (!this.running) return;
      this.tick();
      this.armStaleWatch();
    });
  }

  /** One control step for every zone. Synchronous by design. */
  tick(): void {
    const nowMs = performance.now();
    const source = this.opts.source;
    const samples = source.latest();
    const missing = source.missing();
    const sourceUp = source.stats().running;
    const linkOk = this.io.linkOk();
    this.io.read();
    const cs: CoolerState | null = this.io.state && nowMs - this.io.stateAt < COOLER_STATE_FRESH_MS ? this.io.state : null;
    // the device's own failsafe: read while the link works (fresh only), else what can be told without it
    const deviceState = linkOk ? cs : this.io.state;
    const held = this.held;
    // a fan held by a measurement is not the controller's: its tach must not count as a stall
    const fanRpm = cs ? Object.fromEntries(cs.fans.filter((f) => held?.[f.id] === undefined).map((f) => [f.id, f.rpm])) : undefined;
    const thermistors = new Map(cs?.thermistors.map((t) => [t.id, t.celsius]) ?? []);
    for (const [g, h] of this.hints) if (h.until <= nowMs) this.hints.delete(g);

    const duties: Record<string, number> = {};
    const sourceState = { kind: source.kind, running: sourceUp, lastError: source.stats().lastError };
    for (const slot of this.zones.values()) {
      const z = slot.config;
      const raised: RaisedAlarm[] = [];
      const raise = (a: RaisedAlarm | null) => void (a && raised.push(a));
      raise(rules.daemonStop(z.id, this.stopped));
      raise(rules.sensorProcessDown(sourceState));
      raise(rules.coolerLinkLost(linkOk, this.io.lastError));
      raise(rules.coolerInFailsafe(deviceState, this.io.readAfterDuties));

      const criticalCelsius = slot.controller.state().config.criticalCelsius;
      const temps: (number | null)[] = [];
      const power: (number | null)[] = [];
      for (const g of z.gpus) {
        const r = rules.gpuSample(g, samples.get(g), { nowMs, staleAfterMs: this.staleAfterMs, missing: missing.has(g), sourceKind: source.kind });
        raise(r.alarm);
        if (r.temperature !== null) this.sawValid(g, r.temperature);
        raise(rules.critical(g, r.temperature, criticalCelsius, slot.critical));
        temps.push(r.temperature);
        power.push(r.power);
      }
      raise(rules.tuningNotSaved(this.tuning.unsavedError(z.id)));
      for (const a of this.yielder?.alarms(z.id) ?? []) raise(a);

      const forced = raised.some((a) => a.failsafe);
      const out = this.stepController(slot, nowMs, forced ? z.gpus.map(() => null) : temps, power, fanRpm, thermistors, raise);
      if (out) {
        raised.push(...rules.controllerAlarms(z.id, out, forced));
        raise(rules.badFanDuty(z.id, out));
      }

      const failsafe = raised.some((a) => a.failsafe) || !out;
      // A measurement's duties go out as they are (no kick-start, no stall re-kick); a failsafe still wins.
      const zoneDuties = failsafe || !out ? Object.fromEntries(z.fans.map((f) => [f, 1])) : held ? { ...out.fanDuties, ...pick(held, z.fans) } : out.fanDuties;
      Object.assign(duties, zoneDuties);
      this.updateAlarms(slot, raised);
      slot.rt = { id: z.id, out, alarms: slot.rt.alarms, failsafe, duties: zoneDuties, temps };
    }

    this.io.write(duties);
    if (!linkOk) this.io.failsafe('cooler link lost');
    const anyFailsafe = [...this.zones.values()].some((s) => s.rt.failsafe);
    if (anyFailsafe !== this.failsafeActive) {
      this.failsafeActive = anyFailsafe;
      const reasons = [...new Set([...this.zones.values()].flatMap((s) => s.rt.alarms.filter((a) => a.failsafe).map((a) => a.kind)))];
      this.opts.events?.emit('failsafe', { active: anyFailsafe, reasons });
    }
    this.recordHistory(nowMs, cs);
    this.yielder?.update(
      [...this.zones.values()].map((s) => ({
        id: s.config.id,
        gpus: s.config.gpus,
        // the hottest GPU as read (the controller sees none in failsafe, yielding still must)
        temperature: s.rt.temps.some((t) => t !== null) ? Math.max(...s.rt.temps.filter((t): t is number => t !== null)) : null,
        duty: s.rt.failsafe ? 1 : (s.rt.out?.duty ?? 1),
        ceiling: s.rt.failsafe || !s.rt.out ? 1 : dutyCeiling(s.controller.state().config.maxDuty, s.rt.out.duty, s.rt.out.budget),
        failsafe: s.rt.failsafe,
        criticalC: s.controller.state().config.criticalCelsius,
      })),
    );
    if (nowMs - this.learnedSavedAt >= LEARNED_SAVE_MS) void this.saveLearned(nowMs);
  }

  /** At start: what each zone learned in an earlier run (a value the controller refuses is ignored, warned). */
  private async restoreLearned(): Promise<void> {
    if (!this.learnedStore) return;
    for (const [id, l] of Object.entries(await this.learnedStore.load())) {
      const slot = this.zones.get(id);
      if (!slot) continue;
      if (slot.controller.restoreLearned(l)) {
        this.learnedSaved.set(id, learnedSignature(l));
        this.opts.log.info({ zone: id, learned: l, path: this.learnedStore.path }, `zone "${id}": starts from the duty per watt it learned before (x${l.dutyPerWattFactor.toFixed(3)})`);
      } else this.opts.log.warn({ zone: id, learned: l, path: this.learnedStore.path }, `zone "${id}": learned duty per watt in ${this.learnedStore.path} is out of bounds: ignored`);
    }
  }

  /** Saves what the zones learned when it changed since the last save; a failed write is logged. */
  private async saveLearned(nowMs: number): Promise<void> {
    this.learnedSavedAt = nowMs;
    if (!this.learnedStore) return;
    const zones = Object.fromEntries(
      [...this.zones].map(([id, s]) => {
        const st = s.controller.state();
        return [id, { ...st.learned, rigs: st.rigStates }];
      }),
    );
    if (Object.entries(zones).every(([id, l]) => learnedSignature(l) === (this.learnedSaved.get(id) ?? learnedSignature({ dutyPerWattFactor: 1, learnedSeconds: 0, rigs: l.rigs.map((r) => ({ ...r, updates: 0 })) })))) return;
    try {
      await this.learnedStore.save(zones);
      for (const [id, l] of Object.entries(zones)) this.learnedSaved.set(id, learnedSignature(l));
    } catch (err) {
      this.opts.log.warn({ err, path: this.learnedStore.path }, `cannot save what the zones learned to ${this.learnedStore.path}: a restart starts from the configured feed-forward`);
    }
  }

  /** A zone GPU gave a usable temperature: it counts for readiness (and the first one is logged). */
  private sawValid(gpu: number, celsius: number): void {
    this.validSeen.add(gpu);
    if (this.hadFirstSample) return;
    this.hadFirstSample = true;
    this.opts.log.info({ gpu, celsius }, 'first GPU sample');
  }

  /**
   * One controller step; null (with a controller-error alarm, logged once per failure spell) when
   * it throws. In failsafe the controller sees no temperatures: it holds duty 1 and, once
   * released, continues bumplessly from the full duty the fans really have.
   */
  private stepController(
    slot: ZoneSlot,
    nowMs: number,
    temps: (number | null)[],
    power: (number | null)[],
    fanRpm: Record<string, number | null> | undefined,
    thermistors: ReadonlyMap<string, number | null>,
    raise: (a: RaisedAlarm) => void,
  ): ZoneStepOutput | null {
    const z = slot.config;
    const hintW = Math.max(0, ...z.gpus.map((g) => {
      const h = this.hints.get(g);
      return h && h.from <= nowMs ? h.watts : 0;
    }));
    try {
      // the zone's intake air (feedForward.ambientThermistor, possibly tuned at run time); fresh cooler state only
      const ambientId = slot.controller.state().config.feedForward.ambientThermistor;
      const ambientC = ambientId === undefined ? undefined : (thermistors.get(ambientId) ?? null);
      const cfg = slot.controller.state().config;
      const valid = temps.filter((t): t is number => t !== null && Number.isFinite(t));
      // the noise budget plans with the hottest GPU and the busiest one's power (or the hint)
      const budget =
        valid.length === temps.length && valid.length > 0
          ? this.music.step(z.id, nowMs / 1000, {
              temperature: Math.max(...valid),
              watts: Math.max(hintW, ...power.map((p) => (p !== null && Number.isFinite(p) ? p : 0))),
              ambientC: typeof ambientC === 'number' ? ambientC : cfg.feedForward.ambientCelsius,
              duty: slot.rt.failsafe ? 1 : slot.rt.out?.duty,
              zone: { setpoint: cfg.pid.setpoint, criticalCelsius: cfg.criticalCelsius, minDuty: cfg.minDuty, maxDuty: cfg.maxDuty, sensorResolutionCelsius: cfg.pid.sensorResolutionCelsius },
            })
          : null;
      const out = slot.controller.step({ now: nowMs / 1000, temps, powerW: power, loadHintW: hintW > 0 ? hintW : undefined, ambientC, fanRpm, budget });
      if (slot.controllerFailing) {
        slot.controllerFailing = false;
        this.opts.log.info({ zone: z.id }, `zone "${z.id}": controller works again`);
      }
      return out;
    } catch (err) {
      if (!slot.controllerFailing) this.opts.log.error({ zone: z.id, err }, `zone "${z.id}": controller failed: ${(err as Error).message}`);
      slot.controllerFailing = true;
      raise(rules.controllerThrew(z.id, err));
      return null;
    }
  }

  private updateAlarms(slot: ZoneSlot, raised: RaisedAlarm[]): void {
    const before = new Map(slot.rt.alarms.map((a) => [`${a.kind}:${a.subject}`, a]));
    const now = Date.now();
    const next: Alarm[] = [];
    const seen = new Set<string>();
    for (const r of raised) {
      const key = `${r.kind}:${r.subject}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const prev = before.get(key);
      next.push({ ...r, since: prev?.since ?? now });
      if (!prev) {
        const startup = !this.hadFirstSample && (r.kind === 'sensor-missing' || r.kind === 'nvidia-smi-down');
        // at start-up the fans are at full until the first sample anyway: not worth a warning
        const log = startup ? this.opts.log.info.bind(this.opts.log) : this.opts.log.warn.bind(this.opts.log);
        log({ zone: slot.config.id, alarm: r.kind, subject: r.subject, failsafe: r.failsafe }, `zone "${slot.config.id}": ${r.failsafe ? 'FAILSAFE (fans to full): ' : 'alarm: '}${r.message}`);
        this.emit('alarm', { zone: slot.config.id, alarm: next.at(-1), raised: true });
      }
    }
    for (const [key, a] of before) {
      if (seen.has(key)) continue;
      const s = ((now - a.since) / 1000).toFixed(1);
      // every start ends it at the first tick, where the start-up alarms are logged: no news
      if (a.kind !== 'not-started') this.opts.log.info({ zone: slot.config.id, alarm: a.kind, subject: a.subject, seconds: Number(s) }, `zone "${slot.config.id}": recovered from ${a.kind} (${a.subject}) after ${s} s${a.failsafe ? '; back under control' : ''}`);
      this.emit('alarm', { zone: slot.config.id, alarm: a, raised: false });
    }
    slot.rt.alarms = next;
  }

  private recordHistory(nowMs: number, cs: CoolerState | null): void {
    if (nowMs - this.lastHistoryAt < this.historyIntervalMs * 0.95) return;
    this.lastHistoryAt = nowMs;
    const t = Date.now();
    const entry: HistoryEntry = { t, zones: {}, gpus: {}, fans: {} };
    for (const s of this.zones.values()) {
      const temp = s.rt.out?.temperature;
      entry.zones[s.config.id] = {
        temperature: temp !== undefined && Number.isFinite(temp) ? temp : null,
        setpoint: s.controller.state().config.pid.setpoint,
        duty: s.rt.failsafe ? 1 : (s.rt.out?.duty ?? 1),
        failsafe: s.rt.failsafe,
      };
    }
    // a stale sample is recorded as no reading: its last values again drew a steady line while the GPU went unseen
    for (const [g, smp] of this.opts.source.latest()) {
      entry.gpus[String(g)] = nowMs - smp.receivedAt > this.staleAfterMs ? { temperature: null, power: null, utilization: null } : { temperature: smp.temperatureC, power: smp.powerW, utilization: smp.utilization };
    }
    const rpm = new Map(cs?.fans.map((f) => [f.id, f.rpm]) ?? []);
    for (const s of this.zones.values()) for (const [f, d] of Object.entries(s.rt.duties)) entry.fans[f] = { duty: d, rpm: rpm.get(f) ?? null };
    this.history.push(entry);
  }

  /**
   * Hold these fans at these duties, sent as they are, bypassing their zone controller's
   * allocation (kick-start, stall re-kick); their tach is hidden from its stall detection. A zone
   * failsafe still puts them to full. null: back to the controllers.
   */
  holdFans(duties: Readonly<Record<string, number>> | null): void {
    if (duties) {
      for (const [id, d] of Object.entries(duties)) {
        if (!this.opts.fans.some((f) => f.id === id)) throw new Error(`no fan "${id}"`);
        if (!(d >= 0 && d <= 1)) throw new Error(`fan "${id}": duty must be within 0..1, got ${d}`);
      }
    }
    this.held = duties ? { ...duties } : null;
  }

  /** Yielding runs after every tick from now on; its alarms join the zones'. */
  attachYield(y: ThermalYield): void {
    this.yielder = y;
  }

  get yielding(): ThermalYield | null {
    return this.yielder;
  }

  // ---- what the API and metrics read ----

  zoneIds(): string[] {
    return [...this.zones.keys()];
  }

  zoneSlot(id: string):
    | {
        config: ZoneConfig;
        runtime: ZoneRuntime;
        tuned: ZoneTuning | undefined;
        fanMinDuty: Record<string, number>;
        persisted: boolean;
        tuningWarnings: string[];
        learned: ZoneLearned;
        provenance: Record<string, SettingOrigin>;
        rigs: RigModel[];
      }
    | undefined {
    const s = this.zones.get(id);
    if (!s) return undefined;
    const st = s.controller.state();
    return {
      config: st.config,
      runtime: s.rt,
      tuned: this.tuning.of(id),
      fanMinDuty: st.fanMinDuty,
      persisted: this.tuning.unsavedError(id) === null,
      tuningWarnings: this.tuning.warnings(id),
      learned: st.learned,
      rigs: st.rigs,
      provenance: this.tuning.provenance(id),
    };
  }

  coolerState(): CoolerState | null {
    return this.io.state;
  }

  /**
   * What each fan runs at as the device last reported it (its own failsafe, a kick-start and its
   * PWM steps included), from a fresh reading while the link works; empty when there is none or
   * the driver cannot tell. The API and metrics show these over the duties commanded.
   */
  appliedDuties(): Map<string, number> {
    const cs = this.io.state;
    if (!cs || !this.io.linkOk() || performance.now() - this.io.stateAt >= COOLER_STATE_FRESH_MS) return new Map();
    return new Map(cs.fans.filter((f) => typeof f.applied === 'number').map((f) => [f.id, f.applied!]));
  }

  /**
   * A zone's duty (share of its fans' full airflow) as it is: full in failsafe, and full when the
   * device runs all its fans at full on its own (its failsafe); else the controller's.
   */
  zoneDuty(id: string, applied = this.appliedDuties()): number {
    const s = this.zones.get(id);
    if (!s) return 1;
    if (s.rt.failsafe) return 1;
    if (s.config.fans.length > 0 && s.config.fans.every((f) => applied.get(f) === 1)) return 1;
    return s.rt.out?.duty ?? 1;
  }

  historySince(seconds: number): HistoryEntry[] {
    return this.history.since(Date.now() - seconds * 1000);
  }

  gpuInfo(): ReadonlyMap<number, { name: string; driverVersion?: string }> {
    return this.opts.gpuInfo?.() ?? new Map();
  }

  // ---- run-time tuning (runtime-tuning.ts) ----

  /** See RuntimeTuning.tune: applied now, saved; `persisted: false` when the save failed. */
  tune(id: string, patch: ZoneTuning, mode: 'merge' | 'replace' = 'merge', origin: TuningOrigin = 'tuning'): Promise<{ persisted: boolean }> {
    return this.tuning.tune(id, patch, mode, origin);
  }

  /** See RuntimeTuning.applyMode: every zone to a mode (null: none), checked whole, saved. */
  applyMode(name: string | null): Promise<{ persisted: boolean }> {
    return this.tuning.applyMode(name);
  }

  modeState(): { active: ActiveMode | null; modes: ReadonlyArray<ModeConfig> } {
    return this.tuning.modeState();
  }

  /** Back to the config file's values for a zone; forgets its saved tuning (keepMode: the mode's settings stay). */
  resetTuning(id: string, keepMode = false): Promise<{ persisted: boolean }> {
    return this.tuning.reset(id, keepMode);
  }
}
