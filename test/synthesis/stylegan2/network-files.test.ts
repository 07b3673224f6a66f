import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync, copyFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import {
  buildGenerator,
  buildRandomNetwork,
  contractMismatches,
  demoShape,
  listNetworks,
  parseSidecar,
  randomSourceHash,
  readSidecar,
  SeededRandom,
} from '../../../src/synthesis/stylegan2/index.ts';
import { register } from '../../../src/cli/network.ts';
import { maxAbsDiff, psiTensor, session, zTensor, TINY_WEIGHTS } from './helpers.ts';

const demoDir = fileURLToPath(new URL('../../../config/networks/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'gance-nets-'));

describe('bundled demo network', () => {
  const sidecar = readSidecar(join(demoDir, 'demo-64.json'));

  it('is small, 64 px, seeded, and its ONNX file honours its sidecar', async () => {
    expect(readFileSync(join(demoDir, 'demo-64.onnx')).length).toBeLessThan(5 * 1024 * 1024);
    expect(sidecar).toMatchObject({ resolution: 64, zDim: 512, dtype: 'float32', source: { kind: 'random', seed: 1 }, batch: null });
    expect(sidecar.sourceHash).toBe(randomSourceHash(demoShape(), 1));
    const s = await session(join(demoDir, sidecar.onnx));
    expect(contractMismatches(sidecar, s.inputMetadata, s.outputMetadata)).toEqual([]);
    const z = new SeededRandom(1).normals(2 * 512);
    const r = await s.run({ z: zTensor(z, 2), psi: psiTensor([1, 0.5]) });
    expect(r.frames!.dims).toEqual([2, 64, 64, 3]);
    const frames = r.frames!.data as Uint8Array;
    // a picture, not a flat or saturated field
    const mean = frames.reduce((a, b) => a + b, 0) / frames.length;
    expect(mean).toBeGreaterThan(40);
    expect(mean).toBeLessThan(215);
    expect(new Set(frames).size).toBeGreaterThan(100);
  });

  it('is reproducible from its seed by the builder', async () => {
    const rebuilt = buildRandomNetwork(demoShape(), 1, join(dir, 'demo-64.onnx'), { outputs: sidecar.outputs.map((o) => o.role as 'frames' | 'image') });
    const z = new SeededRandom(2).normals(512);
    const a = await (await session(join(demoDir, 'demo-64.onnx'))).run({ z: zTensor(z, 1), psi: psiTensor([0.8]) });
    const b = await (await session(rebuilt.onnxPath)).run({ z: zTensor(z, 1), psi: psiTensor([0.8]) });
    expect(maxAbsDiff(a.image!.data as Float32Array, b.image!.data as Float32Array)).toBe(0);
  });
});

describe('sidecar contract', () => {
  const sidecar = readSidecar(join(demoDir, 'demo-64.json'));

  it('bad sidecars are rejected naming the field', () => {
    expect(() => parseSidecar({ ...sidecar, resolution: 3 }, 'x.json')).toThrow(/x\.json: not a gance network sidecar: resolution: Expected integer to be greater or equal to 4/);
    expect(() => parseSidecar({ ...sidecar, outputs: [{ ...sidecar.outputs[0], dtype: 'int8' }] }, 'x.json')).toThrow(/outputs\.0\.dtype/);
    expect(() => parseSidecar({ ...sidecar, wAvg: [1, 2] }, 'x.json')).toThrow(/wAvg has 2 values, wDim is 128/);
    const missing = { ...sidecar } as Record<string, unknown>;
    delete missing.numWs;
    expect(() => parseSidecar(missing, 'x.json')).toThrow(/numWs/);
    expect(() => readSidecar(join(dir, 'absent.json'))).toThrow(/absent\.json: cannot read/);
  });

  it('an ONNX file whose inputs do not match the contract is reported input by input', async () => {
    // a w-input graph behind a sidecar that promises z and psi
    const shape = { ...demoShape(), resolution: 8 };
    const wGraph = buildGenerator(new Map((await import('../../../src/synthesis/stylegan2/random-weights.ts')).randomStateDict(shape, 1)), shape, { input: 'w', outputs: ['image'] });
    const s = await session(wGraph.onnx);
    const problems = contractMismatches(sidecar, s.inputMetadata, s.outputMetadata);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/input 'z' \(float32 \[N, 512\]\) is missing from the ONNX model; it has 'w'/),
        expect.stringMatching(/input 'psi' .* is missing/),
        expect.stringMatching(/output 'frames' .* is missing/),
        expect.stringMatching(/ONNX model has inputs the sidecar does not declare: 'w'/),
      ]),
    );
    // and a size mismatch
    const demo = await session(join(demoDir, 'demo-64.onnx'));
    const wrongSize = { ...sidecar, outputs: sidecar.outputs.map((o) => (o.name === 'frames' ? { ...o, shape: ['N', 32, 32, 3] } : o)) };
    expect(contractMismatches(wrongSize, demo.inputMetadata, demo.outputMetadata)).toEqual(["output 'frames' dimension 1 is 64 in the ONNX model, expected 32", "output 'frames' dimension 2 is 64 in the ONNX model, expected 32"]);
  });

  it('listNetworks lists good networks and broken ones with their error', () => {
    const d = mkdtempSync(join(tmpdir(), 'gance-list-'));
    copyFileSync(join(demoDir, 'demo-64.onnx'), join(d, 'a.onnx'));
    writeFileSync(join(d, 'a.json'), JSON.stringify({ ...sidecar, name: 'a', onnx: 'a.onnx' }));
    writeFileSync(join(d, 'b.json'), JSON.stringify({ ...sidecar, name: 'b', onnx: 'b.onnx' }));
    writeFileSync(join(d, 'c.onnx'), 'x');
    writeFileSync(join(d, 'c.json'), '{ not json');
    writeFileSync(join(d, 'unrelated.json'), '{"some": "config"}');
    const nets = listNetworks(d);
    expect(nets.map((n) => [n.id, n.error === undefined])).toEqual([
      ['a', true],
      ['b', false],
      ['c', false],
    ]);
    expect(nets[1]!.error).toMatch(/b\.onnx: ONNX file missing/);
    expect(nets[2]!.error).toMatch(/c\.json: not JSON/);
    expect(listNetworks(join(d, 'nowhere'))).toEqual([]);
  });
});

