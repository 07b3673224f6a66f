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
    if (opts.signal?.aborted) return;
    if (opts.throttle) await held(opts.throttle(), opts.signal);
    if (opts.signal?.aborted) return;
    const feeds: FrameRequest['feeds'] = { [net.latentInput]: latent };
    if (net.psiInput) feeds[net.psiInput] = Float32Array.of(opts.psi[f.network]!);
    yield { feeds, network: net.id };
    expected++;
  }
}

/** The throttle's wait, cut short by a cancel (a paused render must still cancel at once). */
function held(wait: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return wait;
  // the hook rejects once the render is aborted: that is the cancel, which the caller sees itself;
  // left without a handler the rejection would be unhandled, and that stops the daemon
  if (signal.aborted) {
    wait.catch(() => {});
    return Promise.resolve();
  }
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => resolve();
    signal.addEventListener('abort', onAbort, { once: true });
    wait.then(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(new RenderFailure('internal', `the throttle failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err }));
      },
    );
  });
}
