/**
 * Between the catalogue (what could be loaded) and the pool (what is loaded): background loads
 * requested by id, their progress and failures, and the listing the API shows. A failed load
 * leaves the pool with the networks it had. Renders and live sessions hold the networks they use
 * (acquire/release, counted per holder): one loaded for a holder goes again when the last holder lets go.
 */
import type { Logger } from 'pino';
import { PoolClosedError, type LoadedOn, type SynthesisPool } from '../pool/pool.ts';
import { poolNetwork, type CatalogueEntry, type NetworkCatalogue } from './catalogue.ts';

export type NetworkState = 'available' | 'loading' | 'loaded' | 'failed' | 'invalid';

export interface NetworkView {
  id: string;
  path: string;
  sidecar: string;
  bundled: boolean;
  state: NetworkState;
  active: boolean;
  /** why it cannot be loaded (invalid) or why its last load failed (failed) */
  error?: string;
  resolution?: number;
  numWs?: number;
  zDim?: number;
  dtype?: string;
  inputs?: Array<{ name: string; role: string; dtype: string; shape: Array<number | string> }>;
  outputs?: Array<{ name: string; role: string; dtype: string; shape: Array<number | string> }>;
  loaded: LoadedOn[];
}

export class UnknownNetworkError extends Error {
  readonly statusCode = 404;
}
export class InvalidNetworkError extends Error {
  readonly statusCode = 422;
}
export class SynthesisUnavailableError extends Error {
  readonly statusCode = 409;
}

export interface ManagerOptions {
  catalogue: NetworkCatalogue;
  /** builds the pool when the manager starts (null: synthesis disabled) */
  createPool: (() => SynthesisPool) | null;
  output: 'frames' | 'image';
  defaultNetwork: string;
  log: Logger;
}

export class NetworkManager {
  private poolInstance: SynthesisPool | undefined;
  private readonly loading = new Map<string, { activate: boolean; replace: boolean; promise: Promise<void> }>();
  private readonly failed = new Map<string, string>();
  /** who holds each network (renders and live sessions, by a name of their own): a held network is not unloaded */
  private readonly holders = new Map<string, Set<string>>();
  /**
   * networks loaded only because a holder asked: unloaded when the last holder lets go. Anyone
   * asking without holding (the operator through /v1/networks, the default
   * network at start) takes a network out of here: it stays, as every load did before holds.
   */
  private readonly onBehalf = new Set<string>();

  constructor(private readonly opts: ManagerOptions) {}

  get pool(): SynthesisPool | undefined {
    return this.poolInstance;
  }

  get catalogue(): NetworkCatalogue {
    return this.opts.catalogue;
  }

  /** Starts the workers and the default network's load; does not wait for it (see `ready`). */
  start(): void {
    if (!this.opts.createPool) {
      this.opts.log.info('synthesis disabled (synthesis.enabled: false): no inference workers');
      return;
    }
    this.poolInstance = this.opts.createPool();
    try {
      this.requestLoad(this.opts.defaultNetwork, { activate: true });
    } catch (err) {
      // the daemon runs on (thermal control does not depend on synthesis); /readyz says synthesis is not ready
      this.opts.log.error({ network: this.opts.defaultNetwork, err: (err as Error).message }, `default network "${this.opts.defaultNetwork}" cannot be loaded: ${(err as Error).message}`);
    }
  }

  async stop(): Promise<void> {
    const pool = this.poolInstance;
    this.poolInstance = undefined;
    await pool?.close();
  }

  /**
   * A network is loaded, warmed and active (at start: the default one), and every worker is up.
   * Swapping to another network and unloading the default keeps the daemon ready.
   */
  ready(): boolean {
    const pool = this.poolInstance;
    const active = pool?.active;
    return pool !== undefined && active !== undefined && pool.isLoaded(active) && pool.isReady();
  }

  /** Resolves when the load in progress for `id` (if any) has finished, successfully or not. */
  async settled(id: string): Promise<void> {
    await this.loading.get(id)?.promise;
  }

