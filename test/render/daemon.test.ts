/** The render subsystem inside a real daemon (in-process, fake runner): service, API, metrics, stop pauses and a new daemon resumes. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createDaemon } from '../../src/daemon.ts';
import { JobQueue } from '../../src/render/queue.ts';
import type { RenderJobView } from '../../src/render/view.ts';
import { tone, writeWav } from '../audio/wav.ts';
import { fakeRunner, Gate } from './fake-runner.ts';
import { fakeRunnerDaemonConfig, spec, tempDir, until } from './job-helpers.ts';

describe('render subsystem in the daemon', () => {
  it('serves /v1/renders and gance_render_* metrics; a stop pauses the render and the next daemon finishes it', { timeout: 60_000 }, async () => {
    const root = tempDir();
    const stateDir = join(root, 'state');
    mkdirSync(join(root, 'media'));
    // real audio: the daemon probes it before it queues the render
    writeWav(join(root, 'media', 'a.wav'), 22050, 1, tone(22050, 0.5, [440]));
    const gate = new Gate();
    const first = fakeRunner({ frames: 12, batch: 4, beforeBatch: async ({ framesDone }) => (framesDone >= 4 ? gate.wait() : undefined) });
    const d1 = await createDaemon({ config: fakeRunnerDaemonConfig(stateDir, root), log: pino({ level: 'silent' }), render: { loadRunner: async () => first } });
    const hints: string[] = [];
    d1.events.on('load-hint', (h) => hints.push(`${h.source} ${h.gpus.join(',')}`));
    await d1.start();
    let id: string;
    try {
      expect(d1.services.get('renders').throttle.state()).toEqual([]);
      const res = await d1.app.inject({ method: 'POST', url: '/v1/renders', payload: { audio: ['a.wav'], networks: ['demo-64'] } });
      expect(res.statusCode).toBe(202);
      id = res.json<RenderJobView>().id;
      await gate.arrived;
      expect(hints).toEqual([`render:${id} 0`]);
      const metrics = (await d1.app.inject('/metrics')).body;
      expect(metrics).toMatch(/^gance_render_jobs\{state="running"\} 1$/m);
      expect(metrics).toMatch(/^gance_render_frames_total 4$/m);
      expect(metrics).toMatch(/^gance_render_fps 30$/m);
      expect(metrics).toContain('# TYPE gance_render_encode_seconds_total counter');
      const lint = join(root, 'metrics.txt');
      writeFileSync(lint, metrics);
      execFileSync('sh', ['-c', `promtool check metrics < ${lint}`]);
      const doc = (await d1.app.inject('/docs/json')).json<{ paths: Record<string, unknown> }>();
      expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/renders/', '/v1/renders/{id}', '/v1/renders/{id}/output', '/v1/renders/{id}/events']));
    } finally {
      await d1.stop();
    }
    expect(first.runs.map((r) => r.outcome)).toEqual(['cancelled']);

    const second = fakeRunner({ frames: 12, batch: 4 });
    const d2 = await createDaemon({ config: fakeRunnerDaemonConfig(stateDir, root), log: pino({ level: 'silent' }), render: { loadRunner: async () => second } });
    const paused = (await d2.app.inject(`/v1/renders/${id}`)).json<RenderJobView>();
    expect(paused).toMatchObject({ state: 'running', framesDone: 4 });
    await d2.start();
    try {
      const done = await until(d2.services.get('renders').scheduler, id, (j) => j.state === 'done');
      expect(done).toMatchObject({ framesDone: 12, attempts: 2 });
      expect(second.runs).toEqual([{ workDir: done.workDir, startFrame: 4, outcome: 'done' }]);
    } finally {
      await d2.stop();
    }
  });

  it('removes at start the uploads a killed daemon left (an upload cut off, a job never queued or ended); a queued job\'s stay', { timeout: 60_000 }, async () => {
    const root = tempDir();
    const stateDir = join(root, 'state');
    mkdirSync(join(root, 'media'));
    const uploads = join(stateDir, 'uploads');
    // the last daemon queued one upload job, failed another, and was killed mid-way through a third upload
    const q = new JobQueue({ stateDir });
    const queued = q.create({ spec: spec({ path: join(root, 'out', 'q.mp4') }), id: 'aaaaaaaaaaaa', uploadDir: join(uploads, 'aaaaaaaaaaaa') });
    q.create({ spec: spec({ path: join(root, 'out', 'f.mp4') }), id: 'bbbbbbbbbbbb', uploadDir: join(uploads, 'bbbbbbbbbbbb') });
    q.claimNext();
    q.claimNext();
    q.fail('bbbbbbbbbbbb', 'internal', 'killed before its audio was removed');
    q.close();
    for (const id of ['aaaaaaaaaaaa', 'bbbbbbbbbbbb', 'cccccccccccc']) {
      mkdirSync(join(uploads, id), { recursive: true });
      writeFileSync(join(uploads, id, '00-song.wav'), 'audio');
    }
    const d = await createDaemon({ config: fakeRunnerDaemonConfig(stateDir, root), log: pino({ level: 'silent' }), render: { loadRunner: async () => fakeRunner({ frames: 4 }) } });
    try {
      expect(readdirSync(uploads)).toEqual([queued.id]);
      expect(readdirSync(join(uploads, queued.id))).toEqual(['00-song.wav']);
    } finally {
      await d.stop();
    }
  });
});
