/**
 * One render's changes as Server-Sent Events. The stream holds one listener on the scheduler and
 * one timer, both released when the render ends or the client goes away, whichever is first.
 * Progress events are snapshots: while a client is not reading (its socket buffer full) only the
 * latest one waits for it, so a stalled client costs one event of memory however long the render.
 */
import type { FastifyReply } from 'fastify';
import type { Job } from './queue.ts';
import type { RenderScheduler } from './scheduler.ts';
import type { RenderJobView } from './view.ts';

export interface StreamOptions {
  view: (job: Job) => RenderJobView;
  /** a comment line this often keeps proxies from closing a quiet stream */
  heartbeatMs: number;
  finished: (job: Job) => boolean;
}

export function streamJobEvents(reply: FastifyReply, scheduler: RenderScheduler, job: Job, opts: StreamOptions): void {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  const write = (event: 'progress' | 'end', j: Job) => res.write(`event: ${event}\ndata: ${JSON.stringify(opts.view(j))}\n\n`);
  let waiting: Job | null = null;
  const progress = (j: Job) => {
    if (res.writableNeedDrain) waiting = j;
    else write('progress', j);
  };
  const onDrain = () => {
    const j = waiting;
    waiting = null;
    if (j) write('progress', j);
  };
  if (opts.finished(job)) {
    write('end', job);
    res.end();
    return;
  }
  const release = () => {
    scheduler.off('job', onJob);
    scheduler.off('closing', onClosing);
    res.off('drain', onDrain);
    clearInterval(timer);
  };
  // the daemon is stopping: the render is paused, not ended; the client may follow it again after the restart
  const onClosing = () => {
    release();
    res.end();
  };
  const onJob = (j: Job) => {
    if (j.id !== job.id) return;
    if (opts.finished(j)) {
      write('end', j);
      release();
      res.end();
    } else {
      progress(j);
    }
  };
  // a client that is not reading needs no keep-alive either
  const timer = setInterval(() => res.writableNeedDrain || res.write(': keep-alive\n\n'), opts.heartbeatMs);
  timer.unref();
  scheduler.on('job', onJob);
  scheduler.on('closing', onClosing);
  res.on('close', release);
  res.on('drain', onDrain);
  write('progress', job);
}
