/** writeFileAtomic: a reader sees the old file or a whole new one, even with writes racing in one process. */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../../src/thermal/service/atomic-file.ts';

describe('writeFileAtomic', () => {
  it('concurrent writes to one path all succeed, leave one whole body, and no temp file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gance-atomic-'));
    const path = join(dir, 'state.json');
    // bodies of different lengths: two writes through one temp file would leave a mix of them
    const bodies = Array.from({ length: 4 }, (_, k) => `${JSON.stringify({ k, pad: 'x'.repeat(20_000 * (k + 1)) })}\n`);
    for (let round = 0; round < 5; round++) {
      const done = await Promise.allSettled(bodies.map((b) => writeFileAtomic(path, b)));
      expect(done.map((d) => (d.status === 'rejected' ? String(d.reason) : 'ok')), `round ${round}`).toEqual(bodies.map(() => 'ok'));
      expect(bodies).toContain(readFileSync(path, 'utf8'));
      expect(readdirSync(dir)).toEqual(['state.json']);
    }
  });
});