describe('gance network CLI', () => {
  async function cli(...args: string[]): Promise<string> {
    const program = new Command('gance').exitOverride();
    register(program);
    let out = '';
    const write = process.stdout.write;
    process.stdout.write = ((chunk: string) => {
      out += chunk;
      return true;
    }) as typeof process.stdout.write;
    try {
      await program.parseAsync(['node', 'gance', ...args]);
    } finally {
      process.stdout.write = write;
    }
    return out;
  }

  it('build, import and list', async () => {
    const d = mkdtempSync(join(tmpdir(), 'gance-cli-'));
    expect(await cli('network', 'build', '--out', join(d, 'r.onnx'), '--resolution', '16', '--seed', '5', '--dtype', 'float16', '--outputs', 'frames')).toMatch(/wrote .*r\.onnx and .*r\.json: 16 px, 6 ws, float16/);
    expect(readSidecar(join(d, 'r.json'))).toMatchObject({ resolution: 16, dtype: 'float16', source: { seed: 5 } });
    expect(await cli('network', 'import', TINY_WEIGHTS, '--out', join(d, 'tiny.onnx'), '--conv-clamp', 'none', '--modulation', 'weight')).toMatch(/32 px, 8 ws, float32/);
    expect(readSidecar(join(d, 'tiny.json'))).toMatchObject({ convClamp: null, batch: 1, builder: { modulation: 'weight' } });
    const listed = await cli('network', 'list', d);
    expect(listed).toMatch(/^r\t16px\tfloat16\tinput z\t6 ws\trandom/m);
    expect(listed).toMatch(/^tiny\t32px\tfloat32\tinput z\t8 ws\tsafetensors/m);
    expect(JSON.parse(await cli('network', 'list', d, '--json'))).toHaveLength(2);
  });

  it('rejects bad options', async () => {
    await expect(cli('network', 'build', '--out', join(dir, 'x.onnx'), '--dtype', 'int8')).rejects.toThrow(/--dtype must be one of float32, float16/);
    await expect(cli('network', 'build', '--out', join(dir, 'x.onnx'), '--resolution', '48')).rejects.toThrow(/resolution must be a power of two/);
    await expect(cli('network', 'build', '--out', join(dir, 'x.onnx'), '--outputs', 'frames,depth')).rejects.toThrow(/unknown output 'depth'/);
  });
});
