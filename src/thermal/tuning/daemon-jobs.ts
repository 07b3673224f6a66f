/**
 * Fan measurement inside the daemon (it holds the cooler): one job at a time, run in the
 * background, its progress and result read through the API. While it runs the thermal service
 * holds the measured fans at the measurement's duties (no kick-start, no stall re-kick; see
 * ThermalService.holdFans); a zone failsafe still wins. On success the controllers take the fans
 * back at once; on failure or abort every fan stays at full for HOLD_FULL_AFTER_FAILURE_MS first.
 */
import type { Logger } from 'pino';
import type { ThermalService } from '../service/service.ts';
import { measureFans, saveFanReport, type FanReport, type FanRig } from './fan-measure.ts';
import { overSetpoint } from './fan-rig.ts';
import { TuningAbortedError } from './zone-io.ts';

export const HOLD_FULL_AFTER_FAILURE_MS = 30_000;

export interface MeasureJobState {
  state: 'idle' | 'running' | 'passed' | 'failed' | 'aborted' | 'error';
  fans: string[];
  startedAt: string | null;
  finishedAt: string | null;
  progress: { fan: string; phase: string; duty: number; rpm: number | null } | null;
  report: FanReport | null;
  /** why it stopped, for aborted/error */
  error: string | null;
  /** where the report was saved; null if not saved */
  savedTo: string | null;
}

export function serviceFanRig(service: ThermalService, wait: (s: number) => Promise<void>): FanRig {
  const all = service.fanConfigs.map((f) => f.id);
  return {
    fans: all,
    thermistors: service.cooler.info.thermistors,
    setDuties: async (d) => service.holdFans(d),
    async read() {
      const s = service.coolerState();
      if (!service.cooler.linkUp || !s) throw new Error('the cooler link is down');
      return s;
    },
    wait,
    async failsafe() {
      service.holdFans(Object.fromEntries(all.map((f) => [f, 1])));
    },
    async guard() {
      const zones = service.zoneIds().map((id) => service.zoneSlot(id)!.config);
      const latest = service.source.latest();
      return overSetpoint(zones, (g) => latest.get(g)?.temperatureC ?? null);
    },
  };
}

export class FanMeasureJob {
  private s: MeasureJobState = { state: 'idle', fans: [], startedAt: null, finishedAt: null, progress: null, report: null, error: null, savedTo: null };
  private release: NodeJS.Timeout | undefined;
  private cancelled: string | null = null;
  private readonly holdAfterFailureMs: number;
  private readonly settleS: number | undefined;

  constructor(
    private readonly service: ThermalService,
    private readonly log: Logger,
    o: { holdAfterFailureMs?: number; settleS?: number } = {},
  ) {
    this.holdAfterFailureMs = o.holdAfterFailureMs ?? HOLD_FULL_AFTER_FAILURE_MS;
    this.settleS = o.settleS;
  }

  /** every wait of the measurement: real time, and where a cancel lands */
  private readonly wait = async (s: number) => {
    await new Promise((r) => setTimeout(r, s * 1000));
    if (this.cancelled) throw new TuningAbortedError(this.cancelled);
  };

  /** stop a running measurement (fans to full, then back to control); false when none runs */
  cancel(why = 'cancelled through the API'): boolean {
    if (!this.running) return false;
    this.cancelled = why;
    return true;
  }

  get state(): MeasureJobState {
    return structuredClone(this.s);
  }

  get running(): boolean {
    return this.s.state === 'running';
  }

  /** starts in the background; throws RangeError for an unknown fan */
  start(fans?: string[]): Promise<void> {
    const all = this.service.fanConfigs.map((f) => f.id);
    const which = fans && fans.length ? fans : all;
    const unknown = which.filter((f) => !all.includes(f));
    if (unknown.length) throw new RangeError(`no fan ${unknown.map((f) => `"${f}"`).join(', ')} (fans: ${all.join(', ')})`);
    clearTimeout(this.release);
    this.cancelled = null;
    this.s = { state: 'running', fans: which, startedAt: new Date().toISOString(), finishedAt: null, progress: null, report: null, error: null, savedTo: null };
    this.log.warn({ fans: which }, 'fan measurement started: these fans leave thermal control (kick-start and stall re-kick off) until it ends');
    return this.run(which);
  }

  private async run(which: string[]): Promise<void> {
    try {
      const report = await measureFans(serviceFanRig(this.service, this.wait), {
        fans: which,
        settleS: this.settleS,
        onProgress: (fan, phase, duty, rpm) => void (this.s.progress = { fan, phase, duty, rpm }),
      });
      this.s.report = report;
      this.s.state = report.pass ? 'passed' : 'failed';
      const dir = this.service.stateDir;
      if (dir) {
        const saved = await saveFanReport(dir, report);
        this.s.savedTo = saved.path;
        if (saved.setAside) this.log.error({ path: saved.path, problem: saved.setAside.problem, movedTo: saved.setAside.to }, `${saved.setAside.problem}; moved aside to ${saved.setAside.to} (the other fans' figures are there); saved this measurement alone`);
      }
      this.service.holdFans(null);
      this.log.info({ pass: report.pass, savedTo: this.s.savedTo, fans: report.fans.map((f) => ({ id: f.id, pass: f.pass, minDuty: f.minDuty, startDuty: f.startDuty, maxRpm: f.maxRpm })) }, 'fan measurement done; the measured figures apply from the next start');
    } catch (err) {
      this.s.state = err instanceof TuningAbortedError ? 'aborted' : 'error';
      this.s.error = (err as Error).message;
      this.log.error({ err }, `fan measurement stopped: ${(err as Error).message}; every fan at full for ${this.holdAfterFailureMs / 1000} s, then back to thermal control`);
      this.service.holdFans(Object.fromEntries(this.service.fanConfigs.map((f) => [f.id, 1])));
      this.release = setTimeout(() => this.service.holdFans(null), this.holdAfterFailureMs);
      this.release.unref();
    } finally {
      this.s.finishedAt = new Date().toISOString();
    }
  }

  /** daemon stop: the measurement ends, no timer is left behind (the stop puts the fans to full) */
  close(): void {
    this.cancel('the daemon is stopping');
    clearTimeout(this.release);
  }
}
