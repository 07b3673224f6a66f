/**
 * Modes through /v1/thermal (fastify inject, the real service on the simulator): switched as one
 * over every zone, the last applied wins against tunings and autotune results, each setting says
 * where it came from, a switch is checked whole, and the mode and layers survive a restart.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../../src/config/load.ts';
import { ConfigError } from '../../../src/config/errors.ts';
import type { ModesView } from '../../../src/thermal/modes/api.ts';
import type { ThermalView, ZoneView } from '../../../src/thermal/service/view.ts';
import { harness, type Harness } from '../service/harness.ts';

const MODES = [
  { name: 'stage-quiet', description: 'quiet fans on stage', all: { pid: { setpoint: 80 }, slewUpPerSecond: 0.05 }, zones: { gpu1: { maxDuty: 0.8 } } },
  { name: 'studio-render', zones: { gpu0: { pid: { setpoint: 65 }, minDuty: 0.3 } } },
];

const opened: Harness[] = [];
afterEach(async () => {
  await Promise.all(opened.map((h) => h.close()));
  opened.length = 0;
});
async function open(stateDir?: string) {
  const h = await harness({ gpus: 2, zone: { mode: 'pid', pid: { setpoint: 70 } }, thermal: { modes: MODES }, ...(stateDir ? { stateDir } : {}) });
  opened.push(h);
  return h;
}
const zone = async (h: Harness, id: string) => (await h.app.inject(`/v1/thermal/zones/${id}`)).json<ZoneView>();
const put = (h: Harness, name: string | null) => h.app.inject({ method: 'PUT', url: '/v1/thermal/mode', payload: { name } });

describe('thermal modes over the API', () => {
  it('GET lists the modes with what each sets; PUT switches every zone as one; provenance names the mode', async () => {
    const h = await open();
    const list = (await h.app.inject('/v1/thermal/mode')).json<ModesView>();
    expect(list).toEqual({
      active: null,
      modes: [
        { name: 'stage-quiet', description: 'quiet fans on stage', zones: { gpu0: ['pid.setpoint', 'slewUpPerSecond'], gpu1: ['pid.setpoint', 'slewUpPerSecond', 'maxDuty'] } },
        { name: 'studio-render', description: null, zones: { gpu0: ['pid.setpoint', 'minDuty'] } },
      ],
    });
    const r = await put(h, 'stage-quiet');
    expect(r.statusCode).toBe(200);
    expect(r.json<ModesView>()).toMatchObject({ active: { name: 'stage-quiet', at: expect.any(String) }, persisted: true });
    const [z0, z1] = [await zone(h, 'gpu0'), await zone(h, 'gpu1')];
    expect([z0.setpoint, z1.setpoint, z1.settings.maxDuty, z0.settings.maxDuty]).toEqual([80, 80, 0.8, 1]);
    expect(z1.provenance['pid.setpoint']).toEqual({ source: 'mode', mode: 'stage-quiet', at: expect.any(String) });
    expect(z1.provenance.maxDuty).toMatchObject({ source: 'mode', mode: 'stage-quiet' });
    expect(z1.provenance['pid.kp']).toEqual({ source: 'config' });
    // the weaker ceiling is said, as for any tuning
    expect(z1.tuningWarnings.join()).toMatch(/maxDuty 0.8 under the config file's 1/);
    expect((await h.state()).mode).toEqual({ active: { name: 'stage-quiet', at: expect.any(String) } });
  });

  it('the last applied wins: a tuning over a mode, an autotune after it, and a switch takes the old mode away', async () => {
    const h = await open();
    // a tuning first, then the mode over it
    expect((await h.app.inject({ method: 'PATCH', url: '/v1/thermal/zones/gpu0', payload: { pid: { setpoint: 72, kp: 0.03 } } })).statusCode).toBe(200);
    await put(h, 'studio-render');
    let z = await zone(h, 'gpu0');
    expect([z.setpoint, z.settings.pid.kp, z.settings.minDuty]).toEqual([65, 0.03, 0.3]);
    expect(z.provenance['pid.setpoint']).toMatchObject({ source: 'mode', mode: 'studio-render' });
    expect(z.provenance['pid.kp']).toMatchObject({ source: 'tuning', at: expect.any(String) });
    // an autotune result after the mode wins over it where it sets something
    const at = await h.app.inject({ method: 'PATCH', url: '/v1/thermal/zones/gpu0?source=autotune', payload: { pid: { kp: 0.05, ki: 0.0002 } } });
    expect(at.statusCode).toBe(200);
    z = at.json<ZoneView>();
    expect(z.provenance['pid.kp']).toMatchObject({ source: 'autotune' });
    expect(z.provenance['pid.ki']).toMatchObject({ source: 'autotune' });
    // a later tuning wins over the mode's setpoint
    z = (await h.app.inject({ method: 'PATCH', url: '/v1/thermal/zones/gpu0', payload: { pid: { setpoint: 68 } } })).json<ZoneView>();
    expect(z.setpoint).toBe(68);
    expect(z.provenance['pid.setpoint']).toMatchObject({ source: 'tuning' });
    expect(z.provenance.minDuty).toMatchObject({ source: 'mode', mode: 'studio-render' });
    // switching modes: studio-render's minDuty goes back to the config's; stage-quiet comes on top
    await put(h, 'stage-quiet');
    z = await zone(h, 'gpu0');
    expect([z.setpoint, z.settings.minDuty, z.settings.slewUpPerSecond, z.settings.pid.kp]).toEqual([80, 0.2, 0.05, 0.05]);
    expect(z.provenance.minDuty).toEqual({ source: 'config' });
    // no mode: the tunings under it show again
    const off = await h.app.inject({ method: 'DELETE', url: '/v1/thermal/mode' });
    expect(off.json<ModesView>().active).toBeNull();
    z = await zone(h, 'gpu0');
    expect([z.setpoint, z.settings.slewUpPerSecond, z.settings.pid.kp]).toEqual([68, 0.5, 0.05]);
    expect(z.tuned).toEqual({ pid: { setpoint: 68, kp: 0.05, ki: 0.0002 } });
    // PUT of a zone starts from the config file again: its mode layer goes too
    await put(h, 'stage-quiet');
    z = (await h.app.inject({ method: 'PUT', url: '/v1/thermal/zones/gpu0', payload: { fixedDuty: 0.6 } })).json<ZoneView>();
    expect([z.setpoint, z.settings.fixedDuty]).toEqual([70, 0.6]);
    expect(Object.values(z.provenance).filter((p) => p.source !== 'config')).toEqual([{ source: 'tuning', at: expect.any(String) }]);
  });

  it('bad switches: 404 naming the modes, 400 for a body without a name, 400 naming the zone when a mode breaks a rule with the tunings under it; nothing changes', async () => {
    const h = await open();
    let r = await put(h, 'disco');
    expect(r.statusCode).toBe(404);
    expect(r.json().message).toBe('no mode "disco" (modes: stage-quiet, studio-render)');
    r = await h.app.inject({ method: 'PUT', url: '/v1/thermal/mode', payload: { mode: 'stage-quiet' } });
    expect(r.statusCode).toBe(400);
    expect(r.json().message).toMatch(/name/);
    // "" is not the null that clears the mode (ajv's coercion made it one: a 200 that cleared it)
    r = await h.app.inject({ method: 'PUT', url: '/v1/thermal/mode', payload: { name: '' } });
    expect(r.statusCode).toBe(400);
    expect(r.json().message).toBe('body/name must NOT have fewer than 1 characters');
    r = await h.app.inject({ method: 'PATCH', url: '/v1/thermal/zones/gpu0?source=oracle', payload: { maxDuty: 0.9 } });
    expect(r.statusCode).toBe(400);
    expect(r.json().message).toMatch(/querystring\/source/);
    // maxDuty 0.25 by hand, then a mode raising minDuty to 0.3 over it: refused whole
    await h.app.inject({ method: 'PATCH', url: '/v1/thermal/zones/gpu0', payload: { maxDuty: 0.25 } });
    r = await put(h, 'studio-render');
    expect(r.statusCode).toBe(400);
    expect(r.json().message).toBe('mode "studio-render" does not fit the zones as tuned now: zone "gpu0": minDuty: must be <= maxDuty (0.25)');
    const z = await zone(h, 'gpu0');
    expect([z.setpoint, z.settings.minDuty]).toEqual([70, 0.2]);
    expect((await h.app.inject('/v1/thermal/mode')).json<ModesView>().active).toBeNull();
  });

  it('clearing the mode logs which mode was cleared, or that none was active (it logged: thermal mode "null" cleared)', async () => {
    const h = await open();
    expect((await h.app.inject({ method: 'DELETE', url: '/v1/thermal/mode' })).statusCode).toBe(200);
    expect((await put(h, 'studio-render')).statusCode).toBe(200);
    expect((await put(h, null)).statusCode).toBe(200);
    const said = h.logs.filter((l) => /thermal mode/.test(l.msg)).map((l) => l.msg);
    expect(said).toEqual(['no thermal mode was active: nothing to clear', 'thermal mode "studio-render" applied (zones gpu0)', 'thermal mode "studio-render" cleared']);
  });

  it('the mode and where each setting came from survive a restart', async () => {
    const h = await open();
    await h.app.inject({ method: 'PATCH', url: '/v1/thermal/zones/gpu1?source=autotune', payload: { pid: { kp: 0.04 } } });
    await put(h, 'stage-quiet');
    const before = await zone(h, 'gpu1');
    const saved = JSON.parse(readFileSync(join(h.stateDir, 'thermal-tuning.json'), 'utf8'));
    // with the zones it covered at the switch (a zone it covers later takes its settings at the next start)
    expect(saved.mode).toEqual({ name: 'stage-quiet', at: expect.any(String), zones: ['gpu0', 'gpu1'] });
    expect(saved.zones.gpu1).toEqual({ pid: { kp: 0.04, setpoint: 80 }, slewUpPerSecond: 0.05, maxDuty: 0.8 });
    await h.close();
    opened.length = 0;
    const h2 = await open(h.stateDir);
    const after = await zone(h2, 'gpu1');
    expect(after.provenance).toEqual(before.provenance);
    expect([after.setpoint, after.settings.pid.kp, after.settings.maxDuty]).toEqual([80, 0.04, 0.8]);
    expect((await h2.app.inject('/v1/thermal/mode')).json<ModesView>().active?.name).toBe('stage-quiet');
    expect(((await h2.app.inject('/v1/thermal')).json<ThermalView>()).mode.active?.name).toBe('stage-quiet');
  });

  it('after a restart a mode layer follows the mode as the config now defines it; a mode gone from the config is cleared', async () => {
    const h = await open();
    await h.app.inject({ method: 'PATCH', url: '/v1/thermal/zones/gpu0', payload: { pid: { kp: 0.03 } } });
    await put(h, 'stage-quiet');
    await h.app.inject({ method: 'PATCH', url: '/v1/thermal/zones/gpu1', payload: { slewDownPerSecond: 0.01 } });
    await h.close();
    opened.length = 0;
    // stage-quiet edited: a cooler setpoint, gpu1's ceiling no longer lowered
    const edited = [{ name: 'stage-quiet', all: { pid: { setpoint: 75 } } }, MODES[1]!];
    const h2 = await harness({ gpus: 2, zone: { mode: 'pid', pid: { setpoint: 70 } }, thermal: { modes: edited }, stateDir: h.stateDir });
    opened.push(h2);
    const [z0, z1] = [await zone(h2, 'gpu0'), await zone(h2, 'gpu1')];
    expect([z0.setpoint, z0.settings.pid.kp, z0.settings.slewUpPerSecond]).toEqual([75, 0.03, 0.5]);
    expect([z1.setpoint, z1.settings.maxDuty, z1.settings.slewDownPerSecond]).toEqual([75, 1, 0.01]);
    expect(z1.provenance['pid.setpoint']).toMatchObject({ source: 'mode', mode: 'stage-quiet' });
    expect(z1.provenance.maxDuty).toEqual({ source: 'config' });
    expect(z1.provenance.slewDownPerSecond).toMatchObject({ source: 'tuning' });
    expect((await h2.app.inject('/v1/thermal/mode')).json<ModesView>().active?.name).toBe('stage-quiet');
    expect(h2.logged(/mode "stage-quiet" is defined differently in the config now: zone "gpu1" takes its settings as they are there/)).toBeDefined();
    const saved = JSON.parse(readFileSync(join(h2.stateDir, 'thermal-tuning.json'), 'utf8'));
    expect(saved.zones.gpu1).toEqual({ pid: { setpoint: 75 }, slewDownPerSecond: 0.01 });
    await h2.close();
    opened.length = 0;
    // stage-quiet removed: its settings go, the tunings stay, no mode is active
    const h3 = await harness({ gpus: 2, zone: { mode: 'pid', pid: { setpoint: 70 } }, thermal: { modes: [MODES[1]!] }, stateDir: h.stateDir });
    opened.push(h3);
    const [y0, y1] = [await zone(h3, 'gpu0'), await zone(h3, 'gpu1')];
    expect([y0.setpoint, y0.settings.pid.kp, y1.setpoint, y1.settings.slewDownPerSecond]).toEqual([70, 0.03, 70, 0.01]);
    expect((await h3.app.inject('/v1/thermal/mode')).json<ModesView>().active).toBeNull();
    expect(h3.logged(/mode "stage-quiet" is no longer in thermal\.modes: its settings are dropped/)).toBeDefined();
    // studio-render on, a ceiling tuned over it; then its minDuty is raised past that ceiling in the config
    await put(h3, 'studio-render');
    await h3.app.inject({ method: 'PATCH', url: '/v1/thermal/zones/gpu0', payload: { maxDuty: 0.35 } });
    await h3.close();
    opened.length = 0;
    const raised = [{ name: 'studio-render', zones: { gpu0: { pid: { setpoint: 65 }, minDuty: 0.4 } } }];
    const h4 = await harness({ gpus: 2, zone: { mode: 'pid', pid: { setpoint: 70 } }, thermal: { modes: raised }, stateDir: h.stateDir });
    opened.push(h4);
    const x0 = await zone(h4, 'gpu0');
    expect([x0.setpoint, x0.settings.minDuty, x0.settings.maxDuty, x0.settings.pid.kp]).toEqual([70, 0.2, 0.35, 0.03]);
    expect((await h4.app.inject('/v1/thermal/mode')).json<ModesView>().active).toBeNull();
    expect(h4.logged(/mode "studio-render" breaks a zone rule as the config now defines it \(zone "gpu0": minDuty: must be <= maxDuty \(0\.35\)\): its settings are dropped/)).toBeDefined();
  });

  it('the active mode edited to cover another zone: after the restart that zone takes its settings at once (not at the next switch); a zone reset under the mode stays reset', async () => {
    const h = await open();
    await put(h, 'studio-render');
    expect((await zone(h, 'gpu1')).settings.minDuty).toBe(0.2);
    await h.close();
    opened.length = 0;
    // studio-render now also sets gpu1
    const wider = [MODES[0]!, { name: 'studio-render', zones: { gpu0: { pid: { setpoint: 65 }, minDuty: 0.3 }, gpu1: { pid: { setpoint: 66 }, minDuty: 0.25 } } }];
    const restart = async (modes: unknown[]) => {
      const r = await harness({ gpus: 2, zone: { mode: 'pid', pid: { setpoint: 70 } }, thermal: { modes }, stateDir: h.stateDir });
      opened.push(r);
      return r;
    };
    const h2 = await restart(wider);
    const z1 = await zone(h2, 'gpu1');
    expect([z1.setpoint, z1.settings.minDuty]).toEqual([66, 0.25]);
    expect(z1.provenance.minDuty).toMatchObject({ source: 'mode', mode: 'studio-render' });
    expect([(await zone(h2, 'gpu0')).setpoint, (await zone(h2, 'gpu0')).settings.minDuty]).toEqual([65, 0.3]);
    expect((await h2.app.inject('/v1/thermal/mode')).json<ModesView>().active?.name).toBe('studio-render');
    expect(h2.logged(/mode "studio-render" covers zone "gpu1" in the config now: the zone takes its settings/)).toBeDefined();
    // the controller runs it, not only the view
    expect(h2.service.zoneSlot('gpu1')!.config.minDuty).toBe(0.25);
    // gpu1 back to the config file under the mode: a restart leaves it there
    expect((await h2.app.inject({ method: 'DELETE', url: '/v1/thermal/zones/gpu1/tuning' })).statusCode).toBe(200);
    await h2.close();
    opened.length = 0;
    const h3 = await restart(wider);
    expect([(await zone(h3, 'gpu1')).setpoint, (await zone(h3, 'gpu1')).settings.minDuty]).toEqual([70, 0.2]);
    expect((await zone(h3, 'gpu0')).setpoint).toBe(65);
  });

  it('config load refuses modes naming unknown zones, duplicate names, or settings a zone rule refuses', () => {
    const base = {
      cooler: { driver: 'simulated', fans: [{ id: 'f0', channel: 0 }] },
      thermal: { sensors: { source: 'simulated' }, zones: [{ id: 'z0', gpus: [0], fans: ['f0'], criticalCelsius: 90 }] },
    };
    const bad = { ...base, thermal: { ...base.thermal, modes: [{ name: 'a', zones: { z9: { maxDuty: 0.5 } } }, { name: 'a', all: { pid: { setpoint: 89 } } }] } };
    let err: unknown;
    try {
      resolveConfig(bad);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    expect(msg).toContain('thermal.modes[0].zones.z9: unknown zone "z9" (zones: z0)');
    expect(msg).toContain('thermal.modes[1].name: duplicate mode name "a"');
    expect(msg).toContain('thermal.modes[1].zones.z0.pid.setpoint: must be at most criticalCelsius - 3 (87), got 89');
    expect(() => resolveConfig({ ...base, thermal: { ...base.thermal, modes: [{ name: 'x', zones: { z0: { pid: { setpoint: 'hot' } } } }] } })).toThrow(/thermal\/modes\/0\/zones\/z0\/pid\/setpoint|modes.*setpoint/);
  });
});
