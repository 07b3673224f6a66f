/** Experiments through a running daemon's API: the zone is held in fixed mode, given back, or left at full on failure; gains applied by PATCH. */
import { afterEach, describe, expect, it } from 'vitest';
import { harness, untilAsync, type Harness } from '../service/harness.ts';
import { daemonZoneIo, type Api } from '../../../src/thermal/tuning/daemon-io.ts';
import { tuningPatch } from '../../../src/thermal/tuning/autotune.ts';
import { guardedSample } from '../../../src/thermal/tuning/step.ts';
import { TuningAbortedError } from '../../../src/thermal/tuning/zone-io.ts';
import type { ZoneView } from '../../../src/thermal/service/view.ts';

const opened: Harness[] = [];
afterEach(async () => {
  await Promise.all(opened.map((h) => h.close()));
  opened.length = 0;
});

function apiOf(h: Harness): Api {
  return async <T>(path: string, init?: { method: string; body?: unknown }) => {
    const r = await h.app.inject({ method: (init?.method ?? 'GET') as 'GET', url: path, payload: init?.body as object | undefined });
    if (r.statusCode >= 400) throw new Error(`${init?.method ?? 'GET'} ${path}: ${r.statusCode} ${r.body}`);
    return r.json() as T;
  };
}

describe('daemonZoneIo', () => {
  it('holds the zone at the experiment duty (fixed, no slew) and gives its settings back', async () => {
    const h = await harness({ zone: { mode: 'pid', pid: { setpoint: 70 } } });
    opened.push(h);
    await h.underControl();
    const io = daemonZoneIo(apiOf(h), 'gpu0', { periodS: 0.05, sleep: (s) => new Promise((r) => setTimeout(r, s * 1000)) });
    const before = await io.begin();
    expect(before.tuned).toBeNull();
    await io.setDuty(0.7);
    await untilAsync('duty 0.7 at the plant', async () => Math.abs(h.plantDuties().reduce((s, d) => s + d, 0) / 3 - 0.7) < 0.02);
    const s = await io.sample();
    expect(s).toMatchObject({ duty: 0.7, temperature: expect.any(Number), rpm: expect.any(Number) });
    await io.restore();
    const after = await h.zone();
    expect(after).toMatchObject({ mode: 'pid', tuned: null });
  });

  it('gives back the zone as it was under a mode: the mode keeps its settings (clearing it later takes them away), tunings and autotune results keep theirs', async () => {
    const h = await harness({
      zone: { mode: 'pid', pid: { setpoint: 70 } },
      thermal: { modes: [{ name: 'stage-quiet', all: { pid: { setpoint: 80 }, slewUpPerSecond: 0.05 } }] },
    });
    opened.push(h);
    await h.underControl();
    const api = apiOf(h);
    await api('/v1/thermal/mode', { method: 'PUT', body: { name: 'stage-quiet' } });
    await api('/v1/thermal/zones/gpu0', { method: 'PATCH', body: { minDuty: 0.25 } });
    await api('/v1/thermal/zones/gpu0?source=autotune', { method: 'PATCH', body: { pid: { kp: 0.03 } } });
    const io = daemonZoneIo(api, 'gpu0', { periodS: 0.05 });
    const before = await io.begin();
    await io.setDuty(0.6);
    await io.restore();
    const after = await h.zone();
    expect(after.settings).toEqual(before.settings);
    const sources = (z: ZoneView) => Object.fromEntries(Object.entries(z.provenance).map(([k, v]) => [k, v.source === 'mode' ? `mode ${v.mode}` : v.source]));
    expect(sources(after)).toEqual(sources(before));
    // the experiment made the mode's settings a tuning: clearing the mode left setpoint 80 and the slow slew
    await api('/v1/thermal/mode', { method: 'DELETE' });
    const cleared = await h.zone();
    expect(cleared).toMatchObject({ setpoint: 70, settings: { slewUpPerSecond: 0.5, minDuty: 0.25, pid: { kp: 0.03 } } });
    expect(cleared.provenance['pid.setpoint']).toEqual({ source: 'config' });
  });

  it('above the limit: fans to full and the zone stays there; an applied proposal reaches the zone', async () => {
    const h = await harness({ zone: { mode: 'pid', pid: { setpoint: 70 } } });
    opened.push(h);
    await h.underControl();
    const io = daemonZoneIo(apiOf(h), 'gpu0');
    await io.begin();
    await io.setDuty(0.5);
    const err = await guardedSample(io, [], 0).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TuningAbortedError);
    await untilAsync('fans at full', async () => h.plantDuties().every((d) => d === 1));
    expect(await h.zone()).toMatchObject({ mode: 'fixed', settings: { fixedDuty: 1 } });
    const patched = await apiOf(h)<ZoneView>('/v1/thermal/zones/gpu0', { method: 'PATCH', body: { mode: 'pid', ...tuningPatch({ kp: 0.05, ki: 0.000528, kd: 0 }) } });
    expect(patched.settings.pid).toMatchObject({ kp: 0.05, ki: 0.000528, kiWithoutFeedForward: 0.000528, kd: 0 });
    expect(patched.persisted).toBe(true);
  });
});
