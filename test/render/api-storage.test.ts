/**
 * /v1/renders when stateDir's disk cannot take the render queue's write: a 507 that says so and
 * names the store, not a bare 500 "internal error". SQLite's own SQLITE_FULL, as a full disk
 * gives it, comes from a page limit on the queue's connection.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RenderJobView } from '../../src/render/view.ts';
import { rendersApp } from './api-setup.ts';
import { fakeRunner, Gate } from './fake-runner.ts';
import { until } from './job-helpers.ts';

const apps: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const a of apps.splice(0)) await a.close();
});

describe('/v1/renders on a full state directory', () => {
  it('a submit is 507 naming the render queue and why; the queue takes renders again once there is room', async () => {
    const s = await rendersApp(fakeRunner({ frames: 4 }));
    apps.push(s);
    const db = s.queue['db'];
    db.pragma(`max_page_count = ${Number(db.pragma('page_count', { simple: true }))}`);
    // fill the store's last room with finished jobs no bigger than a real one in any table or
    // index, so that the real one cannot fit either
    let full: unknown;
    for (let i = 0; i < 10_000 && full === undefined; i++) {
      try {
        db.prepare("INSERT INTO jobs (id, state, spec, priority, stage, work_dir, created_at, updated_at) VALUES (?, 'done', '{}', 0, 'done', '', 0, 0)").run(`f${String(i).padStart(11, '0')}`);
      } catch (err) {
        full = err;
      }
    }
    expect((full as { code?: string }).code).toBe('SQLITE_FULL');
    const stored = () => Number(db.prepare('SELECT count(*) FROM jobs').pluck().get());
    const before = stored();

    const res = await s.app.inject({ method: 'POST', url: '/v1/renders', payload: { audio: ['a.wav'], networks: ['demo-64'] } });
    expect(res.statusCode).toBe(507);
    expect(res.json()).toEqual({
      statusCode: 507,
      error: 'Insufficient Storage',
      message: `not queued: the render queue (${s.queue.file}, in stateDir) cannot be written: the disk is full`,
    });
    expect(stored()).toBe(before);

    db.pragma('max_page_count = 1073741823');
    db.exec("DELETE FROM jobs WHERE id LIKE 'f%'");
    const ok = await s.app.inject({ method: 'POST', url: '/v1/renders', payload: { audio: ['a.wav'], networks: ['demo-64'] } });
    expect(ok.statusCode).toBe(202);
    await until(s.scheduler, ok.json<RenderJobView>().id, (j) => j.state === 'done');
  });

  it('a cancel the store cannot record is 507 too, and the render stays as it was', async () => {
    const gate = new Gate();
    const s = await rendersApp(fakeRunner({ frames: 4, beforeBatch: gate.wait }));
    apps.push(s);
    const job = (await s.app.inject({ method: 'POST', url: '/v1/renders', payload: { audio: ['a.wav'], networks: ['demo-64'] } })).json<RenderJobView>();
    s.queue['db'].pragma('query_only = ON'); // what a read-only store answers: SQLITE_READONLY
    const res = await s.app.inject({ method: 'DELETE', url: `/v1/renders/${job.id}` });
    expect(res.statusCode).toBe(507);
    expect(res.json<{ message: string }>().message).toBe(`not cancelled: the render queue (${s.queue.file}, in stateDir) cannot be written: it is read-only`);
    s.queue['db'].pragma('query_only = OFF');
    expect(['queued', 'running']).toContain((await s.app.inject(`/v1/renders/${job.id}`)).json<RenderJobView>().state);
    gate.release();
    await until(s.scheduler, job.id, (j) => j.state === 'done');
  });
});
