/** gance network list: the real command, run from a folder other than the repository's. */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI } from '../helpers/daemon-process.ts';
import { tempDir } from '../audio/wav.ts';

const elsewhere = tempDir('gance-network-cli-');
const gance = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { cwd: elsewhere, encoding: 'utf8' });

describe('gance network list', () => {
  it('without a folder lists the bundled networks, wherever it is run from (not ./config/networks)', () => {
    const r = gance('network', 'list');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^demo-64\t64px\tfloat32\tinput z\t/m);
  });

  it('a folder that does not exist, or a file, is one line naming it and exit 1, not "no networks" and 0 or a scandir error', () => {
    const missing = join(elsewhere, 'no-such-folder');
    const file = join(elsewhere, 'a-file');
    writeFileSync(file, 'x');
    for (const [dir, why] of [[missing, 'no such folder'], [file, 'not a folder']] as const) {
      const r = gance('network', 'list', dir);
      expect(r.status, dir).toBe(1);
      expect(r.stdout, dir).toBe('');
      expect(r.stderr, dir).toBe(`gance: network list: ${dir}: ${why}\n`);
    }
  });
});
