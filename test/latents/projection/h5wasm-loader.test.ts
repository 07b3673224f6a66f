import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const fixture = fileURLToPath(new URL('../../fixtures/projection/tsx-loads.mjs', import.meta.url));

describe('h5wasm loading', () => {
  // tsx rewriting h5wasm's 4 MB wasm wrapper left the process ~600 MB larger (test/bench/RESULTS.md,
  // "peak memory against track length"): a check on which modules tsx handled catches a regression
  // without measuring memory, which would be flaky on a loaded machine.
  it('goes past tsx: node loads h5wasm itself, and it works', { timeout: 60_000 }, () => {
    const r = spawnSync(process.execPath, [fixture], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const { loaded, hasFile } = JSON.parse(r.stdout) as { loaded: string[]; hasFile: boolean };
    expect(hasFile).toBe(true);
    // tsx did handle the project's own modules (so an empty list is not mistaken for success)
    expect(loaded.some((u) => u.endsWith('/src/latents/projection/format.ts'))).toBe(true);
    // and still does once h5wasm's hook is in place: the hook passes everything else on
    expect(loaded.some((u) => u.endsWith('/src/latents/projection/reader.ts'))).toBe(true);
    expect(loaded.filter((u) => u.includes('/node_modules/h5wasm/'))).toEqual([]);
  });
});
