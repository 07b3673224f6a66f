/**
 * gance_render_* on the daemon's registry. Counts by state and the queue depth are read from the
 * store at scrape time, so they are right after a restart too.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { JOB_STATES, type JobState } from './queue.ts';
import type { RenderFailureReason } from './types.ts';

export interface RenderMetrics {
  frames: Counter;
  encodeSeconds: Counter;
  failures: Counter<'reason'>;
}

export interface RenderMetricSources {
  counts: () => Record<JobState, number>;
  /** frames per second of each running render, as its runner last said */
  fps: () => number[];
}

const REASONS: RenderFailureReason[] = ['bad-input', 'no-space', 'encoder', 'synthesis', 'cancelled', 'internal'];

export function createRenderMetrics(registry: Registry, sources: RenderMetricSources): RenderMetrics {
  new Gauge({
    name: 'gance_render_jobs',
    help: 'Render jobs in the store by state',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const counts = sources.counts();
      for (const s of JOB_STATES) this.set({ state: s }, counts[s]);
    },
  });
  new Gauge({
    name: 'gance_render_queue_depth',
    help: 'Render jobs waiting for a worker slot',
    registers: [registry],
    collect() {
      this.set(sources.counts().queued);
    },
  });
  new Gauge({
    name: 'gance_render_fps',
    help: 'Frames per second rendered now, all running renders together',
    registers: [registry],
    collect() {
      this.set(sources.fps().reduce((a, b) => a + b, 0));
    },
  });
  const failures = new Counter({ name: 'gance_render_failures_total', help: 'Renders that ended without an output, by reason', labelNames: ['reason'], registers: [registry] });
  // every reason shows from the start at 0, so rate() works on the first failure
  for (const reason of REASONS) failures.inc({ reason }, 0);
  return {
    frames: new Counter({ name: 'gance_render_frames_total', help: 'Video frames rendered by render jobs', registers: [registry] }),
    encodeSeconds: new Counter({ name: 'gance_render_encode_seconds_total', help: 'Time render jobs spent in the encoding and muxing stages', registers: [registry] }),
    failures,
  };
}
