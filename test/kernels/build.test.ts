import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildKernels, KERNELS_DIR, kernelSources } from '../../src/kernels/build.ts';

describe('WebAssembly kernels', () => {
  it('every committed .wasm is what its AssemblyScript source compiles to', () => {
    expect(kernelSources().length).toBeGreaterThan(0);
    const dir = mkdtempSync(join(tmpdir(), 'gance-wasm-'));
    try {
      for (const out of buildKernels(dir)) {
        const committed = join(KERNELS_DIR, basename(out));
        expect(Buffer.compare(readFileSync(out), readFileSync(committed)), `${basename(out)}: run \`npm run build:wasm\` and commit the result`).toBe(0);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
