/**
 * Makes sure a render's networks are loaded in the pool, held for it until it lets go: a network
 * the render had to load is unloaded again once no one holds it (another render or a live session
 * holding it, or the operator asking for it, keeps it), so renders of other networks do not pile them up in
 * GPU memory. A network that was loaded already stays loaded.
 */
import { randomBytes } from 'node:crypto';
import { InvalidNetworkError, SynthesisUnavailableError, UnknownNetworkError, type NetworkManager } from '../synthesis/networks/manager.ts';
import type { SynthesisPool } from '../synthesis/pool/pool.ts';
import type { RenderNetwork } from './resolve.ts';
import { RenderFailure } from './types.ts';

export interface HeldNetworks {
  pool: SynthesisPool;
  /** lets go of the networks (idempotent; never throws) */
  release: () => Promise<void>;
}

export async function loadNetworks(manager: NetworkManager, networks: RenderNetwork[], signal?: AbortSignal, holderName = 'render'): Promise<HeldNetworks> {
  // two renders of one name (two stills runs, say) must not release each other's hold
  const holder = `${holderName}#${randomBytes(3).toString('hex')}`;
  const held: string[] = [];
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    for (const id of held) await manager.release(id, holder);
  };
  try {
    for (const n of networks) {
      if (held.includes(n.id)) continue;
      try {
        manager.acquire(n.id, holder);
        held.push(n.id);
      } catch (err) {
        if (err instanceof UnknownNetworkError || err instanceof InvalidNetworkError) throw new RenderFailure('bad-input', `network "${n.id}": ${err.message}`, { cause: err });
        if (err instanceof SynthesisUnavailableError) throw new RenderFailure('synthesis', `network "${n.id}": ${err.message}`, { cause: err });
        throw err;
      }
    }
    for (const n of networks) {
      await manager.settled(n.id);
      if (signal?.aborted) throw new RenderFailure('cancelled', 'cancelled while the networks loaded');
    }
    const pool = manager.pool;
    if (!pool) throw new RenderFailure('synthesis', 'synthesis workers are not running');
    for (const n of networks) {
      if (!pool.isLoaded(n.id)) {
        const why = manager.list().networks.find((v) => v.id === n.id)?.error ?? 'it is not loaded';
        throw new RenderFailure('synthesis', `network "${n.id}" could not be loaded: ${why}`);
      }
    }
    return { pool, release };
  } catch (err) {
    await release();
    throw err;
  }
}
