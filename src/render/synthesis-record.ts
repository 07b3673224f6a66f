/**
 * What synthesized a render's frames: per worker the engine, the provider it ended up on (after
 * any fallback, with the reasons), the adapter it opened, the precision, how its process was bound
 * to a GPU, and how many frames it made. NAME.run.json records it (`synthesis`), `gance render`
 * says it in its first line, the daemon's job view shows it while the render runs.
 *
 * Without it a video from the CPU fallback (a worker asked for [webgpu, cpu] on a machine whose
 * WebGPU did not open) looked like one from the GPU, and f16 frames like f32 ones, though their
 * pixels differ.
 *
 * A resumed render's segments were made by an earlier run, maybe on other workers: each complete
 * segment's workers are kept in the work folder (SYNTHESIS_FILE) so the run that finishes the
 * render can say what made those too (`resumed`), and whether the output mixes kinds (`mixed`).
 */
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Frame, LoadedOn, SynthesisPool } from '../synthesis/pool/pool.ts';
import type { ProviderAttempt } from '../synthesis/pool/protocol.ts';
import type { WorkerBinding } from '../synthesis/webgpu/gpu-binding.ts';
import { asNoSpace } from './disk.ts';
import type { RenderNetwork } from './resolve.ts';

export const SYNTHESIS_FILE = 'render-synthesis.json';

export interface SynthesisWorkerInfo {
  id: string;
  engine: 'onnx' | 'webgpu';
  /** the provider the frames ran on, after any fallback (the webgpu engine: webgpu) */
  provider: string;
  /** webgpu engine: the adapter the worker opened, as WebGPU reports it (GET /v1/networks `loaded[].adapter`) */
  adapter: { vendor: string; architecture: string; device: string; description: string } | null;
  /**
   * webgpu engine: its conv kernels' arithmetic; onnx: the graph's own (the network's sidecar
   * dtype), which onnxruntime runs as it is. null: not known.
   */
  precision: 'f16' | 'f32' | null;
  /** why the precision is not the one configured (webgpu precision auto on an adapter without shader-f16) */
  precisionNote: string | null;
  /** the providers tried first and why each could not be used ([]: the first one worked) */
  fallback: ProviderAttempt[];
  /** how the worker's process was bound to its GPU (null: not bound; it took what its Vulkan loader offered) */
  binding: WorkerBinding | null;
}

export interface SynthesisWorker extends SynthesisWorkerInfo {
  /** frames it made (in this run, or in the resumed segments) */
  frames: number;
}

/** The run config's `synthesis`. */
export interface SynthesisRecord {
  /** what made the frames this run rendered (all of them unless it resumed) */
  workers: SynthesisWorker[];
  /**
   * what made the frames of the segments this run resumed after, as the runs that made them
   * recorded them in the work folder; null: it resumed nothing. `workers` null: the work folder
   * had no record of them (a gance before this one made them).
   */
  resumed: { frames: number; workers: SynthesisWorker[] | null } | null;
  /**
   * frames of the output came from more than one kind of synthesis (engine, provider, adapter or
   * precision): their pixels may differ slightly from one worker's to another's
   */
  mixed: boolean;
}

function precisionOf(on: LoadedOn, net: RenderNetwork | undefined): 'f16' | 'f32' | null {
  if (on.engine === 'webgpu') return on.adapter?.precision ?? 'f32';
  const dtype = net?.sidecar.dtype;
  return dtype === 'float16' ? 'f16' : dtype === 'float32' ? 'f32' : null;
}

export function workerInfo(on: LoadedOn, net: RenderNetwork | undefined): SynthesisWorkerInfo {
  const a = on.adapter;
  return {
    id: on.worker,
    engine: on.engine,
    provider: on.provider,
    adapter: a ? { vendor: a.vendor, architecture: a.architecture, device: a.device, description: a.description } : null,
    precision: precisionOf(on, net),
    precisionNote: a?.precisionNote ?? null,
    fallback: on.fallback ?? [],
    binding: on.binding ?? null,
  };
}

/** The identity of a worker's entry: its id and everything about its synthesis. */
export const workerKey = (w: SynthesisWorkerInfo): string => {
  const { id, engine, provider, adapter, precision, precisionNote, fallback, binding } = w;
  return JSON.stringify([id, engine, provider, adapter, precision, precisionNote, fallback, binding]);
};

