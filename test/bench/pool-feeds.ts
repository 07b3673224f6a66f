import type { FrameRequest, PoolNetwork } from '../../src/synthesis/pool/pool.ts';
import { SeededRandom } from '../../src/synthesis/stylegan2/index.ts';

/** A few distinct frames' feeds for a pool network, reused round-robin by the benches (the pool copies each into its batch buffer). */
export function feedSet(net: PoolNetwork, count: number, seed = 7): FrameRequest[] {
  const rng = new SeededRandom(seed);
  return Array.from({ length: count }, () => {
    const feeds: FrameRequest['feeds'] = {};
    for (const input of net.inputs) {
      const n = input.dims.reduce((a, b) => a * b, 1);
      feeds[input.name] = input.name === 'psi' ? new Float32Array(n).fill(1) : rng.normals(n);
    }
    return { feeds };
  });
}
