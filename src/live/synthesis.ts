/**
 * What synthesizes a live session's frames (its view's `synthesis`): the workers serving its
 * showing networks now, as the pool has them loaded (so a worker that died, restarted or fell back
 * shows as it is at the next view), with the frames each made for the session; the ways frames of
 * the session were made before that no longer serve it; and the warnings a performer needs, a
 * fallback above all: on stage a GPU whose WebGPU failed would otherwise pass its frames off as the
 * GPU's while the CPU makes them.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { Logger } from 'pino';
import type { RenderNetwork } from '../render/resolve.ts';
import { describeWorker, fallbackWarnings, loadedWorkers, mixed, SynthesisCounter, workerKey, type SynthesisWorker, type SynthesisWorkerInfo } from '../render/synthesis-record.ts';
import { synthesisWorkerProperties } from '../render/synthesis-schema.ts';
import type { Frame, SynthesisPool } from '../synthesis/pool/pool.ts';

const Worker = Type.Object({
  ...synthesisWorkerProperties,
  frames: Type.Integer({ minimum: 0, description: 'frames it made for this session as it is now (0: none yet)' }),
});

export const LiveSynthesisView = Type.Union(
  [
    Type.Object({
      workers: Type.Array(Worker, { description: 'the workers serving the showing networks now (as the pool has them loaded: after a restart or fallback, as they came back)' }),
      earlier: Type.Array(Worker, { description: 'how frames of this session were made that serve it no longer (a worker that restarted on another provider, a network set replaced), with their frames' }),
      mixed: Type.Boolean({ description: "the session's frames came from more than one kind of synthesis (engine, provider, adapter, precision)" }),
      warnings: Type.Array(Type.String(), { description: 'a worker that fell back (and why), a worker serving none of the showing networks (down, restarting, its load failed)' }),
    }),
    Type.Null(),
  ],
  { description: 'what synthesizes the frames; null while the synthesis workers are not running' },
);
export type LiveSynthesisView = Static<typeof LiveSynthesisView>;

export class LiveSynthesis {
  private readonly counter: SynthesisCounter;
  private readonly made = new Map<string, SynthesisWorker>();
  /** the kinds already said in the log: the start's, then each that frames came from */
  private readonly told = new Set<string>();

  constructor(
    networks: RenderNetwork[],
    private readonly log: Logger,
  ) {
    this.counter = new SynthesisCounter(networks);
  }

  /** The workers serving the session as it starts (for its start line); their kinds count as said. */
  starting(pool: SynthesisPool | undefined, networks: RenderNetwork[]): SynthesisWorkerInfo[] {
    const workers = pool ? loadedWorkers(pool, networks) : [];
    for (const w of workers) this.told.add(workerKey(w));
    return workers;
  }

  /** A set that will show (its frames are counted by its networks' own dtype). */
  addNetworks(networks: RenderNetwork[]): void {
    for (const n of networks) this.counter.addNetwork(n);
  }

  /** A frame made for the session; the first from a kind not said yet is said (a worker back on the CPU, say). */
  frame(frame: Frame): void {
    const w = this.counter.count(frame, this.made);
    if (w === null) return;
    const k = workerKey(w);
    if (this.told.has(k)) return;
    this.told.add(k);
    this.log.info({ worker: w }, `synthesis: frames now also from ${describeWorker(w)}`);
    for (const warning of fallbackWarnings([w])) this.log.warn(warning);
  }

  view(pool: SynthesisPool | undefined, networks: RenderNetwork[]): LiveSynthesisView {
    if (!pool) return null;
    const serving = loadedWorkers(pool, networks);
    const keys = new Set(serving.map(workerKey));
    const workers = serving.map((w) => ({ ...w, frames: this.made.get(workerKey(w))?.frames ?? 0 }));
    const earlier = [...this.made.entries()].filter(([k]) => !keys.has(k)).map(([, w]) => ({ ...w }));
    const ids = new Set(serving.map((w) => w.id));
    const idle = pool.workerIds.filter((id) => !ids.has(id)).map((id) => `synthesis worker ${id}: serves none of the showing networks (down, restarting, or its load failed)`);
    return { workers, earlier, mixed: mixed([...this.made.values()]), warnings: [...fallbackWarnings(serving), ...idle] };
  }
}
