/**
 * CLI start-up (issue 10): `--version` answers without tsx, and building the program for `--help`
 * loads only the command definitions (commander and the cli modules), never a subsystem, while the
 * help still lists every command with its options. Checked by what gets loaded, not by timing
 * (test/bench/cli-start.ts measures the time).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = `${root}bin/gance.js`;
const { version } = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { version: string };

describe('gance start-up', () => {
  it('--version and -V print the version without loading tsx', () => {
    for (const flag of ['--version', '-V']) {
      const out = execFileSync(process.execPath, ['--import', `${root}test/fixtures/cli/no-tsx.mjs`, bin, flag], { encoding: 'utf8' });
      expect(out).toBe(`${version}\n`);
    }
  });

  it('--help loads only command definitions and still lists every command with its options', () => {
    const out = execFileSync(process.execPath, [`${root}test/fixtures/cli/loaded-by-help.mjs`], { encoding: 'utf8', cwd: root });
    const { loaded, helps } = JSON.parse(out.trim().split('\n').at(-1)!) as { loaded: string[]; helps: Record<string, string> };
    const src = loaded.filter((u) => u.includes('/src/')).map((u) => u.replace(/^.*\/src\//, 'src/').replace(/\?.*$/, ''));
    // the command modules, and the few plain definitions their options show (defaults, choices)
    const definitions = [
      /^src\/cli(\.ts|\/[\w-]+\.ts)$/,
      /^src\/config\/paths\.ts$/,
      /^src\/cooler\/(flash|protocol\/messages)\.ts$/,
      /^src\/render\/(states|limits)\.ts$/,
      /^src\/synthesis\/stylegan2\/limits\.ts$/,
    ];
    expect(src.filter((f) => !definitions.some((d) => d.test(f)))).toEqual([]);
    const packages = [...new Set(loaded.filter((u) => u.includes('/node_modules/')).map((u) => u.replace(/^.*\/node_modules\/((?:@[^/]+\/)?[^/]+).*$/, '$1')))];
    // no schema library either (typebox alone is ~0.4 s of imports): the config loads when a command runs
    const allowed = ['commander', 'tsx', 'esbuild', 'get-tsconfig', 'resolve-pkg-maps']; // tsx brings the last three
    expect(packages.filter((p) => !allowed.includes(p))).toEqual([]);
    // every command is there, with its options
    expect(Object.keys(helps)).toEqual(
      expect.arrayContaining(['daemon', 'config check', 'thermal status', 'thermal set', 'thermal simulate', 'network build', 'network import', 'latents', 'firmware build', 'firmware flash', 'firmware info']),
    );
    expect(helps['daemon']).toContain('--config <file>');
    expect(helps['thermal set']).toContain('--setpoint');
    expect(helps['(root)']).toMatch(/daemon[\s\S]*config[\s\S]*thermal[\s\S]*network[\s\S]*latents[\s\S]*firmware/);
  });
});
