/**
 * The operator's pause and rate per GPU outlive a restart (a restart resumes the interrupted
 * renders, so it must not lift a pause): a daemon (in-process, fake runner) saves them in
 * stateDir/render-gpus.json, the next one on the same stateDir holds a render with them. A write
 * that fails still applies (persisted: false); a file that is not the daemon's is left aside.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config/load.ts';
import { createDaemon, type Daemon } from '../../src/daemon.ts';
import type { RenderGpuView } from '../../src/render/gpus.ts';
import type { RenderJobView } from '../../src/render/view.ts';
import { tone, writeWav } from '../audio/wav.ts';
import { fakeRunner } from './fake-runner.ts';
import { fakeRunnerDaemonConfig, tempDir, until } from './job-helpers.ts';

async function withDaemon<T>(root: string, fn: (d: Daemon) => Promise<T>, opts: { embeddedWorkers?: boolean } = {}): Promise<T> {
  const config = fakeRunnerDaemonConfig(join(root, 'state'), root);
  // the embedded default's synthesis workers (one on the CPU, no gpu), as the README's quick start runs
  if (opts.embeddedWorkers) config.synthesis.workers = loadConfigFile().synthesis.workers;
  const d = await createDaemon({ config, log: pino({ level: 'silent' }), render: { loadRunner: async () => fakeRunner({ frames: 8, batch: 4 }) } });
  await d.start();
  try {
    return await fn(d);
  } finally {
    await d.stop();
  }
}

const patch = async (d: Daemon, body: Record<string, unknown>) => {
  const r = await d.app.inject({ method: 'PATCH', url: '/v1/renders/gpus/0', payload: body });
  expect(r.statusCode, r.body).toBe(200);
  return r.json<RenderGpuView>();
};

describe("the operator's GPU settings across a restart", () => {
  it('are saved, set again by the next daemon before a render starts, and a file not the daemon\'s is left aside', { timeout: 60_000 }, async () => {
    const root = tempDir();
    mkdirSync(join(root, 'media'));
    writeWav(join(root, 'media', 'a.wav'), 22050, 1, tone(22050, 0.5, [440]));
    await withDaemon(root, async (d) => {
      expect(await patch(d, { paused: true, maxFps: 7, reason: 'quiet hours' })).toMatchObject({ paused: true, maxFps: 7, reason: 'quiet hours', persisted: true });
    });
    expect(JSON.parse(readFileSync(join(root, 'state', 'render-gpus.json'), 'utf8'))).toEqual({ version: 1, gpus: { '0': { paused: true, maxFps: 7, reason: 'quiet hours' } } });

    await withDaemon(root, async (d) => {
      expect((await d.app.inject('/v1/renders/gpus/0')).json()).toEqual({
        gpu: 0,
        paused: true,
        maxFps: 7,
        maxFpsFrom: 'operator',
        reason: 'quiet hours',
        operator: { paused: true, maxFps: 7 },
        yield: null,
      });
      const throttle = d.services.get('renders').throttle;
      const held = new Promise<string>((resolve) => throttle.onHold((h) => resolve(h.reason)));
      const r = await d.app.inject({ method: 'POST', url: '/v1/renders', payload: { audio: ['a.wav'], networks: ['demo-64'] } });
      expect(r.statusCode, r.body).toBe(202);
      expect(await held).toBe('gpu 0: quiet hours');
      const id = r.json<RenderJobView>().id;
      expect(d.services.get('renders').scheduler.view(id)).toMatchObject({ state: 'running', framesDone: 0 });
      expect(await patch(d, { paused: false, maxFps: null })).toMatchObject({ paused: false, maxFps: null, persisted: true });
      await until(d.services.get('renders').scheduler, id, (j) => j.state === 'done');
    });
    expect(JSON.parse(readFileSync(join(root, 'state', 'render-gpus.json'), 'utf8'))).toEqual({ version: 1, gpus: {} });

    // not the daemon's file: the daemon starts with no settings
    writeFileSync(join(root, 'state', 'render-gpus.json'), '{"version": 1, "gpus": {"0": {"paused": "yes"}}}');
    await withDaemon(root, async (d) => {
      expect((await d.app.inject('/v1/renders/gpus/0')).json()).toMatchObject({ paused: false, maxFps: null });
    });
  });

  it('a write that fails still applies the change, and says it was not saved', { timeout: 60_000 }, async () => {
    const root = tempDir();
    mkdirSync(join(root, 'media'));
    // a folder where the file goes: the rename over it fails
    mkdirSync(join(root, 'state', 'render-gpus.json'), { recursive: true });
    await withDaemon(root, async (d) => {
      expect(await patch(d, { paused: true })).toMatchObject({ paused: true, operator: { paused: true }, persisted: false });
      expect((await d.app.inject('/v1/renders/gpus/0')).json()).toMatchObject({ paused: true });
    });
  });

  it('on the embedded default (a CPU worker, no GPU) pause the renders there ("cpu"), across a restart too', { timeout: 60_000 }, async () => {
    const root = tempDir();
    mkdirSync(join(root, 'media'));
    writeWav(join(root, 'media', 'a.wav'), 22050, 1, tone(22050, 0.5, [440]));
    expect(loadConfigFile().synthesis.workers.every((w) => w.gpu === undefined)).toBe(true);
    await withDaemon(
      root,
      async (d) => {
        expect((await d.app.inject('/v1/renders/gpus')).json()).toEqual({ gpus: [{ gpu: 'cpu', paused: false, maxFps: null, maxFpsFrom: null, reason: null, operator: { paused: false, maxFps: null }, yield: null }] });
        const r = await d.app.inject({ method: 'PATCH', url: '/v1/renders/gpus/cpu', payload: { paused: true, reason: 'the show starts' } });
        expect(r.json()).toMatchObject({ gpu: 'cpu', paused: true, reason: 'the show starts', persisted: true });
      },
      { embeddedWorkers: true },
    );
    expect(JSON.parse(readFileSync(join(root, 'state', 'render-gpus.json'), 'utf8'))).toEqual({ version: 1, gpus: { cpu: { paused: true, maxFps: null, reason: 'the show starts' } } });
    await withDaemon(
      root,
      async (d) => {
        const throttle = d.services.get('renders').throttle;
        const held = new Promise<string>((resolve) => throttle.onHold((h) => resolve(h.reason)));
        const r = await d.app.inject({ method: 'POST', url: '/v1/renders', payload: { audio: ['a.wav'], networks: ['demo-64'] } });
        expect(r.statusCode, r.body).toBe(202);
        expect(await held).toBe('cpu: the show starts');
        const id = r.json<RenderJobView>().id;
        expect(d.services.get('renders').scheduler.view(id)).toMatchObject({ state: 'running', framesDone: 0 });
        const resumed = await d.app.inject({ method: 'PATCH', url: '/v1/renders/gpus/cpu', payload: { paused: false } });
        expect(resumed.json()).toMatchObject({ gpu: 'cpu', paused: false, persisted: true });
        await until(d.services.get('renders').scheduler, id, (j) => j.state === 'done');
      },
      { embeddedWorkers: true },
    );
  });
});
