import pino, { type Logger } from 'pino';
import * as ort from 'onnxruntime-node';
import { Registry } from 'prom-client';
import { createSynthesisMetrics, type SynthesisMetrics } from '../../../src/synthesis/metrics.ts';
import type { PoolNetwork } from '../../../src/synthesis/pool/pool.ts';
import type { TensorData } from '../../../src/synthesis/pool/protocol.ts';

export interface CapturedLog {
  log: Logger;
  lines: Array<{ level: number; msg: string; [k: string]: unknown }>;
}

export function captureLog(): CapturedLog {
  const lines: CapturedLog['lines'] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => lines.push(JSON.parse(s)) });
  return { log, lines };
}

export function metrics(): { registry: Registry; metrics: SynthesisMetrics } {
  const registry = new Registry();
  return { registry, metrics: createSynthesisMetrics(registry) };
}

/** Sum of a series' samples matching the labels (`name` may be a histogram's _count/_sum/_bucket). */
export async function sample(registry: Registry, name: string, labels: Record<string, string | number> = {}): Promise<number> {
  let total = 0;
  for (const m of await registry.getMetricsAsJSON()) {
    for (const v of m.values as Array<{ value: number; labels: Record<string, string | number>; metricName?: string }>) {
      if ((v.metricName ?? m.name) !== name) continue;
      if (Object.entries(labels).every(([k, l]) => String(v.labels[k]) === String(l))) total += v.value;
    }
  }
  return total;
}

/**
 * Reference outputs computed in the test process with a plain session (tests may block their own
 * thread; the daemon never does), one frame at a time, to compare what the pool returns.
 */
export class Reference {
  private sessions = new Map<string, Promise<ort.InferenceSession>>();

  async run(net: PoolNetwork, feeds: Record<string, TensorData>): Promise<Record<string, TensorData>> {
    let s = this.sessions.get(net.id);
    if (!s) {
      s = ort.InferenceSession.create(net.path, { intraOpNumThreads: 1 });
      this.sessions.set(net.id, s);
    }
    const session = await s;
    const input: Record<string, ort.Tensor> = {};
    for (const i of net.inputs) input[i.name] = new ort.Tensor(i.type, feeds[i.name] as Float32Array, [1, ...i.dims]);
    const out = await session.run(input);
    const result: Record<string, TensorData> = {};
    for (const [k, v] of Object.entries(out)) result[k] = (v as ort.Tensor).data as TensorData;
    return result;
  }
}
