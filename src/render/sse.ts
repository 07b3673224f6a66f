/**
 * One render's changes as Server-Sent Events. The stream holds one listener on the scheduler and
 * one timer, both released when the render ends or the client goes away, whichever is first.
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
  if (opts.finished(job)) {
    write('end', job);
    res.end();
    return;
  }
  const release = () => {
    scheduler.off('job', onJob);
    scheduler.off('closing', onClosing);
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
      write('progress', j);
    }
  };
  const timer = setInterval(() => res.write(': keep-alive\n\n'), opts.heartbeatMs);
  timer.unref();
  scheduler.on('job', onJob);
  scheduler.on('closing', onClosing);
  res.on('close', release);
  write('progress', job);
}
