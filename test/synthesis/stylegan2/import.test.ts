import { describe, expect, it } from 'vitest';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { dump as npyDump } from 'npyjs';
import { importNetwork, readWeightsFile, readSidecar, WeightsError } from '../../../src/synthesis/stylegan2/index.ts';
import { encodeSafetensors } from '../../../src/synthesis/stylegan2/safetensors-write.ts';
import { fixtureTensors, maxAbsDiff, PSI, runZ, session, TINY_WEIGHTS } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'gance-import-'));
const tiny = readWeightsFile(TINY_WEIGHTS);

function writeDict(name: string, edit: (d: Map<string, { shape: number[]; data: Float32Array }>) => void): string {
  const d = new Map([...tiny.dict].map(([k, v]) => [k, { shape: [...v.shape], data: v.data.slice() }]));
  edit(d);
  const file = join(dir, name);
  writeFileSync(file, encodeSafetensors(d, tiny.metadata));
  return file;
}

describe('network import', () => {
  it('writes NAME.onnx and NAME.json with the contract, w_avg and the source hash', () => {
    const out = join(dir, 'tiny.onnx');
    const net = importNetwork(TINY_WEIGHTS, out);
    expect(existsSync(out)).toBe(true);
    const sc = readSidecar(join(dir, 'tiny.json'));
    expect(sc).toEqual(net.sidecar);
    expect(sc).toMatchObject({ name: 'tiny', onnx: 'tiny.onnx', resolution: 32, numWs: 8, zDim: 64, wDim: 64, imgChannels: 3, convClamp: 2, mappingLrMultiplier: 0.01, dtype: 'float32', noise: 'const', batch: null });
    expect(sc.channels).toEqual({ '4': 32, '8': 32, '16': 16, '32': 8 });
    expect(sc.wAvg).toHaveLength(64);
    expect(sc.wAvg[5]).toBeCloseTo(tiny.dict.get('mapping.w_avg')!.data[5]!, 6);
    expect(sc.sourceHash).toBe(`sha256:${createHash('sha256').update(readFileSync(TINY_WEIGHTS)).digest('hex')}`);
    expect(sc.source).toEqual({ kind: 'safetensors', file: 'tiny-32.safetensors' });
    expect(sc.inputs.map((i) => i.name)).toEqual(['z', 'psi']);
    expect(sc.outputs.map((o) => [o.name, o.dtype, o.shape])).toEqual([['frames', 'uint8', ['N', 32, 32, 3]]]);
  });

  it('reads .npz the same as safetensors', async () => {
    const entries: Record<string, Uint8Array> = {};
    for (const [k, v] of tiny.dict) entries[`${k}.npy`] = new Uint8Array(npyDump(v.data, v.shape));
    const npz = join(dir, 'tiny.npz');
    writeFileSync(npz, zipSync(entries));
    const a = importNetwork(npz, join(dir, 'from-npz.onnx'), { outputs: ['image'], convClamp: 2 });
    expect(a.sidecar.source.kind).toBe('npz');
    const b = importNetwork(TINY_WEIGHTS, join(dir, 'from-st.onnx'), { outputs: ['image'] });
    const z = fixtureTensors('inputs.safetensors').get('z')!.data;
    const ia = (await runZ(await session(a.onnxPath), z, PSI, false)).image;
    const ib = (await runZ(await session(b.onnxPath), z, PSI, false)).image;
    expect(maxAbsDiff(ia, ib)).toBe(0);
  });

  it('takes conv clamp and lr multiplier overrides, and fp16', () => {
    const net = importNetwork(TINY_WEIGHTS, join(dir, 'o.onnx'), { convClamp: null, mappingLrMultiplier: 0.02, dtype: 'float16' });
    expect(net.sidecar).toMatchObject({ convClamp: null, mappingLrMultiplier: 0.02, dtype: 'float16' });
  });

  describe('bad input: a clear error naming what is wrong, and nothing written', () => {
    const out = () => join(dir, `bad-${Math.random().toString(36).slice(2)}.onnx`);
    const expectNoOutput = (path: string) => {
      expect(existsSync(path)).toBe(false);
      expect(existsSync(path.replace(/\.onnx$/, '.json'))).toBe(false);
    };

    it('missing file', () => {
      const o = out();
      expect(() => importNetwork(join(dir, 'nope.safetensors'), o)).toThrow(/nope\.safetensors: cannot read weights file: ENOENT/);
      expectNoOutput(o);
    });

    it('not safetensors (garbage, truncated header, truncated data)', () => {
      const garbage = join(dir, 'garbage.safetensors');
      writeFileSync(garbage, 'hello, this is not a tensor file at all');
      expect(() => importNetwork(garbage, out())).toThrow(WeightsError);
      expect(() => importNetwork(garbage, out())).toThrow(/garbage\.safetensors: not a safetensors file: header length/);
      const bytes = readFileSync(TINY_WEIGHTS);
      const cut = join(dir, 'cut.safetensors');
      writeFileSync(cut, bytes.subarray(0, bytes.length - 100));
      expect(() => importNetwork(cut, out())).toThrow(/cut\.safetensors: tensor '.+': data offsets .* \(file truncated\?\)/);
      const badJson = join(dir, 'badjson.safetensors');
      const b = Buffer.alloc(8 + 10);
      b.writeBigUInt64LE(10n, 0);
      b.write('{"a": [1,', 8);
      writeFileSync(badJson, b);
      expect(() => importNetwork(badJson, out())).toThrow(/header is not JSON/);
    });

    it('a .pkl gets the way to dump it', () => {
      const pkl = join(dir, 'net.pkl');
      writeFileSync(pkl, 'x');
      expect(() => importNetwork(pkl, out())).toThrow(/net\.pkl: a \.pkl cannot be read outside Python; dump its state dict to safetensors/);
    });

    it('missing tensor: names it and its expected shape', () => {
      const f = writeDict('missing.safetensors', (d) => d.delete('synthesis.b16.conv0.affine.weight'));
      const o = out();
      expect(() => importNetwork(f, o)).toThrow(/missing\.safetensors: .*missing tensor 'synthesis\.b16\.conv0\.affine\.weight' \(expected shape \[32, 64\]\)/);
      expectNoOutput(o);
    });

    it('mis-shaped tensor: names it, its shape and the expected one', () => {
      const f = writeDict('misshaped.safetensors', (d) => {
        const t = d.get('synthesis.b8.conv1.weight')!;
        d.set('synthesis.b8.conv1.weight', { shape: [32, 32, 1, 9], data: t.data });
        const n = d.get('synthesis.b32.conv1.noise_const')!;
        d.set('synthesis.b32.conv1.noise_const', { shape: [16, 64], data: n.data });
      });
      expect(() => importNetwork(f, out())).toThrow(/tensor 'synthesis\.b8\.conv1\.weight' has shape \[32, 32, 1, 9\], expected \[32, 32, 3, 3\].*tensor 'synthesis\.b32\.conv1\.noise_const' has shape \[16, 64\], expected \[32, 32\]/);
    });

    it('NaN weights, conditional networks, other architectures', () => {
      const nan = writeDict('nan.safetensors', (d) => {
        d.get('mapping.fc3.bias')!.data[7] = NaN;
      });
      expect(() => importNetwork(nan, out())).toThrow(/tensor 'mapping\.fc3\.bias' contains NaN/);
      const cond = writeDict('cond.safetensors', (d) => d.set('mapping.embed.weight', { shape: [64, 10], data: new Float32Array(640) }));
      expect(() => importNetwork(cond, out())).toThrow(/conditional generators are not supported/);
      const resnet = join(dir, 'resnet.safetensors');
      writeFileSync(resnet, encodeSafetensors(tiny.dict, { init_kwargs: JSON.stringify({ synthesis_kwargs: { architecture: 'resnet' } }) }));
      expect(() => importNetwork(resnet, out())).toThrow(/architecture 'resnet' is not supported/);
    });

    it('a state dict that is not a generator at all', () => {
      const f = join(dir, 'other.safetensors');
      writeFileSync(f, encodeSafetensors(new Map([['encoder.weight', { shape: [2], data: Float32Array.of(1, 2) }]])));
      expect(() => importNetwork(f, out())).toThrow(/other\.safetensors: no 'synthesis\.b\*' tensors/);
    });

    it('an output path that is not .onnx', () => {
      const copy = join(dir, 'copy.safetensors');
      copyFileSync(TINY_WEIGHTS, copy);
      expect(() => importNetwork(copy, join(dir, 'x.bin'))).toThrow(/must end in \.onnx/);
    });
  });
});
