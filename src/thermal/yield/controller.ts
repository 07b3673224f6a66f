/**
 * Yielding in the daemon: after every control tick each zone's readings go through the rules
 * (rules.ts); a step change slows, pauses or resumes the synthesis on the zone's GPUs (renders
 * through the per-GPU throttle, live sessions by a lower fps) and, where enabled, lowers or
 * restores their power limit. The renders and live services are looked up when needed: thermal
 * is built before them, and a daemon without them still yields what it has.
 *
 * What it owns: while a zone yields, the yield layer of its GPUs in the render throttle (over the
 * operator's pause and rate, which it never touches: the lower rate applies) and the live fps cap
 * of its GPUs (over each session's own fps) are this module's; they are lifted when the zone
 * recovers and at stop, and what the operator set, meanwhile too, applies again. The power limit it lowered goes back to the GPU's default on recovery, at stop, and at
 * start (a limit a crashed daemon left lowered).
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { RaisedAlarm } from '../service/failsafe-rules.ts';
import type { YieldConfig } from './config.ts';
import type { GpuThrottleState, ThrottleLayer } from '../../render/throttle.ts';
import { PowerLimitError, type PowerLimiter, type PowerLimits } from './power-limit.ts';
import { initialYield, speedOf, stepYield, type YieldState } from './rules.ts';

/** the parts of the render throttle yielding drives and shows */
export interface YieldThrottle {
  /** yielding's layer over the operator's pause and rate; null lifts it */
  setYield(gpu: number, layer: ThrottleLayer | null, reason?: string): void;
  state(): GpuThrottleState[];
}

export interface YieldTargets {
  /** the render throttle and the fps of running renders; undefined: no renders subsystem */
  renders(): { throttle: YieldThrottle; runningFps(): number[] } | undefined;
  /** live sessions' thermal fps cap; undefined: no live subsystem */
  live(): { setThermalFpsCap(gpu: number, share: number | null): void } | undefined;
}

/** what yielding reads of a zone each tick */
export interface YieldZoneReading {
  id: string;
  gpus: number[];
  temperature: number | null;
  duty: number;
  /** the most the zone's fans will give now (rules.ts dutyCeiling) */
  ceiling: number;
  failsafe: boolean;
  criticalC: number;
}

export interface YieldEvent {
  at: string;
  zone: string;
  step: number;
  speed: number;
  reason: string;
}

export interface YieldZoneView {
  zone: string;
  gpus: number[];
  step: number;
  steps: number;
  /** synthesis speed share on the zone's GPUs, 1: full speed, 0: renders paused */
  speed: number;
  since: string | null;
  reason: string;
  riseCPerMinute: number | null;
  /** the renders' fps before yielding (what the rate steps are shares of) */
  baselineFps: number | null;
  /** seconds renders on this zone have been paused by yielding, since start */
  pausedSeconds: number;
  /** seconds at any step > 0, since start */
  yieldingSeconds: number;
  powerLimit: { gpu: number; watts: number | null; defaultW: number | null; error: string | null }[];
  /** the render rate on each of the zone's GPUs: the one that applies, whose it is, and each layer's own */
  renderRate: { gpu: number; paused: boolean; fps: number | null; fpsFrom: 'operator' | 'yield' | null; operatorFps: number | null; yieldFps: number | null }[];
}

interface ZoneYield {
  s: YieldState;
  gpus: number[];
  reason: string;
  since: number | null;
  baselineFps: number | null;
  pausedS: number;
  yieldingS: number;
  lastAt: number | null;
}

interface GpuLimit {
  limits: PowerLimits | null;
  applied: number | null;
  error: string | null;
  /** refused for lack of privilege: not asked again until a restart */
  denied: boolean;
  chain: Promise<void>;
}

const EVENTS_KEPT = 50;

export class ThermalYield {
  private readonly zones = new Map<string, ZoneYield>();
  private readonly gpuLimits = new Map<number, GpuLimit>();
  private readonly recent: YieldEvent[] = [];
  private readonly now: () => number;

  constructor(
    private readonly cfg: YieldConfig,
    private readonly targets: YieldTargets,
    private readonly limiter: PowerLimiter | null,
    private readonly log: Logger,
    o: { now?: () => number } = {},
  ) {
    this.now = o.now ?? (() => performance.now() / 1000);
  }

  get enabled(): boolean {
    return this.cfg.enabled;
  }

  private limitingPower(): boolean {
    return this.cfg.powerLimit.enabled && this.limiter !== null;
  }

  private gpuLimit(gpu: number): GpuLimit {
    let g = this.gpuLimits.get(gpu);
    if (!g) this.gpuLimits.set(gpu, (g = { limits: null, applied: null, error: null, denied: false, chain: Promise.resolve() }));
    return g;
  }

