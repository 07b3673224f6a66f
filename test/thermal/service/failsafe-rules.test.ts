/** Each failsafe rule of the thermal loop on its own: when it holds a zone at full fans, and what it says. */
import { describe, expect, it } from 'vitest';
import type { ZoneStepOutput } from '../../../src/thermal/control/index.ts';
import type { GpuSample } from '../../../src/thermal/sensors/types.ts';
import {
  FAILSAFE_REASONS,
  badFanDuty,
  controllerAlarms,
  controllerThrew,
  coolerInFailsafe,
  coolerLinkLost,
  critical,
  daemonStop,
  notStarted,
  gpuSample,
  sensorProcessDown,
  tuningNotSaved,
} from '../../../src/thermal/service/failsafe-rules.ts';

const sample = (over: Partial<GpuSample> = {}): GpuSample => ({
  index: 0,
  uuid: 'GPU-a',
  temperatureC: 60,
  powerW: 120,
  utilization: 0.5,
  throttleMask: 0,
  throttleReasons: [],
  receivedAt: 10_000,
  source: 'nvidia-smi',
  ...over,
});
const at = { nowMs: 10_500, staleAfterMs: 3000, missing: false, sourceKind: 'nvidia-smi' };

function out(over: Partial<ZoneStepOutput> = {}): ZoneStepOutput {
  return { duty: 0.4, fanDuties: { a: 0.4, b: 0 }, fans: {}, terms: { p: 0, i: 0, d: 0, ff: 0 }, demand: 0.4, temperature: 60, alarms: [], failsafe: false, mode: 'pid', setpoint: 70, stopped: false, ambientC: 30, ambientSource: 'config', ...over };
}

