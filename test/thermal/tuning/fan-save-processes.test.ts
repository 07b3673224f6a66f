/** Two processes (the daemon and `gance fans measure`) saving the fan report at once. */
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FAN_FILE, loadFanReport } from '../../../src/thermal/tuning/fan-measure.ts';
import { REPO, spawnScript } from '../../helpers/daemon-process.ts';

const SCRIPT = join(REPO, 'test/fixtures/fans/save-many.ts');
// two prefixes x COUNT within the report's 64 fans
const COUNT = 30;

describe('fan report saves from two processes', () => {
  it("take turns across processes: every save's fan survives, and no lock or temp file is left", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gance-fans-procs-'));
    const procs = ['a', 'b'].map((prefix) => spawnScript(SCRIPT, [dir, prefix, String(COUNT)]));
    await Promise.all(procs.map((p) => p.waitFor((l) => l.msg === 'ready')));
    for (const p of procs) p.child.stdin.write('go\n');
    const exits = await Promise.all(procs.map((p) => p.exited));
    expect(exits, procs.map((p) => p.stderr).join('\n')).toEqual([{ code: 0, signal: null }, { code: 0, signal: null }]);
    // every save adds a fan of its own and merges what the file holds: a save that read the file
    // before the other process's write, and wrote after it, lost that fan for good
    const ids = (await loadFanReport(dir))!.fans.map((f) => f.id).sort();
    const want = ['a', 'b'].flatMap((p) => Array.from({ length: COUNT }, (_, i) => `${p}-${i}`)).sort();
    expect(want.filter((id) => !ids.includes(id)), 'lost fans').toEqual([]);
    expect(ids).toEqual(want);
    expect(readdirSync(dir)).toEqual([FAN_FILE]);
  }, 120_000);
});