  /** At start: a power limit left lowered (by a daemon that crashed while yielding) goes back to the default. */
  async start(gpus: number[]): Promise<void> {
    if (!this.limitingPower()) return;
    await Promise.all(
      gpus.map((gpu) =>
        this.queueLimit(gpu, async (g) => {
          const l = await this.limiter!.read(gpu);
          g.limits = l;
          if (l.currentW < l.defaultW - 0.5) {
            await this.limiter!.set(gpu, l.defaultW);
            this.log.warn({ gpu, from: l.currentW, to: l.defaultW }, `GPU ${gpu}: power limit ${l.currentW} W left lowered (by an earlier run?): back to its default ${l.defaultW} W`);
          }
        }),
      ),
    );
  }

  /** At stop: every GPU back to full speed and its default power limit. */
  async stop(): Promise<void> {
    for (const [id, z] of this.zones) {
      if (z.s.step === 0) continue;
      z.s = { ...z.s, step: 0 };
      this.apply(id, z, 'daemon stop');
    }
    await this.settled();
  }

  /** resolves once every power limit change asked for so far is done (or failed) */
  async settled(): Promise<void> {
    await Promise.all([...this.gpuLimits.values()].map((g) => g.chain));
  }

  /** One step for every zone; called after each control tick. Never throws at the loop. */
  update(readings: YieldZoneReading[]): void {
    if (!this.cfg.enabled) return;
    const now = this.now();
    for (const r of readings) {
      let z = this.zones.get(r.id);
      if (!z) this.zones.set(r.id, (z = { s: initialYield(), gpus: r.gpus, reason: 'not yielding', since: null, baselineFps: null, pausedS: 0, yieldingS: 0, lastAt: null }));
      if (z.lastAt !== null && z.s.step > 0) {
        const dt = now - z.lastAt;
        z.yieldingS += dt;
        if (speedOf(this.cfg, z.s.step) === 0) z.pausedS += dt;
      }
      z.lastAt = now;
      if (z.s.step === 0) this.observeBaseline(z);
      const d = stepYield(this.cfg, z.s, { now, temperature: r.temperature, duty: r.duty, ceiling: r.ceiling, failsafe: r.failsafe, criticalC: r.criticalC });
      z.s = d.state;
      if (!d.change) {
        if (z.s.step > 0) z.reason = d.reason;
        else z.reason = 'not yielding';
        continue;
      }
      z.reason = d.reason;
      z.since = z.s.step > 0 ? Date.now() : null;
      try {
        this.apply(r.id, z, d.reason);
      } catch (err) {
        this.log.error({ err, zone: r.id }, `zone "${r.id}": yielding failed: ${(err as Error).message}`);
      }
    }
  }

  /** the renders' speed while the zone runs free: what the rate steps are shares of */
  private observeBaseline(z: ZoneYield): void {
    const fps = this.targets.renders()?.runningFps() ?? [];
    const max = Math.max(0, ...fps);
    if (max > 0) z.baselineFps = z.baselineFps === null ? max : 0.7 * z.baselineFps + 0.3 * max;
  }

  private apply(zone: string, z: ZoneYield, reason: string): void {
    const step = z.s.step;
    const speed = speedOf(this.cfg, step);
    const why = `thermal yield (zone ${zone}, step ${step}/${this.cfg.steps.length}): ${reason}`;
    const renders = this.targets.renders();
    const live = this.cfg.live ? this.targets.live() : undefined;
    for (const gpu of z.gpus) {
      if (renders) {
        // a layer over the operator's pause and rate: lifting it leaves theirs as they are now.
        // Without a measured speed to take a share of, the rate waits for the pause step.
        const fps = speed > 0 && z.baselineFps !== null ? Math.max(0.1, speed * z.baselineFps) : null;
        renders.throttle.setYield(gpu, step === 0 ? null : { paused: speed === 0, fps }, why);
      }
      live?.setThermalFpsCap(gpu, step === 0 ? null : speed);
      if (this.limitingPower()) this.limitPower(gpu, step > 0);
    }
    const event: YieldEvent = { at: new Date().toISOString(), zone, step, speed, reason };
    this.recent.push(event);
    if (this.recent.length > EVENTS_KEPT) this.recent.shift();
    const msg =
      step === 0
        ? `zone "${zone}": synthesis on GPU ${z.gpus.join(', ')} back to full speed (${reason})`
        : `zone "${zone}": synthesis on GPU ${z.gpus.join(', ')} ${speed === 0 ? 'PAUSED (renders; live at its lowest fps)' : `slowed to ${Math.round(speed * 100)}%`} to stay under critical: ${reason}`;
    if (step === 0) this.log.info({ zone, step, speed }, msg);
    else this.log.warn({ zone, step, speed, baselineFps: z.baselineFps }, msg);
  }

