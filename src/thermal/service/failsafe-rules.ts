/**
 * The thermal loop's failsafe rules, one function each. Given what the loop knows this tick,
 * each says whether a zone must go to full fans and why (an alarm), or returns null. They read
 * no clock and do no I/O, so each rule is tested on its own; the service composes them per zone
 * per tick, and any raised failsafe alarm puts that zone's fans at 100%.
 */
import type { ZoneStepOutput } from '../control/index.ts';
import type { GpuSample } from '../sensors/types.ts';
import { CRITICAL_CLEAR_K } from '../rules.ts';

export const FAILSAFE_REASONS = ['sensor-stale', 'sensor-missing', 'critical', 'nvidia-smi-down', 'cooler-link-lost', 'controller-error', 'controller-non-finite', 'not-started', 'daemon-stop'] as const;
export type FailsafeReason = (typeof FAILSAFE_REASONS)[number];

/** controller alarms that hold the zone at full (the others, e.g. fan-stalled, only inform) */
const CONTROLLER_FAILSAFES: ReadonlySet<string> = new Set(['sensor-missing', 'critical', 'controller-non-finite']);

export interface RaisedAlarm {
  /** failsafe reason or controller alarm kind, e.g. 'sensor-stale', 'fan-stalled' */
  kind: string;
  /** what it is about: 'gpu1', a fan id, 'nvidia-smi', 'cooler', the zone id */
  subject: string;
  message: string;
  /** the alarm holds the zone's fans at full */
  failsafe: boolean;
}

const failsafe = (kind: FailsafeReason, subject: string, message: string): RaisedAlarm => ({ kind, subject, message, failsafe: true });

/**
 * The loop has not started yet (the cooler unit it waits on is still opening its port): nothing
 * controls the fans, so no zone may read as under control. Held from the service's making until
 * its first tick.
 */
export function notStarted(zoneId: string): RaisedAlarm {
  return failsafe('not-started', zoneId, 'thermal control has not started yet (it starts once the cooler is open): nothing controls the fans');
}

/** The daemon is stopping: every zone to full before the process goes. */
export function daemonStop(zoneId: string, stopping: boolean): RaisedAlarm | null {
  return stopping ? failsafe('daemon-stop', zoneId, 'the daemon is stopping: fans at full') : null;
}

/** The process that reads the GPUs (nvidia-smi) is dead or restarting: no reading can be trusted. */
export function sensorProcessDown(source: { kind: string; running: boolean; lastError: string | null }): RaisedAlarm | null {
  if (source.running) return null;
  return failsafe('nvidia-smi-down', source.kind, `the ${source.kind} sensor process is not running${source.lastError ? ` (${source.lastError})` : ''}`);
}

/** The cooler link is down or its commands go unanswered: the duties may not arrive. */
export function coolerLinkLost(linkOk: boolean, lastError: string | null): RaisedAlarm | null {
  if (linkOk) return null;
  return failsafe('cooler-link-lost', 'cooler', `the cooler link is down or not answering${lastError ? ` (${lastError})` : ''}`);
}

/**
 * The cooler runs its own failsafe (its watchdog tripped because no command reached it in time,
 * it restarted, or something told it to): its fans run at its failsafe duty, not at the duties
 * commanded. Informs: the fans are already at that duty, and the next command that reaches it
 * ends it. A failsafe read is news only when the read was sent after the device had taken our
 * duties since the link came up (`readAfterDuties`, CoolerIo): before that it is the firmware's
 * power-on mode, or the one it kept while the link was away, or the one we commanded, each ended
 * by the loop's next duties (it raised for a tick at every start and reconnection). One assumed
 * while the link is down is raised regardless: nothing will end it until the link is back.
 */
export function coolerInFailsafe(state: { failsafe: boolean | null; failsafeAssumed?: boolean } | null, readAfterDuties: boolean): RaisedAlarm | null {
  if (state?.failsafe !== true) return null;
  if (!state.failsafeAssumed && !readAfterDuties) return null;
  const message = state.failsafeAssumed
    ? 'the cooler must be in its own failsafe by now (no command can have reached it within its watchdog time): fans at its failsafe duty, not the duties commanded'
    : 'the cooler reports its own failsafe since it took our duties (its watchdog tripped with the host quiet, or it restarted, or it was told to): fans at its failsafe duty, not the duties commanded';
  return { kind: 'cooler-failsafe', subject: 'cooler', message, failsafe: false };
}

