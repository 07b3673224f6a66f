/** gance network list: the real command, run from a folder other than the repository's. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI } from '../helpers/daemon-process.ts';
import { tempDir } from '../audio/wav.ts';
import { placeNetwork } from '../synthesis/networks/fixtures.ts';

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

  it('checks each ONNX file as the daemon does: a garbage, truncated or mismatched one is listed as an error and exits 1', () => {
    const dir = join(elsewhere, 'broken-nets');
    placeNetwork(dir, 'good');
    placeNetwork(dir, 'garbage', { onnx: 'this is not protobuf at all, just text' });
    const demo = readFileSync(placeNetwork(dir, 'cut').onnxPath);
    writeFileSync(join(dir, 'cut.onnx'), demo.subarray(0, 5000));
    placeNetwork(dir, 'renamed-input', {
      edit: (s) => {
        s.inputs[0]!.name = 'latent';
      },
    });
    const r = gance('network', 'list', dir);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^good\t64px\t/m);
    expect(r.stdout).toMatch(new RegExp(`^garbage\tERROR\t${join(dir, 'garbage.onnx')}: not an ONNX model`, 'm'));
    expect(r.stdout).toMatch(new RegExp(`^cut\tERROR\t${join(dir, 'cut.onnx')}: not an ONNX model`, 'm'));
    expect(r.stdout).toMatch(/^renamed-input\tERROR\t.*input 'latent' .* is missing from the ONNX model/m);
    const json = gance('network', 'list', '--json', dir);
    expect(json.status).toBe(1);
    const listed = JSON.parse(json.stdout) as Array<{ id: string; error?: string }>;
    expect(listed.map((n) => [n.id, n.error === undefined])).toEqual([['cut', false], ['garbage', false], ['good', true], ['renamed-input', false]]);
  });

  it('a FIFO (or folder) named like a sidecar or an ONNX file is listed as not a file, without blocking on it', () => {
    const dir = join(elsewhere, 'fifo-nets');
    placeNetwork(dir, 'good');
    const { onnxPath } = placeNetwork(dir, 'pipe-onnx');
    rmSync(onnxPath);
    const { sidecarPath } = placeNetwork(dir, 'pipe-json');
    rmSync(sidecarPath);
    for (const fifo of [onnxPath, sidecarPath]) expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    mkdirSync(join(dir, 'folder.json'));
    // opening a FIFO no one writes blocks; the daemon scans with the same code on its event loop.
    // The timeout only ends a run that blocked, so that it fails instead of hanging the suite.
    const r = spawnSync(process.execPath, [CLI, 'network', 'list', dir], { cwd: elsewhere, encoding: 'utf8', timeout: 120_000 });
    expect(r.signal).toBeNull();
    expect(r.stderr).toBe('');
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^good\t64px\t/m);
    expect(r.stdout).toContain(`pipe-onnx\tERROR\t${onnxPath}: not a regular file\n`);
    expect(r.stdout).toContain(`pipe-json\tERROR\t${sidecarPath}: not a regular file\n`);
    expect(r.stdout).toContain(`folder\tERROR\t${join(dir, 'folder.json')}: not a regular file\n`);
  });

  it('a folder of good networks exits 0', () => {
    const dir = join(elsewhere, 'good-nets');
    placeNetwork(dir, 'a');
    placeNetwork(dir, 'b');
    const r = gance('network', 'list', dir);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.split('\n').filter(Boolean).map((l) => l.split('\t')[0])).toEqual(['a', 'b']);
  });
});

describe('gance network build and import', () => {
  it('a seed that is not an integer in 0..4294967295, a resize side outside 1..8192 or a psi outside -10..10 is refused naming the option; nothing is written', () => {
    // --seed 1e3 and 1.9 built seed 1's network, -1 and 1e20 wrapped round; --resize 99999x99999 made a
    // network of 30 GB frames that `network list` called usable, 0x0 a sidecar error
    for (const [flag, value, message] of [
      ['--seed', '1e3', 'an integer in 0..4294967295'],
      ['--seed', '-1', 'an integer in 0..4294967295'],
      ['--resize', '99999x99999', 'WIDTHxHEIGHT, each side 1..8192 pixels, e.g. 1920x1080'],
      ['--resize', '0x0', 'WIDTHxHEIGHT, each side 1..8192 pixels, e.g. 1920x1080'],
      // the network's default psi: 1e300 rendered every frame black, "" was psi 0
      ['--psi', '1e300', 'a number in -10..10'],
      ['--psi', '', 'a number in -10..10'],
    ] as const) {
      const out = join(elsewhere, `refused-${flag.slice(2)}.onnx`);
      const r = gance('network', 'build', '--out', out, '--resolution', '8', flag, value);
      expect({ flag, value, status: r.status }).toEqual({ flag, value, status: 1 });
      expect(r.stderr).toContain(`${flag} must be ${message}, got "${value}"`);
      expect(existsSync(out)).toBe(false);
    }
    const ok = gance('network', 'build', '--out', join(elsewhere, 'seeded.onnx'), '--resolution', '8', '--seed', '4294967295', '--resize', '8192x16', '--psi', '-10');
    expect(ok.stderr).toBe('');
    expect(JSON.parse(readFileSync(join(elsewhere, 'seeded.json'), 'utf8'))).toMatchObject({ source: { seed: 4294967295 }, output: { width: 8192, height: 16 }, truncationPsi: -10 });
  }, 60_000);


  it('an --out in a folder that does not exist is refused naming --out, before building, and no folder is made', () => {
    const out = join(elsewhere, 'no-such-parent', 'deeper', 'x.onnx');
    const build = gance('network', 'build', '--out', out, '--resolution', '8');
    expect(build.status).toBe(1);
    expect(build.stdout).toBe('');
    expect(build.stderr).toBe(`gance: --out ${out}: cannot write: folder ${join(elsewhere, 'no-such-parent', 'deeper')} does not exist\n`);
    expect(existsSync(join(elsewhere, 'no-such-parent'))).toBe(false);
    // the weights are not read either: the folder is the first thing said
    const imported = gance('network', 'import', join(elsewhere, 'no-weights.safetensors'), '--out', out);
    expect(imported.status).toBe(1);
    expect(imported.stderr).toBe(`gance: --out ${out}: cannot write: folder ${join(elsewhere, 'no-such-parent', 'deeper')} does not exist\n`);
    expect(existsSync(join(elsewhere, 'no-such-parent'))).toBe(false);
    // a file where the folder should be
    writeFileSync(join(elsewhere, 'plain-file'), 'x');
    const underFile = gance('network', 'build', '--out', join(elsewhere, 'plain-file', 'x.onnx'), '--resolution', '8');
    expect(underFile.status).toBe(1);
    expect(underFile.stderr).toBe(`gance: --out ${join(elsewhere, 'plain-file', 'x.onnx')}: cannot write: ${join(elsewhere, 'plain-file')} is not a folder\n`);
  });
});
