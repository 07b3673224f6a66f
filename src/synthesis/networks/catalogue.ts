/**
 * The networks the daemon can offer: every NAME.onnx + NAME.json in the configured folders and
 * the bundled ones. Each is checked before it is offered for loading: the sidecar against its
 * schema, the ONNX file's declared inputs and outputs against the sidecar's contract. A broken
 * network is listed with what is wrong with it and never reaches a worker.
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { contractMismatches, listNetworks, type NetworkSidecar } from '../stylegan2/index.ts';
import type { PoolNetwork } from '../pool/pool.ts';
import type { TensorType } from '../pool/protocol.ts';
import { readOnnxIo } from './onnx-io.ts';

export const BUNDLED_NETWORKS_DIR = fileURLToPath(new URL('../../../config/networks/', import.meta.url));

export interface CatalogueEntry {
  id: string;
  onnxPath: string;
  sidecarPath: string;
  /** shipped with gance (config/networks) rather than found in a configured folder */
  bundled: boolean;
  sidecar?: NetworkSidecar;
  /** why the network cannot be loaded; absent when it can */
  error?: string;
}

export interface CatalogueOptions {
  dirs: string[];
  /** folder of the bundled networks; none when left out */
  bundledDir?: string;
  log: Logger;
}

interface Checked {
  stamp: string;
  error: string | undefined;
}

/** Problems that would stop the pool from feeding the network, beyond the sidecar's own contract. */
function poolProblems(sidecar: NetworkSidecar): string[] {
  const problems: string[] = [];
  const batch = sidecar.batch;
  for (const [kind, list] of [['input', sidecar.inputs], ['output', sidecar.outputs]] as const) {
    for (const t of list) {
      const first = t.shape[0];
      const batched = batch === null ? typeof first === 'string' : first === batch;
      if (!batched) problems.push(`${kind} '${t.name}' has no leading batch dimension (shape [${t.shape.join(', ')}], batch ${batch ?? 'any'})`);
      const rest = t.shape.slice(1).filter((d) => typeof d !== 'number');
      if (rest.length > 0) problems.push(`${kind} '${t.name}' has symbolic dimensions besides the batch (shape [${t.shape.join(', ')}])`);
    }
  }
  return problems;
}

export class NetworkCatalogue {
  private entries: CatalogueEntry[] = [];
  private readonly checked = new Map<string, Checked>();
  private readonly reported = new Map<string, string>();

  constructor(private readonly opts: CatalogueOptions) {}

  /** Re-reads the folders (cheap: sidecars and a few KB of each ONNX file, cached by mtime). */
  scan(): CatalogueEntry[] {
    const dirs = [
      ...(this.opts.bundledDir ? [{ dir: this.opts.bundledDir, bundled: true }] : []),
      ...this.opts.dirs.map((d) => ({ dir: resolve(d), bundled: false })),
    ];
    const seen = new Map<string, CatalogueEntry>();
    const entries: CatalogueEntry[] = [];
    for (const { dir, bundled } of dirs) {
      if (!existsSync(dir)) {
        this.reportOnce(dir, `network folder ${dir} does not exist`, { dir });
        continue;
      }
      for (const listed of listNetworks(dir)) {
        const entry: CatalogueEntry = {
          id: listed.id,
          onnxPath: listed.onnxPath,
          sidecarPath: listed.sidecarPath,
          bundled,
          ...(listed.sidecar ? { sidecar: listed.sidecar } : {}),
        };
        const first = seen.get(listed.id);
        if (first) {
          entry.error = `duplicate network id "${listed.id}": ${first.sidecarPath} already has it`;
        } else {
          seen.set(listed.id, entry);
          const error = listed.error ?? this.check(entry);
          if (error) entry.error = error;
        }
        entries.push(entry);
      }
    }
    this.entries = entries;
    this.report();
    return entries;
  }

  list(): CatalogueEntry[] {
    return this.entries;
  }

  /** The usable network with this id (the first one found when ids repeat). */
  get(id: string): CatalogueEntry | undefined {
    return this.entries.find((e) => e.id === id && !e.error?.startsWith('duplicate')) ?? this.entries.find((e) => e.id === id);
  }

  private check(entry: CatalogueEntry): string | undefined {
    const sidecar = entry.sidecar;
    if (!sidecar) return `${entry.sidecarPath}: no sidecar`;
    let stamp: string;
    try {
      const a = statSync(entry.onnxPath);
      const b = statSync(entry.sidecarPath);
      stamp = `${a.size}:${a.mtimeMs}:${b.size}:${b.mtimeMs}`;
    } catch (err) {
      return `${entry.onnxPath}: ${(err as Error).message}`;
    }
    const cached = this.checked.get(entry.onnxPath);
    if (cached?.stamp === stamp) return cached.error;
    let error: string | undefined;
    try {
      const io = readOnnxIo(entry.onnxPath);
      const problems = [...contractMismatches(sidecar, io.inputs, io.outputs), ...poolProblems(sidecar)];
      if (problems.length > 0) error = `${entry.onnxPath} does not match its sidecar ${entry.sidecarPath}: ${problems.join('; ')}`;
    } catch (err) {
      error = (err as Error).message;
    }
    this.checked.set(entry.onnxPath, { stamp, error });
    return error;
  }

  /** Logs each broken network once (again only when what is wrong with it changes). */
  private report(): void {
    for (const e of this.entries) {
      if (!e.error) {
        this.reported.delete(e.sidecarPath);
        continue;
      }
      this.reportOnce(e.sidecarPath, `network "${e.id}" cannot be used: ${e.error}`, { network: e.id, file: e.sidecarPath, error: e.error });
    }
  }

  private reportOnce(key: string, message: string, fields: Record<string, unknown>): void {
    if (this.reported.get(key) === message) return;
    this.reported.set(key, message);
    this.opts.log.warn(fields, message);
  }
}

/** What the pool needs to load and feed a checked network. */
export function poolNetwork(entry: CatalogueEntry, output: 'frames' | 'image'): PoolNetwork {
  const sidecar = entry.sidecar;
  if (!sidecar || entry.error) throw new Error(`network "${entry.id}" cannot be used: ${entry.error ?? 'no sidecar'}`);
  const fetch = sidecar.outputs.filter((o) => o.role === output).map((o) => o.name);
  return {
    id: entry.id,
    path: entry.onnxPath,
    inputs: sidecar.inputs.map((i) => ({ name: i.name, type: i.dtype as TensorType, dims: i.shape.slice(1) as number[] })),
    fetch,
    batch: sidecar.batch,
    // builder.hostNodes stay where onnxruntime puts them: forcing them onto the CPU under WebGPU
    // measured slower on an H100 (the uploads wait for the GPU)
  };
}
