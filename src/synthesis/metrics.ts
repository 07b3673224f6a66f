import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The synthesis series; one set per registry (tests build many registries in one process). */
export interface SynthesisMetrics {
  frames: Counter<'worker'>;
  latency: Histogram;
  batchSize: Histogram;
  restarts: Counter<'worker'>;
  networksLoaded: Gauge;
}

export function createSynthesisMetrics(registry: Registry): SynthesisMetrics {
  const registers = [registry];
  return {
    frames: new Counter({
      name: 'gance_synthesis_frames_total',
      help: 'Frames synthesized, by worker',
      labelNames: ['worker'],
      registers,
    }),
    latency: new Histogram({
      name: 'gance_synthesis_latency_seconds',
      help: 'Time from submitting a frame to its pixels being back on the main thread',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56],
      registers,
    }),
    batchSize: new Histogram({
      name: 'gance_synthesis_batch_size',
      help: 'Frames per inference call',
      buckets: [1, 2, 4, 8, 16, 32],
      registers,
    }),
    restarts: new Counter({
      name: 'gance_synthesis_worker_restarts_total',
      help: 'Inference workers restarted after a crash, by worker',
      labelNames: ['worker'],
      registers,
    }),
    networksLoaded: new Gauge({
      name: 'gance_synthesis_networks_loaded',
      help: 'Networks loaded (and warmed) in the inference workers',
      registers,
    }),
  };
}
