/** The tuning routes on a running (simulated, real-time) thermal service: fan measurement through the daemon, chart. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import type { Logger } from 'pino';
import { buildApp } from '../../../src/api/app.ts';
import { createRegistry } from '../../../src/metrics.ts';
import { tuningRoutes } from '../../../src/thermal/tuning/api.ts';
import { FanMeasureJob } from '../../../src/thermal/tuning/daemon-jobs.ts';
import { saveFanReport } from '../../../src/thermal/tuning/fan-measure.ts';
import { harness, untilAsync, type Harness } from '../service/harness.ts';
import { parseXml } from '../../helpers/xml.ts';

const opened: Harness[] = [];
afterEach(async () => {
  await Promise.all(opened.map((h) => h.close()));
  opened.length = 0;
});

describe('/v1/thermal tuning routes', () => {
  it('GET /zones/{id}/chart.svg: a well-formed chart of the history with the four series; 404 and 400 for bad asks', async () => {
    const h = await harness({ zone: { mode: 'pid', pid: { setpoint: 70 } } });
    opened.push(h);
    await untilAsync('history', async () => h.service.historySince(60).length >= 5);
    const r = await h.app.inject('/v1/thermal/zones/gpu0/chart.svg?seconds=30');
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/^image\/svg\+xml/);
    const els = parseXml(r.body);
    expect(els.filter((e) => e.name === 'path').map((e) => e.attrs['data-series'])).toEqual(['temperature', 'setpoint', 'duty', 'rpm']);
    expect((await h.app.inject('/v1/thermal/zones/nope/chart.svg')).statusCode).toBe(404);
    // bounded: at most a day asked, at most the history length (60 s in the harness) drawn
    expect((await h.app.inject('/v1/thermal/zones/gpu0/chart.svg?seconds=100000')).statusCode).toBe(400);
    const long = parseXml((await h.app.inject('/v1/thermal/zones/gpu0/chart.svg?seconds=3600')).body);
    expect(long.find((e) => e.name === 'title')!.text).toBe('zone gpu0: last 60 s');
    // a stored characterisation is served as it is (the schema serialises it)
    const report = { measuredAt: new Date().toISOString(), pass: true, thermistors: [], fans: [{ id: 'gpu0-a', pass: true, problems: [], maxRpm: 9000, minDuty: 0.12, startDuty: 0.3, curve: [{ duty: 1, rpm: 9000 }, { duty: 0.11, rpm: 0 }, { duty: 0.1, rpm: null }] }] };
    await saveFanReport(h.stateDir, report);
    const fans = await h.app.inject('/v1/thermal/fans');
    expect(fans.statusCode).toBe(200);
    expect(fans.json().report).toEqual(report);
  });

  it('measures through the daemon: fans leave control while measured, 409 while running, a cancel leaves every fan at full, then control resumes', async () => {
    const h = await harness({ zone: { mode: 'fixed', fixedDuty: 0.4 } });
    opened.push(h);
    await h.underControl();
    const job = new FanMeasureJob(h.service, pino({ level: 'silent' }) as Logger, { holdAfterFailureMs: 500, settleS: 0.2 });
    const app = await buildApp({ registry: createRegistry(), plugins: [{ prefix: '/v1/thermal', plugin: tuningRoutes(h.service, job) }], notReady: () => [] });
    try {
      expect((await app.inject('/v1/thermal/fans')).json()).toMatchObject({ report: null, inUse: [{ id: 'gpu0-a' }, { id: 'gpu0-b' }, { id: 'gpu0-c' }] });
      expect((await app.inject({ method: 'POST', url: '/v1/thermal/fans/measure', payload: { fans: ['gpu9'] } })).statusCode).toBe(422);
      // an empty list is not every fan (a client whose filter found none took all of them out of control)
      const none = await app.inject({ method: 'POST', url: '/v1/thermal/fans/measure', payload: { fans: [] } });
      expect(none.statusCode).toBe(400);
      expect(none.json().message).toBe('body/fans must NOT have fewer than 1 items');
      expect((await app.inject('/v1/thermal/fans/measure')).json().state).toBe('idle');
      const r = await app.inject({ method: 'POST', url: '/v1/thermal/fans/measure', payload: { fans: ['gpu0-a'] } });
      expect(r.statusCode).toBe(202);
      expect(r.json()).toMatchObject({ state: 'running', fans: ['gpu0-a'] });
      expect((await app.inject({ method: 'POST', url: '/v1/thermal/fans/measure', payload: {} })).statusCode).toBe(409);
      // the ramp reaches the plant as commanded: gpu0-a below full while the others are at full
      await untilAsync('ramp down', async () => h.rig.plant.fan('gpu0-a').duty < 0.9 && h.rig.plant.fan('gpu0-b').duty === 1, 10_000);
      expect((await app.inject('/v1/thermal/fans/measure')).json().progress).toMatchObject({ fan: 'gpu0-a', phase: 'down' });
      expect((await app.inject({ method: 'DELETE', url: '/v1/thermal/fans/measure' })).statusCode).toBe(200);
      const done = await untilAsync('aborted', async () => {
        const s = (await app.inject('/v1/thermal/fans/measure')).json();
        return s.state === 'aborted' ? s : undefined;
      });
      expect(done.error).toMatch(/cancelled/);
      await untilAsync('fans at full', async () => h.plantDuties().every((d) => d === 1));
      // then thermal control takes them back (fixed 0.4), with no stall counted against the measured fan
      const z = await h.underControl();
      expect(z.fans.every((f) => f.stalls === 0 && f.minDuty === 0.2)).toBe(true);
    } finally {
      await app.close();
    }
  });

  it('previews gains on the simulator model until an identified one is stored, then on that', async () => {
    const h = await harness({ zone: { mode: 'pid', pid: { setpoint: 70 } } });
    opened.push(h);
    const sim = (await h.app.inject('/v1/thermal/zones/gpu0/model')).json();
    expect(sim).toMatchObject({ source: 'simulator' });
    expect(sim.gain).toBeLessThan(0);
    const model = { gain: -30, timeConstantS: 95, deadTimeS: 2.3, r2: 0.99, rmsC: 0.25, source: 'identified' };
    expect((await h.app.inject({ method: 'PUT', url: '/v1/thermal/zones/gpu0/model', payload: model })).statusCode).toBe(200);
    expect((await h.app.inject({ method: 'PUT', url: '/v1/thermal/zones/gpu0/model', payload: { ...model, timeConstantS: -1 } })).statusCode).toBe(400);
    // a fan cools: a model where more airflow heats (or does nothing) is a failed fit, and previews on it were nonsense
    for (const gain of [5, 0]) {
      const r = await h.app.inject({ method: 'PUT', url: '/v1/thermal/zones/gpu0/model', payload: { ...model, gain } });
      expect(r.statusCode, String(gain)).toBe(400);
      expect(r.json().message).toBe('body/gain must be < 0');
    }
    const quiet = (await h.app.inject({ method: 'POST', url: '/v1/thermal/zones/gpu0/preview', payload: { kp: 0.05, ki: 0.000528 } })).json();
    const zn = (await h.app.inject({ method: 'POST', url: '/v1/thermal/zones/gpu0/preview', payload: { kp: 0.132, ki: 0.0053, kd: 0.82 } })).json();
    expect(quiet.model).toMatchObject(model);
    expect(quiet.oscillating).toBe(false);
    expect(quiet.overshootC).toBeLessThan(zn.overshootC);
    expect((await h.app.inject({ method: 'POST', url: '/v1/thermal/zones/nope/preview', payload: { kp: 1, ki: 0 } })).statusCode).toBe(404);
  });

  it('GET /fans with a stored report that cannot be read (truncated, or not a report): 200 with the figures in use and what is wrong with the file, not a 500', async () => {
    const h = await harness();
    opened.push(h);
    const file = join(h.stateDir, 'fan-characterisation.json');
    for (const [body, problem] of [
      ['{"measuredAt": "2026-01-01T00:00:00Z", "pass": tr', /fan-characterisation\.json: .*JSON/],
      [JSON.stringify({ measuredAt: 'x', pass: true, thermistors: [], fans: [{ id: 'gpu0-a' }] }), /fan-characterisation\.json: not a fan characterisation/],
    ] as const) {
      writeFileSync(file, body);
      const r = await h.app.inject('/v1/thermal/fans');
      expect(r.statusCode, body).toBe(200);
      expect(r.json()).toMatchObject({ report: null, inUse: [{ id: 'gpu0-a' }, { id: 'gpu0-b' }, { id: 'gpu0-c' }] });
      expect(r.json().reportProblem).toMatch(problem);
    }
  });

  it('PUT /zones/{id}/model sent for several zones at once: every one answered 200 is kept (the file is read, changed and written one at a time)', async () => {
    const h = await harness({ gpus: 2, zone: { mode: 'pid', pid: { setpoint: 70 } } });
    opened.push(h);
    // each put reads the file, adds its zone and writes it back: interleaved, they wrote one temp
    // file name at once (a rename found it gone: 500) and each wrote the file it had read (lost zones)
    const puts = Array.from({ length: 20 }, (_, i) => {
      const zone = `gpu${i % 2}`;
      return h.app.inject({ method: 'PUT', url: `/v1/thermal/zones/${zone}/model`, payload: { gain: -10 - i, timeConstantS: 90, deadTimeS: 1, source: 'identified' } });
    });
    const codes = (await Promise.all(puts)).map((r) => r.statusCode);
    expect(codes).toEqual(codes.map(() => 200));
    for (const zone of ['gpu0', 'gpu1']) expect((await h.app.inject(`/v1/thermal/zones/${zone}/model`)).json(), zone).toMatchObject({ source: 'identified' });
    // the last put of each zone is the one kept
    expect((await h.app.inject('/v1/thermal/zones/gpu0/model')).json().gain).toBe(-28);
    expect((await h.app.inject('/v1/thermal/zones/gpu1/model')).json().gain).toBe(-29);
  });
});
