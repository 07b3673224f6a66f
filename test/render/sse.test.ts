/** GET /v1/renders/{id}/events on a listening server: progress then the end, and a client that leaves early. */
import { once } from 'node:events';
import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { RenderJobView } from '../../src/render/view.ts';
import { rendersApp } from './api-setup.ts';
import { fakeRunner, Gate } from './fake-runner.ts';
import { until } from './job-helpers.ts';

const apps: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const a of apps.splice(0)) await a.close();
});

interface SseEvent {
  event: string;
  data: RenderJobView;
}

/** Parses events as they come; `next(n)` resolves when n events have been seen. */
function readEvents(res: IncomingMessage) {
  const events: SseEvent[] = [];
  let buf = '';
  const waiters: Array<() => void> = [];
  res.setEncoding('utf8').on('data', (chunk: string) => {
    buf += chunk;
    let end: number;
    while ((end = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      const lines = block.split('\n');
      const event = lines.find((l) => l.startsWith('event: '))?.slice(7);
      const data = lines.find((l) => l.startsWith('data: '))?.slice(6);
      if (event && data) events.push({ event, data: JSON.parse(data) as RenderJobView });
    }
    for (const w of waiters.splice(0)) w();
  });
  const ended = new Promise<void>((resolve) => res.on('end', () => resolve()));
  return {
    events,
    ended,
    async next(n: number) {
      while (events.length < n) await new Promise<void>((r) => waiters.push(r));
      return events[n - 1]!;
    },
  };
}

function get(url: string): Promise<{ res: IncomingMessage; abort: () => void }> {
  return new Promise((resolve, reject) => {
    const req = request(url, (res) => {
      // destroying our own request makes the response emit "aborted"; that is the point here
      res.on('error', () => {});
      resolve({ res, abort: () => req.destroy() });
    });
    req.on('error', reject);
    req.end();
  });
}

/** A listening renders app with one render held before its first batch (the gate). */
async function heldRender() {
  const gate = new Gate();
  const s = await rendersApp(fakeRunner({ frames: 8, batch: 4, beforeBatch: gate.wait }));
  apps.push(s);
  const base = await s.app.listen({ host: '127.0.0.1', port: 0 });
  const job = (await s.app.inject({ method: 'POST', url: '/v1/renders', payload: { audio: ['a.wav'], networks: ['demo-64'] } })).json<RenderJobView>();
  await gate.arrived;
  return { gate, s, base, job };
}

describe('/v1/renders/{id}/events', () => {
  it('streams progress while the render runs, then one end event with the final state, and closes', async () => {
    const { gate, s, base, job } = await heldRender();
    const { res } = await get(`${base}/v1/renders/${job.id}/events`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    const stream = readEvents(res);
    expect(await stream.next(1)).toMatchObject({ event: 'progress', data: { id: job.id, state: 'running', stage: 'analysing' } });
    gate.release();
    await stream.ended;
    const kinds = stream.events.map((e) => `${e.event}:${e.data.stage}:${e.data.framesDone}`);
    expect(kinds).toEqual(['progress:analysing:0', 'progress:rendering:4', 'progress:rendering:8', 'progress:encoding:8', 'end:done:8']);
    expect(stream.events.at(-1)!.data).toMatchObject({ state: 'done', outputUrl: `/v1/renders/${job.id}/output` });
    expect(s.scheduler.listenerCount('job')).toBe(0);

    // a finished render: only its end
    const after = await s.app.inject(`/v1/renders/${job.id}/events`);
    expect(after.statusCode).toBe(200);
    expect(after.body).toMatch(/^event: end\ndata: \{.*"state":"done".*\}\n\n$/);
  });

  it('a client that disconnects leaves no listener behind and does not disturb the render', async () => {
    const { gate, s, base, job } = await heldRender();
    const before = s.scheduler.listenerCount('job');
    const clients = await Promise.all([1, 2, 3].map(() => get(`${base}/v1/renders/${job.id}/events`)));
    await Promise.all(clients.map((c) => readEvents(c.res).next(1)));
    expect(s.scheduler.listenerCount('job')).toBe(before + 3);
    for (const c of clients) {
      const removed = once(s.scheduler, 'removeListener');
      c.abort();
      await removed;
    }
    expect(s.scheduler.listenerCount('job')).toBe(before);
    gate.release();
    const done = await until(s.scheduler, job.id, (j) => j.state === 'done');
    expect(done.framesDone).toBe(8);
  });

  it('a client that stops reading costs one waiting event, not every event since; it gets the latest once it reads again', async () => {
    const { gate, s, base, job } = await heldRender();
    let served: ServerResponse | undefined;
    s.app.server.on('request', (req, res: ServerResponse) => {
      if (req.url?.endsWith('/events')) served = res;
    });
    const { res } = await get(`${base}/v1/renders/${job.id}/events`);
    res.pause();
    // a long render's worth of progress (each event about a kilobyte) while the client reads nothing
    const current = s.queue.get(job.id)!;
    let peak = 0;
    for (let i = 1; i <= 20_000; i++) {
      s.scheduler.emit('job', { ...current, framesDone: i });
      peak = Math.max(peak, served!.writableLength);
    }
    expect(peak).toBeLessThan(256 * 1024);
    const stream = readEvents(res);
    res.resume();
    await vi.waitFor(() => expect(stream.events.at(-1)?.data.framesDone).toBe(20_000), { timeout: 10_000, interval: 20 });
    gate.release();
    await stream.ended;
    expect(stream.events.at(-1)).toMatchObject({ event: 'end', data: { state: 'done', framesDone: 8 } });
  });

  it('a stopping scheduler ends open streams (the HTTP server can close), the render stays running for the restart', async () => {
    const { s, base, job } = await heldRender();
    const { res } = await get(`${base}/v1/renders/${job.id}/events`);
    const stream = readEvents(res);
    await stream.next(1);
    await s.scheduler.stop();
    await stream.ended;
    expect(stream.events.map((e) => e.event)).toEqual(['progress']);
    expect(s.scheduler.listenerCount('job') + s.scheduler.listenerCount('closing')).toBe(0);
    expect(s.queue.get(job.id)!.state).toBe('running');
    await s.app.close();
  });
});
