/**
 * Latents -> frame requests: each LatentFrame becomes the feeds of the network it picked (z and
 * psi for a z network, w for a w network). The throttle is awaited before every request, so the
 * cooling side can hold or slow the GPUs between two frames.
 */
import type { LatentFrame } from '../latents/frame.ts';
import type { FrameRequest } from '../synthesis/pool/pool.ts';
import type { RenderNetwork } from './resolve.ts';
import { RenderFailure } from './types.ts';

export interface RequestOptions {
  networks: RenderNetwork[];
  psi: number[];
  /** the index the first latent must have (a resumed render starts past 0) */
  from: number;
  throttle?: (() => Promise<void>) | undefined;
  signal?: AbortSignal | undefined;
}

export async function* frameRequests(latents: AsyncIterable<LatentFrame>, opts: RequestOptions): AsyncGenerator<FrameRequest> {
  let expected = opts.from;
  for await (const f of latents) {
    if (f.index !== expected) throw new RenderFailure('internal', `latents came out of order: frame ${f.index} where ${expected} was due`);
    const net = opts.networks[f.network];
    if (!net) throw new RenderFailure('internal', `frame ${f.index}: network index ${f.network} outside 0..${opts.networks.length - 1}`);
    const latent = net.kind === 'z' ? f.z : f.w;
    if (!latent) throw new RenderFailure('internal', `frame ${f.index}: no ${net.kind} latent for network "${net.id}"`);
    if (opts.throttle) await opts.throttle();
    if (opts.signal?.aborted) return;
    const feeds: FrameRequest['feeds'] = { [net.latentInput]: latent };
    if (net.psiInput) feeds[net.psiInput] = Float32Array.of(opts.psi[f.network]!);
    yield { feeds, network: net.id };
    expected++;
  }
}