/** What decides the pixels: two workers of one kind make the same frames. */
const kind = (w: SynthesisWorkerInfo): string => JSON.stringify([w.engine, w.provider, w.adapter?.description ?? null, w.adapter?.vendor ?? null, w.precision]);

/** The frames came from more than one kind of synthesis. */
export function mixed(workers: ReadonlyArray<SynthesisWorker>): boolean {
  return new Set(workers.filter((w) => w.frames > 0).map(kind)).size > 1;
}

/** Entries of one worker and kind added up, in the order first seen. */
export function merge(lists: SynthesisWorker[][]): SynthesisWorker[] {
  const out = new Map<string, SynthesisWorker>();
  for (const list of lists) {
    for (const w of list) {
      const k = workerKey(w);
      const have = out.get(k);
      if (have) have.frames += w.frames;
      else out.set(k, { ...w });
    }
  }
  return [...out.values()];
}

/** The workers that have the render's networks loaded, before any frame (what `gance render` says at its start). */
export function loadedWorkers(pool: SynthesisPool, networks: RenderNetwork[]): SynthesisWorkerInfo[] {
  const where = pool.loadedNetworks();
  const seen = new Map<string, SynthesisWorkerInfo>();
  for (const id of pool.workerIds) {
    for (const net of networks) {
      const on = where.get(net.id)?.find((o) => o.worker === id);
      if (!on) continue;
      const info = workerInfo(on, net);
      seen.set(workerKey(info), info);
    }
  }
  return [...seen.values()];
}

/** One line's worth: `cpu0 onnx/cpu`, `gpu0 webgpu "NVIDIA H200" f32, bound to GPU 0 (pci-0000_00_06_0)`. */
export function describeWorker(w: SynthesisWorkerInfo): string {
  const a = w.adapter;
  const name = a === null ? '' : ` "${a.description || a.device || a.vendor}"`;
  const what = w.engine === 'webgpu' ? `webgpu${name} ${w.precision ?? 'f32'}` : `onnx/${w.provider}`;
  // the binding only matters to WebGPU: a worker fallen back to the CPU is on no GPU
  const b = w.binding;
  const onGpu = w.provider === 'webgpu';
  const bound = !onGpu || b === null ? '' : b.source === 'gpu' ? `, bound to GPU ${b.gpu} (${b.env.DRI_PRIME ?? b.busId})` : `, bound by its env (${Object.entries(b.env).map(([k, v]) => `${k}=${v}`).join(' ')})`;
  return `${w.id} ${what}${bound}`;
}

/** `webgpu unavailable (no adapter ...); fell back to cpu` for a worker that fell back, else null. */
export function describeFallback(w: SynthesisWorkerInfo): string | null {
  if (w.fallback.length === 0) return null;
  return `synthesis worker ${w.id}: ${w.fallback.map((a) => `${a.provider} unavailable (${a.error})`).join('; ')}; fell back to ${w.provider}`;
}

/** The warnings of a list of workers: one per worker that fell back. */
export function fallbackWarnings(workers: ReadonlyArray<SynthesisWorkerInfo>): string[] {
  return workers.map(describeFallback).filter((w): w is string => w !== null);
}

/**
 * Frames counted by what made them (worker and kind), for a render's segments, a stills run and a
 * live session alike. The record of a load is made once and shared by its frames, as their origin is.
 */
export class SynthesisCounter {
  private readonly nets: Map<string, RenderNetwork>;
  private readonly known = new WeakMap<LoadedOn, Map<string, { info: SynthesisWorkerInfo; id: string }>>();

  constructor(networks: Iterable<RenderNetwork>) {
    this.nets = new Map([...networks].map((n) => [n.id, n]));
  }

  /** A network the counted frames may come from (a live session's next set). */
  addNetwork(net: RenderNetwork): void {
    this.nets.set(net.id, net);
  }

  /** Counts the frame into `into` (by key); its entry when it is the first of its worker and kind there, else null. */
  count(frame: Frame, into: Map<string, SynthesisWorker>): SynthesisWorker | null {
    let byNet = this.known.get(frame.origin);
    if (!byNet) this.known.set(frame.origin, (byNet = new Map()));
    let made = byNet.get(frame.network);
    if (!made) {
      const info = workerInfo(frame.origin, this.nets.get(frame.network));
      byNet.set(frame.network, (made = { info, id: workerKey(info) }));
    }
    const { info, id } = made;
    const have = into.get(id);
    if (have) {
      have.frames++;
      return null;
    }
    const entry = { ...info, frames: 1 };
    into.set(id, entry);
    return entry;
  }
}

