import { describe, expect, it } from 'vitest';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { dump as npyDump } from 'npyjs';
import { importNetwork, listNetworks, readWeightsFile, readSidecar, WeightsError } from '../../../src/synthesis/stylegan2/index.ts';
import { encodeSafetensors } from '../../../src/synthesis/stylegan2/safetensors-write.ts';
import { fixtureTensors, maxAbsDiff, PSI, runZ, session, TINY_WEIGHTS } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'gance-import-'));
const tiny = readWeightsFile(TINY_WEIGHTS);

function writeDict(name: string, edit: (d: Map<string, { shape: number[]; data: Float32Array }>) => void, metadata: Record<string, string> = tiny.metadata): string {
  const d = new Map([...tiny.dict].map(([k, v]) => [k, { shape: [...v.shape], data: v.data.slice() }]));
  edit(d);
  const file = join(dir, name);
  writeFileSync(file, encodeSafetensors(d, metadata));
  return file;
}

const tinyKwargs = () => JSON.parse(tiny.metadata.init_kwargs!) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const withKwargs = (edit: (k: Record<string, any>) => void): Record<string, string> => { // eslint-disable-line @typescript-eslint/no-explicit-any
  const k = tinyKwargs();
  edit(k);
  return { init_kwargs: JSON.stringify(k) };
};
const dropLayer = (prefix: string) => (d: Map<string, unknown>) => {
  for (const k of [...d.keys()]) if (k.startsWith(prefix)) d.delete(k);
};

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

    it('missing last mapping layer: refused against init_kwargs.mapping_kwargs.num_layers', () => {
      const f = writeDict('no-fc7.safetensors', dropLayer('mapping.fc7.'));
      const o = out();
      expect(() => importNetwork(f, o)).toThrow(/no-fc7\.safetensors: the weights contradict metadata 'init_kwargs': init_kwargs\.mapping_kwargs\.num_layers is 8 but the weights have 7 mapping layers, fc0\.\.fc6 \(missing 'mapping\.fc7\.weight'\)/);
      expectNoOutput(o);
    });

    it('missing top block: refused against init_kwargs.img_resolution', () => {
      const f = writeDict('no-b32.safetensors', dropLayer('synthesis.b32.'));
      const o = out();
      expect(() => importNetwork(f, o)).toThrow(/no-b32\.safetensors: .*init_kwargs\.img_resolution is 32 but the deepest block is 'synthesis\.b16' \(missing block 'synthesis\.b32'\)/);
      expectNoOutput(o);
    });

    it('a gap in the names (one tensor of a layer, a middle block, a torgb) is refused without init_kwargs too', () => {
      const noMeta = {};
      const fcW = writeDict('gap-fc.safetensors', (d) => d.delete('mapping.fc7.weight'), noMeta);
      expect(() => importNetwork(fcW, out())).toThrow(/gap-fc\.safetensors: missing tensor 'mapping\.fc7\.weight'/);
      const fcMid = writeDict('gap-fc3.safetensors', dropLayer('mapping.fc3.'), noMeta);
      expect(() => importNetwork(fcMid, out())).toThrow(/gap-fc3\.safetensors: .*missing tensor 'mapping\.fc3\.weight' \(expected shape \[64, 64\]\).*missing tensor 'mapping\.fc3\.bias'/);
      const mid = writeDict('gap-b8.safetensors', dropLayer('synthesis.b8.'), noMeta);
      expect(() => importNetwork(mid, out())).toThrow(/gap-b8\.safetensors: not a StyleGAN2 generator: missing block 'synthesis\.b8'/);
      const rgb = writeDict('gap-rgb.safetensors', dropLayer('synthesis.b32.torgb.'), noMeta);
      const o = out();
      expect(() => importNetwork(rgb, o)).toThrow(/gap-rgb\.safetensors: .*missing tensor 'synthesis\.b32\.torgb\.affine\.weight'.*missing tensor 'synthesis\.b32\.torgb\.weight'/);
      expectNoOutput(o);
    });

    it('init_kwargs that contradicts the tensors: every contradiction named', () => {
      const meta = withKwargs((k) => {
        k.z_dim = 512;
        k.w_dim = 512;
        k.img_resolution = 64;
        k.img_channels = 1;
        k.synthesis_kwargs.channel_base = 512;
      });
      const f = writeDict('contradicts.safetensors', () => {}, meta);
      const o = out();
      let msg = '';
      try {
        importNetwork(f, o);
      } catch (err) {
        msg = (err as Error).message;
      }
      expect(msg).toMatch(/^.*contradicts\.safetensors: the weights contradict metadata 'init_kwargs'/);
      expect(msg).toContain("init_kwargs.z_dim is 512 but tensor 'mapping.fc0.weight' takes 64 inputs");
      expect(msg).toContain("init_kwargs.w_dim is 512 but tensor 'mapping.fc7.weight' gives 64 outputs");
      expect(msg).toContain("init_kwargs.img_resolution is 64 but the deepest block is 'synthesis.b32' (missing block 'synthesis.b64')");
      expect(msg).toContain("init_kwargs.img_channels is 1 but tensor 'synthesis.b32.torgb.weight' gives 3 channels");
      expect(msg).toContain("channel_base 512 / channel_max 32 give 32 channels at 16 px but tensor 'synthesis.b16.conv1.weight' has 16");
      expectNoOutput(o);
    });

    it('init_kwargs that is not an object, or has fields of the wrong type', () => {
      const cases: Array<[string, RegExp]> = [
        ['null', /metadata 'init_kwargs': expected a JSON object \(G\.init_kwargs\), got null/],
        ['[1, 2]', /metadata 'init_kwargs': expected a JSON object \(G\.init_kwargs\), got \[1,2\]/],
        ['{"mapping_kwargs": null}', /metadata 'init_kwargs': 'mapping_kwargs' must be an object, got null/],
        ['{"z_dim": "64"}', /metadata 'init_kwargs': 'z_dim' must be an integer >= 1, got "64"/],
        ['{"mapping_kwargs": {"num_layers": 7.5}}', /'mapping_kwargs\.num_layers' must be an integer >= 1, got 7\.5/],
        ['{"synthesis_kwargs": {"conv_clamp": "256"}}', /'synthesis_kwargs\.conv_clamp' must be a positive number or null, got "256"/],
        ['{"mapping_kwargs": {"lr_multiplier": -1}}', /'mapping_kwargs\.lr_multiplier' must be a positive number, got -1/],
      ];
      for (const [raw, re] of cases) {
        const f = writeDict('kwargs.safetensors', () => {}, { init_kwargs: raw });
        const o = out();
        expect(() => importNetwork(f, o), raw).toThrow(WeightsError);
        expect(() => importNetwork(f, o), raw).toThrow(re);
        expectNoOutput(o);
      }
    });

    it('a state dict that is not a generator at all', () => {
      const f = join(dir, 'other.safetensors');
      writeFileSync(f, encodeSafetensors(new Map([['encoder.weight', { shape: [2], data: Float32Array.of(1, 2) }]])));
      expect(() => importNetwork(f, out())).toThrow(/other\.safetensors: no 'synthesis\.b\*' tensors/);
    });

    it('a failed rename (a directory in the way) leaves no half network and no temporary files', () => {
      const d = mkdtempSync(join(tmpdir(), 'gance-publish-'));
      // the sidecar cannot be renamed into place: the ONNX file must not stay behind
      mkdirSync(join(d, 'a.json'));
      writeFileSync(join(d, 'a.json', 'keep'), 'x');
      expect(() => importNetwork(TINY_WEIGHTS, join(d, 'a.onnx'))).toThrow(/a\.json: cannot rename into place: (EISDIR|ENOTEMPTY|EEXIST); nothing was written/);
      expect(existsSync(join(d, 'a.onnx'))).toBe(false);
      expect(readdirSync(join(d, 'a.json'))).toEqual(['keep']);
      // the ONNX file cannot be renamed into place: no sidecar may appear
      mkdirSync(join(d, 'b.onnx'));
      writeFileSync(join(d, 'b.onnx', 'keep'), 'x');
      expect(() => importNetwork(TINY_WEIGHTS, join(d, 'b.onnx'))).toThrow(/b\.onnx: cannot rename into place: (EISDIR|ENOTEMPTY|EEXIST); nothing was written/);
      expect(existsSync(join(d, 'b.json'))).toBe(false);
      expect(readdirSync(d).sort()).toEqual(['a.json', 'b.onnx']);
      expect(listNetworks(d).filter((n) => !n.error)).toEqual([]);
    });

    it('replacing a network leaves exactly the new pair (no .old or .tmp files)', () => {
      const d = mkdtempSync(join(tmpdir(), 'gance-replace-'));
      importNetwork(TINY_WEIGHTS, join(d, 'n.onnx'), { convClamp: 4 });
      const net = importNetwork(TINY_WEIGHTS, join(d, 'n.onnx'), { convClamp: 8 });
      expect(readdirSync(d).sort()).toEqual(['n.json', 'n.onnx']);
      expect(readSidecar(join(d, 'n.json'))).toEqual(net.sidecar);
      expect(listNetworks(d).map((n) => [n.id, n.error, n.sidecar?.convClamp])).toEqual([['n', undefined, 8]]);
    });

    it('an output path that is not .onnx', () => {
      const copy = join(dir, 'copy.safetensors');
      copyFileSync(TINY_WEIGHTS, copy);
      expect(() => importNetwork(copy, join(dir, 'x.bin'))).toThrow(/must end in \.onnx/);
    });
  });
});
