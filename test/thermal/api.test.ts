/** /v1/thermal: state, run-time tuning with validation, persistence across restarts, history. */
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { harness, untilAsync, type Harness } from './service/harness.ts';
import type { ZoneView } from '../../src/thermal/service/view.ts';

const opened: Harness[] = [];
afterEach(async () => {
  await Promise.all(opened.map((h) => h.close()));
  opened.length = 0;
});
async function open(opts: Parameters<typeof harness>[0] = {}) {
  const h = await harness({ zone: { mode: 'pid', pid: { setpoint: 70 } }, ...opts });
  opened.push(h);
  return h;
}
const patch = (h: Harness, zone: string, body: unknown) => h.app.inject({ method: 'PATCH', url: `/v1/thermal/zones/${zone}`, payload: body as object });

describe('/v1/thermal', () => {
  it('shows every zone with temperatures, setpoint, mode, duty, fans (duty, rpm), PID terms, alarms, sample age', async () => {
    const h = await open({ gpus: 2, start: false });
    // The harness's simulated cooler has a 0.5 s watchdog and runs in this process: a stall of the
    // test process that long (the first GET /v1/thermal compiles its serializer, 1.3 s on a loaded
    // machine) trips it, and the cooler-failsafe alarm it raises until our next duties land is
    // right. Raised without a trip, it is the power-on flash come back.
    const raisedFailsafe: string[] = [];
    h.service.on('alarm', (e: { alarm: { kind: string }; raised: boolean }) => {
      if (e.raised && e.alarm.kind === 'cooler-failsafe') raisedFailsafe.push(`${h.cooler.watchdogTrips} trips`);
    });
    await h.service.start();
    const s = await untilAsync('samples, rpm and no alarm', async () => {
      const s = await h.state();
      return s.zones.every((z) => z.temperature !== null && z.alarms.length === 0 && z.fans.every((f) => f.rpm !== null)) ? s : undefined;
    });
    expect(raisedFailsafe.filter((r) => r === '0 trips'), 'cooler-failsafe raised with no watchdog trip').toEqual([]);
    expect(s.zones.map((z) => z.id)).toEqual(['gpu0', 'gpu1']);
    const z = s.zones[0]!;
    expect(z).toMatchObject({ id: 'gpu0', gpus: [0], mode: 'pid', setpoint: 70, criticalCelsius: 90, failsafe: false, alarms: [], tuned: null });
    expect(z.temperatures[0]).toMatchObject({ gpu: 0, celsius: expect.any(Number) });
    expect(z.sampleAgeSeconds).toBeLessThan(1.5);
    expect(Object.keys(z.terms).sort()).toEqual(['d', 'ff', 'i', 'p']);
    expect(z.fans.map((f) => f.id)).toEqual(['gpu0-a', 'gpu0-b', 'gpu0-c']);
    expect(z.fans[0]).toMatchObject({ duty: expect.any(Number), rpm: expect.any(Number), minDuty: 0.2, kicking: expect.any(Boolean), stalls: 0 });
    expect(z.settings.pid.kp).toBeGreaterThan(0);
    expect(s.gpus.map((g) => g.index)).toEqual([0, 1]);
    expect(s.gpus[0]).toMatchObject({ uuid: expect.stringMatching(/^GPU-/), power: expect.any(Number), throttleReasons: expect.any(Array), source: 'nvidia-smi', missing: false });
    expect(s.sensors).toMatchObject({ source: 'simulated', running: true, restarts: 0, reasonsField: 'clocks_event_reasons.active' });
    expect(s.cooler).toMatchObject({ kind: 'simulated', linkUp: true });
    expect(s.thermistors[0]).toMatchObject({ id: 'sink0', celsius: expect.any(Number) });
    expect(s.loop).toEqual({ periodMs: 50, alive: true });
    const one = await h.app.inject('/v1/thermal/zones/gpu1');
    expect(one.statusCode).toBe(200);
    expect((one.json() as ZoneView).id).toBe('gpu1');
  });

  it('404 for an unknown zone, naming the zones there are', async () => {
    const h = await open();
    for (const r of [await h.app.inject('/v1/thermal/zones/gpu9'), await patch(h, 'gpu9', { pid: { setpoint: 60 } })]) {
      expect(r.statusCode).toBe(404);
      expect(r.json().message).toBe('no zone "gpu9" (zones: gpu0)');
    }
  });

  it('PATCH changes setpoint, gains, mode, curve and limits at run time', async () => {
    const h = await open();
    let r = await patch(h, 'gpu0', { pid: { setpoint: 65, kp: 0.02 } });
    expect(r.statusCode).toBe(200);
    let z = r.json() as ZoneView;
    expect(z.setpoint).toBe(65);
    expect(z.settings.pid.kp).toBe(0.02);
    // untouched keys keep their value (no schema defaults sneak into a patch)
    expect(z.settings.pid.ki).toBe(h.config.thermal.zones[0]!.pid.ki);
    expect(z.tuned).toEqual({ pid: { setpoint: 65, kp: 0.02 } });
    r = await patch(h, 'gpu0', { mode: 'curve', curve: [[35, 0.2], [60, 0.5], [80, 1]], hysteresis: 3, maxDuty: 0.9, slewUpPerSecond: 1 });
    expect(r.statusCode).toBe(200);
    z = r.json() as ZoneView;
    expect(z).toMatchObject({ mode: 'curve', settings: { curve: [[35, 0.2], [60, 0.5], [80, 1]], hysteresis: 3, maxDuty: 0.9, slewUpPerSecond: 1 } });
    expect(z.tuned).toMatchObject({ mode: 'curve', pid: { setpoint: 65, kp: 0.02 }, maxDuty: 0.9 });
    // the loop runs the new mode: a fixed duty shows up at the fans
    r = await patch(h, 'gpu0', { mode: 'fixed', fixedDuty: 0.35 });
    await untilAsync('fixed duty', async () => Math.abs((await h.zone()).duty - 0.35) < 0.01);
    expect(await h.metric('gance_zone_mode', { zone: 'gpu0', mode: 'fixed' })).toBe(1);
    expect(await h.metric('gance_zone_setpoint_celsius', { zone: 'gpu0' })).toBe(65);
  });

  it('400 with the reason for bad values, and nothing changes', async () => {
    const h = await open();
    const cases: Array<[unknown, RegExp]> = [
      [{ pid: { kp: -1 } }, /body\/pid\/kp must be >= 0/],
      [{ pid: { setpoint: 'hot' } }, /body\/pid\/setpoint must be number/],
      [{ mode: 'turbo' }, /^body\/mode must be one of: "pid", "curve", "fixed"$/],
      [{ fan: 1 }, /must NOT have additional properties/],
      [{}, /must NOT have fewer than 1 properties/],
      [{ minDuty: 0.8, maxDuty: 0.5 }, /minDuty: must be <= maxDuty \(0\.5\)/],
      [{ curve: [[60, 0.2], [50, 1]] }, /curve\[1\]: temperatures must increase/],
      [{ curve: [[60, 1.2], [70, 1]] }, /body\/curve\/0\/1 must be <= 1/],
      [{ mode: 'curve', curve: [[40, 1], [90, 0]] }, /^curve\[1\]: duties must not fall as the temperature rises \(0 at 90 C after 1 at 40 C\)$/],
      [{ pid: { setpoint: 95 } }, /^pid\.setpoint: must be at most criticalCelsius - 3 \(87\), got 95$/],
      [{ criticalCelsius: 72 }, /^pid\.setpoint: must be at most criticalCelsius - 3 \(69\), got 70$/],
      [{ criticalCelsius: 150 }, /^body\/criticalCelsius must be <= 105$/],
      [{ stopBelowDuty: 0.5 }, /^stopBelowDuty: must be <= minDuty \(0\.2\)$/],
      // fans that could never reach full duty under control (the failsafe skips the slew; a load step does not)
      [{ slewUpPerSecond: 1e-300 }, /^body\/slewUpPerSecond must be >= 0\.02$/],
      [{ id: 'other' }, /must NOT have additional properties/],
      [{ feedForward: { ambientThermistor: 'intake' } }, /^feedForward\.ambientThermistor: unknown thermistor "intake" \(cooler\.thermistors has: sink0\)$/],
    ];
    for (const [body, re] of cases) {
      const r = await patch(h, 'gpu0', body);
      expect(r.statusCode, JSON.stringify(body)).toBe(400);
      expect(r.json().message, JSON.stringify(body)).toMatch(re);
    }
    const z = await h.zone();
    expect(z.setpoint).toBe(70);
    expect(z.tuned).toBeNull();
    expect(existsSync(join(h.stateDir, 'thermal-tuning.json'))).toBe(false);
  });

  it('an empty nested section (pid: {}) is 400 naming it, PATCH and PUT alike: it changed nothing and was answered 200 as if it had', async () => {
    const h = await open();
    for (const body of [{ pid: {} }, { feedForward: {} }, { stall: {}, minDuty: 0.3 }]) {
      const field = Object.keys(body)[0]!;
      for (const method of ['PATCH', 'PUT'] as const) {
        const r = await h.app.inject({ method, url: '/v1/thermal/zones/gpu0', payload: body });
        expect(r.statusCode, `${method} ${JSON.stringify(body)}`).toBe(400);
        expect(r.json().message, `${method} ${JSON.stringify(body)}`).toBe(`body/${field} must NOT have fewer than 1 properties`);
      }
    }
    expect((await h.zone()).tuned).toBeNull();
    expect(existsSync(join(h.stateDir, 'thermal-tuning.json'))).toBe(false);
    // the OpenAPI document says so (the schema is the one definition)
    const doc = (await h.app.inject('/docs/json')).json() as { paths: Record<string, { patch: { requestBody: { content: Record<string, { schema: { properties: Record<string, { minProperties?: number }> } }> } } }> };
    const props = doc.paths['/v1/thermal/zones/{zone}']!.patch.requestBody.content['application/json']!.schema.properties;
    expect([props.pid!.minProperties, props.feedForward!.minProperties, props.stall!.minProperties]).toEqual([1, 1, 1]);
  });

  it('a saved tuning holding an empty section (written before it was refused) is read as what it meant, not set aside', async () => {
    const h = await open();
    await h.close();
    opened.length = 0;
    writeFileSync(join(h.stateDir, 'thermal-tuning.json'), JSON.stringify({ version: 1, zones: { gpu0: { pid: { setpoint: 66 }, stall: {} } }, layers: { gpu0: [{ source: { kind: 'tuning' }, at: null, patch: { pid: { setpoint: 66 }, stall: {} } }] } }));
    const again = await open({ stateDir: h.stateDir });
    const z = await again.zone();
    expect(z.setpoint).toBe(66);
    expect(z.tuned).toEqual({ pid: { setpoint: 66 } });
    expect(readdirSync(h.stateDir).filter((f) => f.includes('.bad-'))).toEqual([]);
  });

  it('a request naming a fan, thermistor, mode or zone "constructor", "__proto__" or "toString" is refused naming the field, never found on the object prototype', async () => {
    const h = await open();
    for (const id of ['constructor', '__proto__', 'toString']) {
      const cases: Array<[string, string, unknown, number, string]> = [
        ['POST', '/v1/thermal/fans/measure', { fans: [id] }, 422, `body/fans: no fan "${id}" (fans: gpu0-a, gpu0-b, gpu0-c)`],
        ['PATCH', '/v1/thermal/zones/gpu0', { feedForward: { ambientThermistor: id } }, 400, `feedForward.ambientThermistor: unknown thermistor "${id}" (cooler.thermistors has: sink0)`],
        ['PUT', '/v1/thermal/mode', { name: id }, 404, `no mode "${id}" (modes: none in thermal.modes)`],
        ['PATCH', `/v1/thermal/zones/${id}`, { pid: { setpoint: 60 } }, 404, `no zone "${id}" (zones: gpu0)`],
      ];
      for (const [method, url, payload, status, message] of cases) {
        const r = await h.app.inject({ method: method as 'POST', url, payload: payload as object });
        expect([r.statusCode, r.json().message], `${method} ${url} ${id}`).toEqual([status, message]);
      }
    }
    expect((await h.zone()).tuned).toBeNull();
  });

  it('refuses non-finite numbers in PATCH/PUT bodies and queries: the zone stays under control and nothing is saved', async () => {
    const h = await open();
    await h.underControl();
    const bodies = [{ pid: { setpoint: '-Infinity' } }, { pid: { setpoint: 'Infinity' } }, { pid: { kp: '1e309' } }, { criticalCelsius: 'Infinity' }, { curve: [[40, 0], ['Infinity', 1]] }, { feedForward: { dutyPerWatt: '-1e309' } }];
    for (const body of bodies) {
      for (const method of ['PATCH', 'PUT'] as const) {
        const r = await h.app.inject({ method, url: '/v1/thermal/zones/gpu0', payload: body });
        expect(r.statusCode, `${method} ${JSON.stringify(body)}`).toBe(400);
        expect(r.json().message, JSON.stringify(body)).toMatch(/^body\/[a-zA-Z/0-9]+ must be a finite number$/);
      }
    }
    const hist = await h.app.inject('/v1/thermal/history?seconds=1e309');
    expect(hist.statusCode).toBe(400);
    expect(hist.json().message).toBe('querystring/seconds must be a finite number');
    const z = await h.underControl();
    expect(z).toMatchObject({ setpoint: 70, criticalCelsius: 90, tuned: null, failsafe: false });
    expect(Number.isFinite(z.duty) && Number.isFinite(z.terms.i)).toBe(true);
    expect(existsSync(join(h.stateDir, 'thermal-tuning.json'))).toBe(false);
  });

  it('refuses null and booleans in place of numbers: a client NaN (JSON null) cannot set a duty of 0', async () => {
    const h = await open();
    await h.underControl();
    const cases: Array<[unknown, string]> = [
      [{ mode: 'fixed', fixedDuty: null }, 'body/fixedDuty must be number, got null'],
      [{ pid: { setpoint: null } }, 'body/pid/setpoint must be number, got null'],
      [{ maxDuty: false, minDuty: 0, stopBelowDuty: 0 }, 'body/maxDuty must be number, got false'],
      [{ feedForward: { enabled: 0 } }, 'body/feedForward/enabled must be boolean, got 0'],
    ];
    for (const [body, message] of cases) {
      const r = await patch(h, 'gpu0', body);
      expect(r.statusCode, JSON.stringify(body)).toBe(400);
      expect(r.json().message, JSON.stringify(body)).toBe(message);
    }
    const z = await h.underControl();
    expect(z).toMatchObject({ mode: 'pid', setpoint: 70, tuned: null, failsafe: false });
    expect(z.settings.maxDuty).toBe(1);
    expect(existsSync(join(h.stateDir, 'thermal-tuning.json'))).toBe(false);
  });

  it('a number sent as a string is read only in decimal notation: "0x50" was a setpoint of 80, " 70 " 70 and "0b1" a fixed duty of 1', async () => {
    const h = await open();
    await h.underControl();
    const cases: Array<[unknown, string]> = [
      [{ pid: { setpoint: '0x50' } }, 'body/pid/setpoint must be a number in decimal notation, got "0x50"'],
      [{ pid: { setpoint: ' 70 ' } }, 'body/pid/setpoint must be a number in decimal notation, got " 70 "'],
      [{ mode: 'fixed', fixedDuty: '0b1' }, 'body/fixedDuty must be a number in decimal notation, got "0b1"'],
      [{ curve: [[40, 0], ['0o120', 1]] }, 'body/curve/1/0 must be a number in decimal notation, got "0o120"'],
    ];
    for (const [body, message] of cases) {
      const r = await patch(h, 'gpu0', body);
      expect(r.statusCode, JSON.stringify(body)).toBe(400);
      expect(r.json().message, JSON.stringify(body)).toBe(message);
    }
    const q = await h.app.inject('/v1/thermal/history?seconds=0x10');
    expect(q.statusCode).toBe(400);
    expect(q.json().message).toBe('querystring/seconds must be a number in decimal notation, got "0x10"');
    expect(existsSync(join(h.stateDir, 'thermal-tuning.json'))).toBe(false);
    // decimal strings still convert, as the README says
    expect((await patch(h, 'gpu0', { pid: { setpoint: '72.5', kp: '2e-2' } })).json()).toMatchObject({ setpoint: 72.5, settings: { pid: { kp: 0.02 } } });
  });

  it('refuses oversized lists and strings: a 60,000-point curve is 400 and nothing is saved', async () => {
    const h = await open();
    // short numbers: the body stays under fastify's 1 MiB limit, so only the schema can refuse it
    const huge = Array.from({ length: 60_000 }, (_, k) => [Number((20 + k * 0.0015).toFixed(4)), 0.5]);
    const cases: Array<[string, string, unknown, RegExp]> = [
      ['PATCH', '/v1/thermal/zones/gpu0', { mode: 'curve', curve: huge }, /^body\/curve must NOT have more than 32 items$/],
      ['PUT', '/v1/thermal/zones/gpu0', { curve: huge.slice(0, 33) }, /^body\/curve must NOT have more than 32 items$/],
      ['GET', `/v1/thermal/zones/${'z'.repeat(65)}`, undefined, /^params\/zone must NOT have more than 64 characters$/],
      ['POST', '/v1/thermal/load-hint', { gpus: Array.from({ length: 300 }, (_, k) => k), watts: 100 }, /^body\/gpus must NOT have more than 256 items$/],
      ['POST', '/v1/thermal/load-hint', { gpus: [0], watts: 100, source: 's'.repeat(101) }, /^body\/source must NOT have more than 100 characters$/],
    ];
    for (const [method, url, payload, re] of cases) {
      const r = await h.app.inject({ method: method as 'GET', url, ...(payload ? { payload: payload as object } : {}) });
      expect(r.statusCode, `${method} ${url}`).toBe(400);
      expect(r.json().message, `${method} ${url}`).toMatch(re);
    }
    const z = await h.zone();
    expect(z).toMatchObject({ mode: 'pid', tuned: null });
    expect(existsSync(join(h.stateDir, 'thermal-tuning.json'))).toBe(false);
    // 32 points is the limit, and is taken
    const ok = await patch(h, 'gpu0', { curve: Array.from({ length: 32 }, (_, k) => [30 + k * 2, k / 31]) });
    expect(ok.statusCode).toBe(200);
  });

  it('PUT sets the tuning from the config file plus the body; DELETE goes back to the config file', async () => {
    const h = await open();
    await patch(h, 'gpu0', { pid: { setpoint: 66 }, maxDuty: 0.8 });
    let r = await h.app.inject({ method: 'PUT', url: '/v1/thermal/zones/gpu0', payload: { pid: { kp: 0.03 } } });
    expect(r.statusCode).toBe(200);
    let z = r.json() as ZoneView;
    expect(z.setpoint).toBe(70);
    expect(z.settings.maxDuty).toBe(h.config.thermal.zones[0]!.maxDuty);
    expect(z.settings.pid.kp).toBe(0.03);
    expect(z.tuned).toEqual({ pid: { kp: 0.03 } });
    r = await h.app.inject({ method: 'DELETE', url: '/v1/thermal/zones/gpu0/tuning' });
    z = r.json() as ZoneView;
    expect(z.settings.pid.kp).toBe(h.config.thermal.zones[0]!.pid.kp);
    expect(z.tuned).toBeNull();
    expect(JSON.parse(readFileSync(join(h.stateDir, 'thermal-tuning.json'), 'utf8'))).toEqual({ version: 1, zones: {}, layers: {}, mode: null });
  });

  it('changes persist in the state directory and a restart re-applies them over the config file', async () => {
    const h = await open();
    await patch(h, 'gpu0', { pid: { setpoint: 62 }, slewDownPerSecond: 0.01 });
    const file = join(h.stateDir, 'thermal-tuning.json');
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({
      version: 1,
      zones: { gpu0: { pid: { setpoint: 62 }, slewDownPerSecond: 0.01 } },
      // the same as tunings with where they came from (what the zone's provenance shows)
      layers: { gpu0: [{ source: { kind: 'tuning' }, at: expect.any(String), patch: { pid: { setpoint: 62 }, slewDownPerSecond: 0.01 } }] },
      mode: null,
    });
    // atomic write: no temp file left behind
    expect(readdirSync(h.stateDir)).toEqual(['thermal-tuning.json']);
    await h.close();
    opened.length = 0;

    const again = await open({ stateDir: h.stateDir });
    const z = await again.zone();
    expect(z.setpoint).toBe(62);
    expect(z.settings.slewDownPerSecond).toBe(0.01);
    expect(z.tuned).toEqual({ pid: { setpoint: 62 }, slewDownPerSecond: 0.01 });
    expect(again.logged(/re-applied run-time tuning of zone "gpu0" over the config file/)).toBeDefined();
  });

  it('a change sent while thermal control starts (the API is up, the saved tunings not loaded yet) is refused with 409 and does not erase them', async () => {
    const first = await open();
    await patch(first, 'gpu0', { pid: { setpoint: 62 } });
    await first.close();
    opened.length = 0;
    const h = await open({ stateDir: first.stateDir, start: false });
    const file = join(h.stateDir, 'thermal-tuning.json');
    const saved = readFileSync(file, 'utf8');
    const early = [
      await patch(h, 'gpu0', { maxDuty: 0.9 }),
      await h.app.inject({ method: 'PUT', url: '/v1/thermal/zones/gpu0', payload: { maxDuty: 0.9 } }),
      await h.app.inject({ method: 'DELETE', url: '/v1/thermal/zones/gpu0/tuning' }),
      await h.app.inject({ method: 'DELETE', url: '/v1/thermal/mode' }),
    ];
    for (const r of early) {
      expect(r.statusCode).toBe(409);
      expect(r.json().message).toBe('thermal control is starting: its saved tunings are not loaded yet; try again once GET /readyz lists it ready');
    }
    expect(readFileSync(file, 'utf8')).toBe(saved);
    await h.service.start();
    const z = await h.zone();
    expect(z.setpoint).toBe(62);
    expect((await patch(h, 'gpu0', { maxDuty: 0.9 })).statusCode).toBe(200);
  });

  it('a tuning file that is not JSON is moved aside whole with a clear log line and the config file applies', async () => {
    const first = await open();
    const dir = first.stateDir;
    await first.close();
    opened.length = 0;
    writeFileSync(join(dir, 'thermal-tuning.json'), '{"version":1,"zones":{"gpu0":');
    const h = await open({ stateDir: dir });
    const z = await h.zone();
    expect(z.tuned).toBeNull();
    const line = h.logs.find((l) => l.level === 50 && /thermal-tuning\.json: not JSON: /.test(l.msg));
    expect(line?.msg).toMatch(/moved aside to .*thermal-tuning\.json\.bad-\d+/);
    expect(readdirSync(dir).some((f) => f.startsWith('thermal-tuning.json.bad-'))).toBe(true);
  });

  it('an invalid entry in the tuning file is set aside alone (schema, size or zone rules), named in a warning; the other zones keep theirs', async () => {
    const first = await open({ gpus: 4 });
    const dir = first.stateDir;
    await first.close();
    opened.length = 0;
    const file = join(dir, 'thermal-tuning.json');
    const huge = Array.from({ length: 60_000 }, (_, k) => [Number((20 + k * 0.0015).toFixed(4)), 0.5]);
    const zones = {
      gpu0: { pid: { kp: -5 } },
      gpu1: { pid: { setpoint: 64 } },
      gpu2: { mode: 'curve', curve: huge },
      gpu3: { pid: { setpoint: 95 } },
    };
    // 1e309 is how an Infinity would come back from the file: JSON.parse makes it one
    writeFileSync(file, JSON.stringify({ version: 1, zones }).replace('"kp":-5', '"kp":-5,"ki":1e309'));
    // and a key no zone id can be (too long), next to them
    const long = 'x'.repeat(5000);
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.replace('"zones":{', `"zones":{"${long}":{"pid":{"setpoint":60}},`));
    const h = await open({ gpus: 4, stateDir: dir });
    const s = await h.state();
    const byId = Object.fromEntries(s.zones.map((z) => [z.id, z]));
    expect(byId.gpu1).toMatchObject({ setpoint: 64, tuned: { pid: { setpoint: 64 } } });
    for (const id of ['gpu0', 'gpu2', 'gpu3']) expect(byId[id]!.tuned, id).toBeNull();
    expect(byId.gpu2!.mode).toBe('pid');
    const warned = (id: string) => h.logs.find((l) => l.level === 40 && l.zone === id && /set aside/.test(l.msg))?.msg;
    expect(warned('gpu0')).toMatch(/saved tuning of zone "gpu0" set aside \(zones\.gpu0\.pid\.kp: must be >= 0; zones\.gpu0\.pid\.ki: must be a finite number, got Infinity\); moved to .*\.bad-\d+; .*the other zones keep theirs/);
    expect(warned('gpu2')).toMatch(/zones\.gpu2\.curve: must have at most 32 item\(s\)/);
    expect(warned('gpu3')).toMatch(/zones\.gpu3\.pid\.setpoint: must be at most criticalCelsius - 3 \(87\), got 95/);
    expect(warned('gpu1')).toBeUndefined();
    expect(warned(`${'x'.repeat(61)}...`)).toMatch(/: the zone id must match \^\[A-Za-z0-9_\.-\]\{1,64\}\$/);
    // the file keeps the good entry (a restart still has it); the bad ones are in the .bad file
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ version: 1, zones: { gpu1: { pid: { setpoint: 64 } } } });
    const bad = readdirSync(dir).find((f) => f.startsWith('thermal-tuning.json.bad-'))!;
    expect(Object.keys(JSON.parse(readFileSync(join(dir, bad), 'utf8')).zones).sort()).toEqual(['gpu0', 'gpu2', 'gpu3', long]);
  });

  it('a save that fails (full disk) leaves no temp file; the change applies with persisted: false and a tuning-not-saved alarm until a save works', async () => {
    const h = await open();
    await h.underControl();
    // the temp file the store writes, pointed at a device that is always full (ENOSPC)
    const tmp = join(h.stateDir, `thermal-tuning.json.${process.pid}.tmp`);
    symlinkSync('/dev/full', tmp);
    const r = await patch(h, 'gpu0', { pid: { setpoint: 60 } });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ setpoint: 60, persisted: false, tuned: { pid: { setpoint: 60 } } });
    expect(readdirSync(h.stateDir)).toEqual([]);
    expect(h.logs.find((l) => l.level === 50 && /zone "gpu0": run-time tuning applied but NOT saved to .*ENOSPC/.test(l.msg))).toBeDefined();
    const alarmed = await untilAsync('tuning-not-saved alarm', async () => (await h.zone()).alarms.find((a) => a.kind === 'tuning-not-saved'));
    expect(alarmed).toMatchObject({ subject: 'state-file', failsafe: false, message: expect.stringMatching(/ENOSPC.*a restart goes back to the last saved settings/) });
    expect(await h.metric('gance_thermal_alarm', { zone: 'gpu0', kind: 'tuning-not-saved' })).toBe(1);
    // a save alarm is no reason for full fans
    expect((await h.zone()).failsafe).toBe(false);
    // space again: the next change is saved and the alarm clears
    const again = await patch(h, 'gpu0', { pid: { setpoint: 61 } });
    expect(again.json()).toMatchObject({ setpoint: 61, persisted: true });
    expect(JSON.parse(readFileSync(join(h.stateDir, 'thermal-tuning.json'), 'utf8')).zones.gpu0).toEqual({ pid: { setpoint: 61 } });
    await untilAsync('alarm cleared', async () => !(await h.zone()).alarms.some((a) => a.kind === 'tuning-not-saved'));
  });

  it('a valid but weaker tuning (critical raised, fixed duty 0) is said loudly: a warning naming zone and values at PATCH and at boot, and tuningWarnings in the view', async () => {
    const h = await open();
    const r = await patch(h, 'gpu0', { criticalCelsius: 100, mode: 'fixed', fixedDuty: 0 });
    expect(r.statusCode).toBe(200);
    const warnings = (r.json() as ZoneView).tuningWarnings;
    expect(warnings).toEqual([
      "criticalCelsius 100 over the config file's 90: the critical backstop comes later",
      'mode fixed at fixedDuty 0: the fans do not follow the temperature; only criticalCelsius (100) raises them',
    ]);
    expect(h.logs.find((l) => l.level === 40 && /zone "gpu0" tuned at run time with weaker cooling than the config file: criticalCelsius 100/.test(l.msg))).toBeDefined();
    await h.close();
    opened.length = 0;
    const again = await open({ stateDir: h.stateDir });
    expect((await again.zone()).tuningWarnings).toEqual(warnings);
    const boot = again.logs.find((l) => l.level === 40 && /zone "gpu0" re-applied at start from the state file with weaker cooling than the config file/.test(l.msg));
    expect(boot).toMatchObject({ zone: 'gpu0', weaker: warnings, tuning: { criticalCelsius: 100, mode: 'fixed', fixedDuty: 0 } });
    // back to the config file: nothing to warn about
    const reset = await again.app.inject({ method: 'DELETE', url: '/v1/thermal/zones/gpu0/tuning' });
    expect((reset.json() as ZoneView).tuningWarnings).toEqual([]);
  });

  it('GET /history returns recent samples, oldest first, bounded by ?seconds', async () => {
    const h = await open();
    await new Promise((r) => setTimeout(r, 1500));
    const all = (await h.app.inject('/v1/thermal/history?seconds=60')).json();
    expect(all.intervalMs).toBe(100);
    expect(all.samples.length).toBeGreaterThan(8);
    const s = all.samples.at(-1);
    expect(s.zones.gpu0).toMatchObject({ setpoint: 70, duty: expect.any(Number), failsafe: expect.any(Boolean) });
    expect(s.fans['gpu0-a']).toMatchObject({ duty: expect.any(Number) });
    expect(all.samples[0].t).toBeLessThan(s.t);
    const recent = (await h.app.inject('/v1/thermal/history?seconds=1')).json();
    expect(recent.samples.length).toBeLessThan(all.samples.length);
    expect(recent.samples.every((x: { t: number }) => x.t >= Date.now() - 1500)).toBe(true);
    for (const q of ['seconds=0', 'seconds=61', 'seconds=abc']) {
      const r = await h.app.inject(`/v1/thermal/history?${q}`);
      expect(r.statusCode, q).toBe(400);
      expect(r.json().message).toMatch(/querystring\/seconds/);
    }
  });

  it('GET /history: a GPU whose sample is stale is recorded with no temperature, power or utilization, not its last values again', async () => {
    // the hung reader is not restarted within the test: the samples stay stale
    const h = await open({ sensors: { silentAfterMs: 60_000 } });
    await h.underControl();
    h.source.command({ cmd: 'hang' });
    await untilAsync('sensor-stale failsafe', async () => (await h.zone()).alarms.some((a) => a.kind === 'sensor-stale'));
    const staleSince = Date.now();
    // a few history samples (every 100 ms) taken while it is stale
    const samples = await untilAsync('samples while stale', async () => {
      const all = (await h.app.inject('/v1/thermal/history?seconds=60')).json().samples as Array<{ t: number; zones: Record<string, { failsafe: boolean }>; gpus: Record<string, unknown> }>;
      const after = all.filter((x) => x.t > staleSince + 100);
      return after.length >= 3 ? after : undefined;
    });
    for (const x of samples) {
      expect(x.zones.gpu0!.failsafe).toBe(true);
      expect(x.gpus['0']).toEqual({ temperature: null, power: null, utilization: null });
    }
  });

  it('POST /load-hint leads the named GPUs\' zones; 400/422 with the reason for bad hints', async () => {
    // (the dies within 20 C of the setpoint: far under it, a hinted load's term comes in as the die nears, see the zone tests)
    const h = await open({ gpus: 2, zone: { mode: 'pid', pid: { setpoint: 50 } } });
    await untilAsync('samples', async () => (await h.zone()).temperature !== null);
    const res = await h.app.inject({ method: 'POST', url: '/v1/thermal/load-hint', payload: { gpus: [1], watts: 150, seconds: 5, source: 'studio render' } });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ gpus: [1], zones: ['gpu1'], watts: 150, seconds: 5, preCoolFromSeconds: 0 });
    const led = await untilAsync('gpu1 feed-forward', async () => {
      const s = (await h.app.inject('/v1/thermal')).json() as { zones: ZoneView[] };
      const z1 = s.zones.find((z) => z.id === 'gpu1')!;
      return z1.terms.ff > 0.1 ? s : undefined;
    });
    expect(led.zones.find((z) => z.id === 'gpu0')!.terms.ff).toBeLessThan(0.05);
    for (const [body, reason] of [
      [{ gpus: [], watts: 100 }, /body\/gpus/],
      [{ gpus: [0], watts: -1 }, /body\/watts/],
      [{ gpus: [0], watts: 100, seconds: 0 }, /body\/seconds/],
      [{ gpus: [0], watts: 100, colour: 'red' }, /additional/],
    ] as const) {
      const r = await h.app.inject({ method: 'POST', url: '/v1/thermal/load-hint', payload: body });
      expect(r.statusCode, JSON.stringify(body)).toBe(400);
      expect(r.json().message).toMatch(reason);
    }
    const unknown = await h.app.inject({ method: 'POST', url: '/v1/thermal/load-hint', payload: { gpus: [0, 7], watts: 100 } });
    expect(unknown.statusCode).toBe(422);
    expect(unknown.json().message).toBe('body/gpus: no zone controls GPU 7 (zones cover 0, 1)');
  });

  it('documents its routes in the OpenAPI document', async () => {
    const h = await open();
    const doc = (await h.app.inject('/docs/json')).json();
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/thermal/', '/v1/thermal/zones/{zone}', '/v1/thermal/zones/{zone}/tuning', '/v1/thermal/history', '/v1/thermal/load-hint']));
    expect(doc.paths['/v1/thermal/zones/{zone}'].patch.requestBody.content['application/json'].schema.properties.pid).toBeDefined();
  });
});