/**
 * A render job's `synthesis` (GET /v1/renders/{id}): while it runs, the workers rendering it and
 * on what (frames and mixed null: counted as the frames land in segments); once done, the run
 * config's record.
 */
export interface JobSynthesis {
  workers: Array<SynthesisWorkerInfo & { frames: number | null }>;
  resumed: SynthesisRecord['resumed'];
  mixed: boolean | null;
}

interface Stored {
  version: 1;
  fingerprint: string;
  /** per complete segment, what made its frames */
  segments: Record<string, SynthesisWorker[]>;
}

/**
 * Counts a run's frames per segment and worker, and keeps the complete segments' counts in the
 * work folder (with those of earlier runs still there) for the run that will finish the render.
 */
export class SynthesisTally {
  private readonly bySegment = new Map<number, Map<string, SynthesisWorker>>();
  private readonly counter: SynthesisCounter;
  private stored: Stored;
  private writes: Promise<void> = Promise.resolve();

  private constructor(
    private readonly workDir: string,
    private readonly segmentFrames: number,
    networks: RenderNetwork[],
    stored: Stored,
  ) {
    this.counter = new SynthesisCounter(networks);
    this.stored = stored;
  }

  /**
   * `complete`: the segments kept from earlier runs (openWorkDir's); what the folder says of any
   * other segment, or of another render (fingerprint), is dropped.
   */
  static async open(workDir: string, o: { fingerprint: string; segmentFrames: number; complete: number; networks: RenderNetwork[] }): Promise<SynthesisTally> {
    let segments: Stored['segments'] = {};
    try {
      const s = JSON.parse(await readFile(join(workDir, SYNTHESIS_FILE), 'utf8')) as Stored;
      if (s.version === 1 && s.fingerprint === o.fingerprint && s.segments && typeof s.segments === 'object') {
        for (const [k, v] of Object.entries(s.segments)) if (Number(k) < o.complete && Array.isArray(v)) segments[k] = v;
      }
    } catch {
      segments = {};
    }
    return new SynthesisTally(workDir, o.segmentFrames, o.networks, { version: 1, fingerprint: o.fingerprint, segments });
  }

  /** A frame of this run, at its index in the render. */
  count(frame: Frame, index: number): void {
    const k = Math.floor(index / this.segmentFrames);
    let seg = this.bySegment.get(k);
    if (!seg) this.bySegment.set(k, (seg = new Map()));
    this.counter.count(frame, seg);
  }

  /** Segment k is complete: its counts go to the work folder (written one at a time, whole). */
  segmentDone(k: number): Promise<void> {
    this.stored.segments[String(k)] = [...(this.bySegment.get(k)?.values() ?? [])];
    const text = `${JSON.stringify(this.stored)}\n`;
    const write = async () => {
      const file = join(this.workDir, SYNTHESIS_FILE);
      // a name clearWorkDir knows (segments.ts OWN_TEMPS): a kill before the rename leaves it
      const tmp = join(this.workDir, `.${SYNTHESIS_FILE}.tmp`);
      try {
        await writeFile(tmp, text);
        await rename(tmp, file);
      } catch (err) {
        // a full disk leaves the file begun, and nothing else removes it (the work folder's
        // clean-ups know the segments' temporary names only): a failed render leaves no temp behind
        await rm(tmp, { force: true });
        throw asNoSpace(err, `writing the record of what synthesized segment ${k} (${file})`);
      }
    };
    this.writes = this.writes.then(write, write);
    return this.writes;
  }

  /** The run config's record: this run's workers, and the resumed segments' from the folder. */
  record(resumedFrames: number, resumedSegments: number): SynthesisRecord {
    const workers = merge([...this.bySegment.values()].map((m) => [...m.values()]));
    let resumed: SynthesisRecord['resumed'] = null;
    if (resumedFrames > 0) {
      const lists: SynthesisWorker[][] = [];
      let known = true;
      for (let k = 0; k < resumedSegments; k++) {
        const list = this.stored.segments[String(k)];
        if (list === undefined) known = false;
        else lists.push(list);
      }
      resumed = { frames: resumedFrames, workers: known ? merge(lists) : null };
    }
    return { workers, resumed, mixed: mixed([...workers, ...(resumed?.workers ?? [])]) };
  }
}