  /**
   * Starts loading a network in the background ('loading'), or says it is already there ('loaded').
   * Throws UnknownNetworkError, InvalidNetworkError or SynthesisUnavailableError.
   */
  requestLoad(id: string, opts: { activate?: boolean; replace?: boolean } = {}): 'loading' | 'loaded' {
    const state = this.load(id, opts);
    this.onBehalf.delete(id);
    return state;
  }

  /**
   * Holds a network for `holder` (loading it in the background if it is not there): it stays
   * loaded until `release`. One the holder's request loaded is unloaded when its last holder lets
   * go; one that was there already, or that anyone asked for without holding it, stays.
   * Throws as requestLoad does.
   */
  acquire(id: string, holder: string): 'loading' | 'loaded' {
    const there = this.poolInstance?.isLoaded(id) === true || this.loading.has(id);
    const state = this.load(id, {});
    if (!there) this.onBehalf.add(id);
    let set = this.holders.get(id);
    if (!set) this.holders.set(id, (set = new Set()));
    set.add(holder);
    return state;
  }

  /** Lets go of a network `acquire` held; unloads it if it was loaded on the holders' behalf and no one holds it now. */
  async release(id: string, holder: string): Promise<void> {
    const set = this.holders.get(id);
    if (!set?.delete(holder)) return;
    if (set.size > 0) return;
    this.holders.delete(id);
    if (!this.onBehalf.has(id)) return;
    await this.settled(id);
    // held again, or asked for, while its load finished
    if (this.holders.has(id) || !this.onBehalf.delete(id)) return;
    const pool = this.poolInstance;
    if (!pool || !pool.isLoaded(id) || pool.active === id || this.loading.has(id)) return;
    try {
      await pool.unload(id);
      this.opts.log.info({ network: id, holder }, `network "${id}" unloaded (loaded for ${holder}, no one holds it now)`);
    } catch (err) {
      this.opts.log.warn({ network: id, err: (err as Error).message }, `network "${id}" stays loaded: ${(err as Error).message}`);
    }
  }

  /** Who holds a network now (renders, live sessions); empty when no one does. */
  heldBy(id: string): string[] {
    return [...(this.holders.get(id) ?? [])];
  }

  private load(id: string, opts: { activate?: boolean; replace?: boolean }): 'loading' | 'loaded' {
    const entry = this.lookup(id);
    if (entry.error) throw new InvalidNetworkError(entry.error);
    const pool = this.requirePool();
    // replace: a hot swap, activate it and let the previously active network go
    const activate = Boolean(opts.activate || opts.replace);
    const replace = Boolean(opts.replace);
    if (pool.isLoaded(id) && !this.loading.has(id)) {
      if (activate) this.switchTo(pool, id, replace);
      return 'loaded';
    }
    const pending = this.loading.get(id);
    if (pending) {
      pending.activate ||= activate;
      pending.replace ||= replace;
      return 'loading';
    }
    const net = poolNetwork(entry, this.opts.output);
    this.failed.delete(id);
    const state = { activate, replace, promise: Promise.resolve() };
    state.promise = pool.load(net).then(
      () => {
        this.loading.delete(id);
        if (state.activate && this.poolInstance === pool) this.switchTo(pool, id, state.replace);
      },
      (err: Error) => {
        this.loading.delete(id);
        // closed while loading: nothing failed (a render refused at its preflight closes the pool at once)
        if (err instanceof PoolClosedError) return;
        this.failed.set(id, err.message);
        this.opts.log.error({ network: id, err: err.message }, `network "${id}" failed to load: ${err.message}`);
      },
    );
    this.loading.set(id, state);
    return 'loading';
  }

