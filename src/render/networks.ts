/**
 * Makes sure a render's networks are loaded in the pool (they stay loaded afterwards: the next
 * render likely wants them too, and unloading is the operator's call through /v1/networks).
 */
import { InvalidNetworkError, SynthesisUnavailableError, UnknownNetworkError, type NetworkManager } from '../synthesis/networks/manager.ts';
import type { SynthesisPool } from '../synthesis/pool/pool.ts';
import type { RenderNetwork } from './resolve.ts';
import { RenderFailure } from './types.ts';

export async function loadNetworks(manager: NetworkManager, networks: RenderNetwork[], signal?: AbortSignal): Promise<SynthesisPool> {
  for (const n of networks) {
    try {
      manager.requestLoad(n.id);
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
  return pool;
}
