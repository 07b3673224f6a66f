import { describe, expect, it } from 'vitest';
import { effectivePatch, provenance, pushTuning, switchMode, type TuningLayer } from '../../../src/thermal/modes/layers.ts';

const tuning = (patch: object, at = 't1'): TuningLayer => ({ source: { kind: 'tuning' }, at, patch });
const auto = (patch: object, at = 't2'): TuningLayer => ({ source: { kind: 'autotune' }, at, patch });

describe('tuning layers', () => {
  it('the last one applied wins, setting by setting, whatever its kind', () => {
    let l = pushTuning([], tuning({ pid: { setpoint: 70, kp: 0.02 }, maxDuty: 0.9 }));
    l = switchMode(l, { name: 'quiet', patch: { pid: { setpoint: 80 }, slewUpPerSecond: 0.1 }, at: 't2' });
    l = pushTuning(l, auto({ pid: { kp: 0.05, ki: 0.001 } }, 't3'));
    expect(effectivePatch(l)).toEqual({ pid: { setpoint: 80, kp: 0.05, ki: 0.001 }, maxDuty: 0.9, slewUpPerSecond: 0.1 });
    const p = provenance({ mode: 'pid', maxDuty: 1, slewUpPerSecond: 0.5, pid: { setpoint: 78, kp: 0.018, ki: 1e-4 } }, l);
    expect(p).toEqual({
      mode: { source: 'config' },
      maxDuty: { source: 'tuning', at: 't1' },
      slewUpPerSecond: { source: 'mode', mode: 'quiet', at: 't2' },
      'pid.setpoint': { source: 'mode', mode: 'quiet', at: 't2' },
      'pid.kp': { source: 'autotune', at: 't3' },
      'pid.ki': { source: 'autotune', at: 't3' },
    });
    // the autotune's kp replaced the tuning's: no dead settings kept
    expect(l.map((x) => [x.source.kind, x.patch])).toEqual([
      ['tuning', { pid: { setpoint: 70 }, maxDuty: 0.9 }],
      ['mode', { pid: { setpoint: 80 }, slewUpPerSecond: 0.1 }],
      ['autotune', { pid: { kp: 0.05, ki: 0.001 } }],
    ]);
  });

  it('a tuning after a mode wins over it; switching modes takes the old mode away and the tuning beneath shows again', () => {
    let l = pushTuning([], tuning({ pid: { setpoint: 70 } }));
    l = switchMode(l, { name: 'a', patch: { pid: { setpoint: 80 }, maxDuty: 0.8 }, at: 't2' });
    l = pushTuning(l, tuning({ maxDuty: 0.95 }, 't3'));
    expect(effectivePatch(l)).toEqual({ pid: { setpoint: 80 }, maxDuty: 0.95 });
    l = switchMode(l, { name: 'b', patch: { minDuty: 0.3 }, at: 't4' });
    expect(effectivePatch(l)).toEqual({ pid: { setpoint: 70 }, maxDuty: 0.95, minDuty: 0.3 });
    l = switchMode(l, null);
    expect(effectivePatch(l)).toEqual({ pid: { setpoint: 70 }, maxDuty: 0.95 });
    expect(l.every((x) => x.source.kind !== 'mode')).toBe(true);
  });

  it('consecutive tunings of one kind merge into one layer; lists are one setting', () => {
    let l = pushTuning([], tuning({ curve: [[40, 0], [90, 1]] }));
    l = pushTuning(l, tuning({ curve: [[30, 0], [80, 1]], fixedDuty: 0.4 }, 't5'));
    expect(l).toEqual([tuning({ curve: [[30, 0], [80, 1]], fixedDuty: 0.4 }, 't5')]);
  });
});