  /** serialised per GPU: a change waits for the one before it */
  private queueLimit(gpu: number, f: (g: GpuLimit) => Promise<void>): Promise<void> {
    const g = this.gpuLimit(gpu);
    g.chain = g.chain
      .then(() => f(g))
      .then(
        () => void (g.error = null),
        (err: unknown) => {
          g.error = (err as Error).message;
          if (err instanceof PowerLimitError && err.denied) g.denied = true;
          this.log.error({ gpu, err: g.error }, `GPU ${gpu}: power limit not changed: ${g.error}`);
        },
      );
    return g.chain;
  }

  private limitPower(gpu: number, lower: boolean): void {
    const g = this.gpuLimit(gpu);
    if (g.denied) return;
    void this.queueLimit(gpu, async (gl) => {
      gl.limits ??= await this.limiter!.read(gpu);
      const l = gl.limits;
      if (lower) {
        const w = Math.max(l.minW, Math.round(this.cfg.powerLimit.share * l.defaultW));
        if (gl.applied === w) return;
        await this.limiter!.set(gpu, w);
        gl.applied = w;
        this.log.warn({ gpu, watts: w, defaultW: l.defaultW }, `GPU ${gpu}: power limit lowered to ${w} W (default ${l.defaultW} W) while its zone yields`);
      } else if (gl.applied !== null) {
        await this.limiter!.set(gpu, l.defaultW);
        gl.applied = null;
        this.log.info({ gpu, watts: l.defaultW }, `GPU ${gpu}: power limit back to its default ${l.defaultW} W`);
      }
    });
  }

  /** the zone's yield alarms: one while yielding, one while a power limit cannot be set */
  alarms(zone: string): RaisedAlarm[] {
    const z = this.zones.get(zone);
    if (!z) return [];
    const out: RaisedAlarm[] = [];
    if (z.s.step > 0) {
      const speed = speedOf(this.cfg, z.s.step);
      out.push({
        kind: 'thermal-yield',
        subject: zone,
        failsafe: false,
        message: `synthesis on GPU ${z.gpus.join(', ')} ${speed === 0 ? 'paused' : `at ${Math.round(speed * 100)}% speed`} (step ${z.s.step}/${this.cfg.steps.length}): ${z.reason}`,
      });
    }
    for (const gpu of z.gpus) {
      const g = this.gpuLimits.get(gpu);
      if (g?.error) out.push({ kind: 'power-limit-failed', subject: `gpu${gpu}`, failsafe: false, message: g.error });
    }
    return out;
  }

  view(): { enabled: boolean; powerLimit: boolean; zones: YieldZoneView[]; events: YieldEvent[] } {
    const rates = new Map((this.targets.renders()?.throttle.state() ?? []).map((g) => [g.gpu, g]));
    return {
      enabled: this.cfg.enabled,
      powerLimit: this.limitingPower(),
      zones: [...this.zones].map(([zone, z]) => ({
        zone,
        gpus: z.gpus,
        step: z.s.step,
        steps: this.cfg.steps.length,
        speed: speedOf(this.cfg, z.s.step),
        since: z.since === null ? null : new Date(z.since).toISOString(),
        reason: z.reason,
        riseCPerMinute: z.s.rise ? Math.round(z.s.rise.cPerS * 600) / 10 : null,
        baselineFps: z.baselineFps === null ? null : Math.round(z.baselineFps * 100) / 100,
        pausedSeconds: Math.round(z.pausedS * 10) / 10,
        yieldingSeconds: Math.round(z.yieldingS * 10) / 10,
        powerLimit: z.gpus.map((gpu) => {
          const g = this.gpuLimits.get(gpu);
          return { gpu, watts: g?.applied ?? null, defaultW: g?.limits?.defaultW ?? null, error: g?.error ?? null };
        }),
        renderRate: z.gpus.map((gpu) => {
          const r = rates.get(gpu);
          return { gpu, paused: r?.paused ?? false, fps: r?.fps ?? null, fpsFrom: r?.fpsFrom ?? null, operatorFps: r?.operator.fps ?? null, yieldFps: r?.yield?.fps ?? null };
        }),
      })),
      events: [...this.recent],
    };
  }

  /** the power limit each GPU runs under as far as yielding knows (the applied one, else the default) */
  powerLimits(): { gpu: number; watts: number }[] {
    return [...this.gpuLimits].flatMap(([gpu, g]) => {
      const w = g.applied ?? g.limits?.defaultW;
      return w === undefined ? [] : [{ gpu, watts: w }];
    });
  }
}