  /**
   * Releases a loaded network from every worker once the frames that need it are done.
   * Throws UnknownNetworkError, or SynthesisUnavailableError (409) for the active network, one
   * that is loading, or one a render or a live session holds.
   */
  async unload(id: string): Promise<void> {
    this.lookup(id);
    const pool = this.requirePool();
    if (this.loading.has(id)) throw new SynthesisUnavailableError(`network "${id}" is loading; unload it once it has loaded`);
    if (pool.active === id) throw new SynthesisUnavailableError(`network "${id}" is active; activate another one first`);
    const held = this.heldBy(id);
    if (held.length > 0) throw new SynthesisUnavailableError(`network "${id}" is in use by ${held.join(', ')}; unload it once they have finished`);
    this.onBehalf.delete(id);
    if (!pool.isLoaded(id)) return;
    await pool.unload(id);
    this.opts.log.info({ network: id }, `network "${id}" unloaded`);
  }

  /** Makes `id` active between two frames; with `replace`, unloads the one that was active. */
  private switchTo(pool: SynthesisPool, id: string, replace: boolean): void {
    const previous = pool.active;
    pool.activate(id);
    this.opts.log.info({ network: id, previous }, `network "${id}" is active`);
    if (!replace || previous === undefined || previous === id) return;
    if (this.holders.has(previous)) {
      // a render or a live session still draws with it: it goes when the last one lets go
      this.onBehalf.add(previous);
      this.opts.log.info({ network: previous, heldBy: this.heldBy(previous) }, `network "${previous}" stays loaded until ${this.heldBy(previous).join(', ')} let go of it (replaced by "${id}")`);
      return;
    }
    pool.unload(previous).then(
      () => this.opts.log.info({ network: previous }, `network "${previous}" unloaded (replaced by "${id}")`),
      (err: Error) => this.opts.log.warn({ network: previous, err: err.message }, `network "${previous}" stays loaded: ${err.message}`),
    );
  }

  private requirePool(): SynthesisPool {
    const pool = this.poolInstance;
    if (!pool) throw new SynthesisUnavailableError(this.opts.createPool ? 'synthesis workers are not running' : 'synthesis is disabled (synthesis.enabled: false)');
    return pool;
  }

  list(): { active: string | null; networks: NetworkView[] } {
    const pool = this.poolInstance;
    const where = pool?.loadedNetworks() ?? new Map<string, LoadedOn[]>();
    const networks = this.opts.catalogue.scan().map((e) => this.view(e, where));
    return { active: pool?.active ?? null, networks };
  }

  private lookup(id: string): CatalogueEntry {
    this.opts.catalogue.scan();
    const entry = this.opts.catalogue.get(id);
    if (!entry) {
      const known = this.opts.catalogue.list().map((e) => e.id);
      throw new UnknownNetworkError(`no network "${id}" (known: ${known.join(', ') || 'none'})`);
    }
    return entry;
  }

  private view(e: CatalogueEntry, where: Map<string, LoadedOn[]>): NetworkView {
    const pool = this.poolInstance;
    const s = e.sidecar;
    const duplicate = e.error?.startsWith('duplicate') ?? false;
    const loadedHere = !duplicate && (pool?.isLoaded(e.id) ?? false);
    const state: NetworkState = e.error
      ? 'invalid'
      : this.loading.has(e.id)
        ? 'loading'
        : loadedHere
          ? 'loaded'
          : this.failed.has(e.id)
            ? 'failed'
            : 'available';
    const error = e.error ?? (state === 'failed' ? this.failed.get(e.id) : undefined);
    const tensors = (list: NonNullable<typeof s>['inputs']) => list.map((t) => ({ name: t.name, role: t.role, dtype: t.dtype, shape: [...t.shape] }));
    return {
      id: e.id,
      path: e.onnxPath,
      sidecar: e.sidecarPath,
      bundled: e.bundled,
      state,
      active: loadedHere && pool?.active === e.id,
      ...(error ? { error } : {}),
      ...(s ? { resolution: s.resolution, numWs: s.numWs, zDim: s.zDim, dtype: s.dtype, inputs: tensors(s.inputs), outputs: tensors(s.outputs) } : {}),
      loaded: loadedHere ? (where.get(e.id) ?? []) : [],
    };
  }
}