export interface GpuReading {
  /** the temperature the controller may use; null when the sample is missing, stale or empty */
  temperature: number | null;
  /** power for the feed-forward: only from a sample that is not stale */
  power: number | null;
  alarm: RaisedAlarm | null;
}

/** One zone GPU's latest sample: missing, absent from the output, stale, or without a temperature. */
export function gpuSample(gpu: number, sample: GpuSample | undefined, at: { nowMs: number; staleAfterMs: number; missing: boolean; sourceKind: string }): GpuReading {
  const age = sample ? at.nowMs - sample.receivedAt : Infinity;
  const power = sample && age <= at.staleAfterMs ? sample.powerW : null;
  const subject = `gpu${gpu}`;
  if (!sample) return { temperature: null, power, alarm: failsafe('sensor-missing', subject, `no sample from GPU ${gpu} yet`) };
  if (at.missing) return { temperature: null, power, alarm: failsafe('sensor-missing', subject, `GPU ${gpu} is missing from the ${at.sourceKind} output`) };
  if (age > at.staleAfterMs) {
    return { temperature: null, power, alarm: failsafe('sensor-stale', subject, `GPU ${gpu}'s last sample is ${(age / 1000).toFixed(1)} s old (limit ${at.staleAfterMs / 1000} s)`) };
  }
  if (sample.temperatureC === null) return { temperature: null, power, alarm: failsafe('sensor-missing', subject, `GPU ${gpu} reports no temperature`) };
  return { temperature: sample.temperatureC, power, alarm: null };
}

/**
 * A GPU at or above criticalCelsius. Latched in `latched` (updated here) until it falls
 * CRITICAL_CLEAR_K below, so a temperature on the line does not flap the fans. No reading this
 * tick leaves the latch as it was (another rule holds the fans meanwhile).
 */
export function critical(gpu: number, temperature: number | null, criticalCelsius: number, latched: Set<number>): RaisedAlarm | null {
  if (temperature === null) return null;
  if (temperature >= criticalCelsius || (latched.has(gpu) && temperature > criticalCelsius - CRITICAL_CLEAR_K)) {
    latched.add(gpu);
    return failsafe('critical', `gpu${gpu}`, `GPU ${gpu} at ${temperature} C, at or above the critical ${criticalCelsius} C`);
  }
  latched.delete(gpu);
  return null;
}

/** The zone controller threw. */
export function controllerThrew(zoneId: string, err: unknown): RaisedAlarm {
  return failsafe('controller-error', zoneId, `controller failed: ${(err as Error).message}`);
}

/**
 * The controller's own alarms ('kind:subject'): a non-finite term, a missing sensor or critical
 * temperature it saw hold the fans; the others (fan-stalled) inform. When the service already
 * forced the zone, the controller's sensor-missing/critical echo adds nothing.
 */
export function controllerAlarms(zoneId: string, out: ZoneStepOutput, forced: boolean): RaisedAlarm[] {
  const raised: RaisedAlarm[] = [];
  for (const a of out.alarms) {
    const k = a.indexOf(':');
    const kind = k < 0 ? a : a.slice(0, k);
    if (forced && (kind === 'sensor-missing' || kind === 'critical')) continue;
    raised.push({ kind, subject: k < 0 ? zoneId : a.slice(k + 1), message: a, failsafe: out.failsafe && CONTROLLER_FAILSAFES.has(kind) });
  }
  return raised;
}

/** Whatever the controller says, a fan duty that is not a number in 0..1 must not reach the fans. */
export function badFanDuty(zoneId: string, out: ZoneStepOutput): RaisedAlarm | null {
  const bad = Object.entries(out.fanDuties).find(([, d]) => !(d >= 0 && d <= 1));
  return bad ? failsafe('controller-error', zoneId, `controller gave fan ${bad[0]} the duty ${bad[1]} (expected a number in 0..1)`) : null;
}

/** The zone's run-time tuning is in effect but not in the state file (informs; fans unaffected). */
export function tuningNotSaved(error: string | null): RaisedAlarm | null {
  if (error === null) return null;
  return { kind: 'tuning-not-saved', subject: 'state-file', message: `run-time tuning in effect but not saved (${error}): a restart goes back to the last saved settings`, failsafe: false };
}