describe('failsafe rules', () => {
  it('daemon stop: every zone to full while stopping', () => {
    expect(daemonStop('z0', false)).toBeNull();
    expect(daemonStop('z0', true)).toEqual({ kind: 'daemon-stop', subject: 'z0', message: 'the daemon is stopping: fans at full', failsafe: true });
  });

  it('sensor process down: names the source and its last error', () => {
    expect(sensorProcessDown({ kind: 'nvidia-smi', running: true, lastError: 'old' })).toBeNull();
    expect(sensorProcessDown({ kind: 'nvidia-smi', running: false, lastError: 'exited with code 9' })).toEqual({
      kind: 'nvidia-smi-down',
      subject: 'nvidia-smi',
      message: 'the nvidia-smi sensor process is not running (exited with code 9)',
      failsafe: true,
    });
  });

  it('cooler link lost: with the link error when there is one', () => {
    expect(coolerLinkLost(true, 'x')).toBeNull();
    expect(coolerLinkLost(false, null)).toMatchObject({ kind: 'cooler-link-lost', subject: 'cooler', message: 'the cooler link is down or not answering', failsafe: true });
    expect(coolerLinkLost(false, 'timeout')?.message).toBe('the cooler link is down or not answering (timeout)');
  });

  it("cooler's own failsafe: news only on a read sent after it took our duties, or assumed with the link down", () => {
    expect(coolerInFailsafe(null, true)).toBeNull();
    expect(coolerInFailsafe({ failsafe: false }, true)).toBeNull();
    expect(coolerInFailsafe({ failsafe: null }, true)).toBeNull();
    // its power-on mode, the one it kept while the link was away, or the one we commanded: the next duties end it
    expect(coolerInFailsafe({ failsafe: true }, false)).toBeNull();
    expect(coolerInFailsafe({ failsafe: true }, true)).toMatchObject({ kind: 'cooler-failsafe', subject: 'cooler', message: expect.stringContaining('reports its own failsafe since it took our duties'), failsafe: false });
    expect(coolerInFailsafe({ failsafe: true, failsafeAssumed: true }, false)).toMatchObject({ kind: 'cooler-failsafe', message: expect.stringContaining('must be in its own failsafe by now'), failsafe: false });
  });

  it('GPU sample: a fresh one gives its temperature and power; missing, absent, stale or empty ones give an alarm and no temperature', () => {
    expect(gpuSample(0, sample(), at)).toEqual({ temperature: 60, power: 120, alarm: null });
    expect(gpuSample(3, undefined, at)).toMatchObject({ temperature: null, power: null, alarm: { kind: 'sensor-missing', subject: 'gpu3', message: 'no sample from GPU 3 yet', failsafe: true } });
    expect(gpuSample(0, sample(), { ...at, missing: true })).toMatchObject({ temperature: null, power: 120, alarm: { kind: 'sensor-missing', message: 'GPU 0 is missing from the nvidia-smi output' } });
    expect(gpuSample(0, sample({ temperatureC: null }), at)).toMatchObject({ temperature: null, alarm: { kind: 'sensor-missing', message: 'GPU 0 reports no temperature' } });
    // stale: just over the limit; its power is not used either
    expect(gpuSample(0, sample({ receivedAt: 10_500 - 3001 }), at)).toMatchObject({ temperature: null, power: null, alarm: { kind: 'sensor-stale', message: "GPU 0's last sample is 3.0 s old (limit 3 s)" } });
    expect(gpuSample(0, sample({ receivedAt: 10_500 - 3000 }), at).alarm).toBeNull();
  });

  it('critical: at or above the limit, latched until 3 C below it; no reading leaves the latch alone', () => {
    const latched = new Set<number>();
    expect(critical(0, 89.9, 90, latched)).toBeNull();
    expect(critical(0, 90, 90, latched)).toMatchObject({ kind: 'critical', subject: 'gpu0', message: 'GPU 0 at 90 C, at or above the critical 90 C', failsafe: true });
    expect(critical(0, 88, 90, latched)?.kind).toBe('critical');
    expect(critical(0, null, 90, latched)).toBeNull();
    expect(latched.has(0)).toBe(true);
    expect(critical(0, 87.5, 90, latched)?.kind).toBe('critical');
    expect(critical(0, 87, 90, latched)).toBeNull();
    expect(latched.has(0)).toBe(false);
    expect(critical(0, 88, 90, latched)).toBeNull();
  });

  it('controller: a throw is a failsafe naming the error', () => {
    expect(controllerThrew('z0', new Error('NaN in the integrator'))).toEqual({ kind: 'controller-error', subject: 'z0', message: 'controller failed: NaN in the integrator', failsafe: true });
  });

  it('controller alarms: non-finite, sensor-missing and critical hold the fans when the step was a failsafe; fan-stalled informs; echoes of a forced zone are dropped', () => {
    const o = out({ failsafe: true, alarms: ['controller-non-finite:integral', 'sensor-missing:gpu1', 'critical:91.0C>=90C', 'fan-stalled:a'] });
    expect(controllerAlarms('z0', o, false)).toEqual([
      { kind: 'controller-non-finite', subject: 'integral', message: 'controller-non-finite:integral', failsafe: true },
      { kind: 'sensor-missing', subject: 'gpu1', message: 'sensor-missing:gpu1', failsafe: true },
      { kind: 'critical', subject: '91.0C>=90C', message: 'critical:91.0C>=90C', failsafe: true },
      { kind: 'fan-stalled', subject: 'a', message: 'fan-stalled:a', failsafe: false },
    ]);
    expect(controllerAlarms('z0', o, true).map((a) => a.kind)).toEqual(['controller-non-finite', 'fan-stalled']);
    expect(controllerAlarms('z0', out({ alarms: ['fan-stalled:b'] }), false)).toEqual([{ kind: 'fan-stalled', subject: 'b', message: 'fan-stalled:b', failsafe: false }]);
  });

  it('fan duties: anything not a number in 0..1 is a controller error', () => {
    expect(badFanDuty('z0', out())).toBeNull();
    expect(badFanDuty('z0', out({ fanDuties: { a: 0.4, b: Number.NaN } }))).toEqual({ kind: 'controller-error', subject: 'z0', message: 'controller gave fan b the duty NaN (expected a number in 0..1)', failsafe: true });
    expect(badFanDuty('z0', out({ fanDuties: { a: 1.5 } }))?.message).toMatch(/fan a the duty 1\.5/);
    expect(badFanDuty('z0', out({ fanDuties: { a: -0.1 } }))?.kind).toBe('controller-error');
  });

  it('tuning not saved: an alarm that informs, never a failsafe', () => {
    expect(tuningNotSaved(null)).toBeNull();
    expect(tuningNotSaved('/s/thermal-tuning.json: ENOSPC')).toEqual({
      kind: 'tuning-not-saved',
      subject: 'state-file',
      message: 'run-time tuning in effect but not saved (/s/thermal-tuning.json: ENOSPC): a restart goes back to the last saved settings',
      failsafe: false,
    });
  });

  it('every failsafe kind a rule raises is a listed reason (the metrics export one series per reason)', () => {
    const kinds = [notStarted('z'), daemonStop('z', true), sensorProcessDown({ kind: 'k', running: false, lastError: null }), coolerLinkLost(false, null), gpuSample(0, undefined, at).alarm, gpuSample(0, sample({ receivedAt: 0 }), at).alarm, critical(0, 99, 90, new Set()), controllerThrew('z', new Error('x')), badFanDuty('z', out({ fanDuties: { a: 2 } }))].map((a) => a!.kind);
    kinds.push(...controllerAlarms('z', out({ failsafe: true, alarms: ['controller-non-finite:p'] }), false).map((a) => a.kind));
    for (const k of kinds) expect(FAILSAFE_REASONS as readonly string[]).toContain(k);
  });
});
