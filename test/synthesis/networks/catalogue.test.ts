import { rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUNDLED_NETWORKS_DIR, NetworkCatalogue, poolNetwork } from '../../../src/synthesis/networks/catalogue.ts';
import { tinyNetBytes } from '../pool/tiny-net.ts';
import { captureLog } from '../pool/helpers.ts';
import { DEMO_ID, placeNetwork, tempDir } from './fixtures.ts';

describe('network catalogue', () => {
  it('offers the bundled demo network, checked, with what the pool needs to feed it', () => {
    const { log } = captureLog();
    const cat = new NetworkCatalogue({ dirs: [], bundledDir: BUNDLED_NETWORKS_DIR, log });
    const entries = cat.scan();
    const demo = cat.get(DEMO_ID)!;
    expect(entries.map((e) => e.id)).toContain(DEMO_ID);
    expect(demo.error).toBeUndefined();
    expect(demo.bundled).toBe(true);
    expect(demo.sidecar!.resolution).toBe(64);
    const net = poolNetwork(demo, 'frames');
    expect(net.id).toBe(DEMO_ID);
    expect(net.path).toBe(join(BUNDLED_NETWORKS_DIR, `${DEMO_ID}.onnx`));
    expect(net.inputs).toEqual(demo.sidecar!.inputs.map((i) => ({ name: i.name, type: i.dtype, dims: i.shape.slice(1) })));
    expect(net.inputs.find((i) => i.name === 'z')).toEqual({ name: 'z', type: 'float32', dims: [demo.sidecar!.zDim] });
    expect(net.fetch).toEqual(['frames']);
    expect(net.batch).toBeNull();
    expect(net.cpuNodes).toBeUndefined();
  });

  it('lists broken networks with what is wrong, naming the file and the field, and logs each once', () => {
    const dir = tempDir();
    placeNetwork(dir, 'good');
    placeNetwork(dir, 'mismatch', { onnx: tinyNetBytes(1) });
    placeNetwork(dir, 'garbage', { onnx: 'not a model at all' });
    placeNetwork(dir, 'badjson', { edit: () => '{ "format": "gance-stylegan2-onnx", ' });
    placeNetwork(dir, 'badfield', { edit: (s) => ({ ...s, resolution: 'big' }) });
    placeNetwork(dir, 'wrongdim', { edit: (s) => ({ ...s, output: { ...s.output, width: 128, height: 128 }, outputs: s.outputs.map((o) => (o.name === 'frames' ? { ...o, shape: ['N', 128, 128, 3] } : o)) }) });
    placeNetwork(dir, 'nobatch', { edit: (s) => ({ ...s, inputs: s.inputs.map((i) => (i.name === 'z' ? { ...i, shape: [1, 512] } : i)) }) });
    const { onnxPath } = placeNetwork(dir, 'noonnx');
    rmSync(onnxPath);
    writeFileSync(join(dir, 'notes.json'), '{"unrelated": true}');

    const { log, lines } = captureLog();
    const cat = new NetworkCatalogue({ dirs: [dir], log });
    const byId = new Map(cat.scan().map((e) => [e.id, e]));
    expect([...byId.keys()].sort()).toEqual(['badfield', 'badjson', 'garbage', 'good', 'mismatch', 'noonnx', 'nobatch', 'wrongdim'].sort());
    expect(byId.get('good')!.error).toBeUndefined();
    expect(byId.get('good')!.bundled).toBe(false);
    const err = (id: string) => byId.get(id)!.error ?? '';
    expect(err('mismatch')).toMatch(/mismatch\.onnx does not match its sidecar .*mismatch\.json: input 'z' \(float32 \[N, 512\]\) is missing from the ONNX model; it has 'w'/);
    expect(err('mismatch')).toMatch(/ONNX model has inputs the sidecar does not declare: 'w'/);
    expect(err('garbage')).toMatch(/garbage\.onnx: not an ONNX model/);
    expect(err('badjson')).toMatch(/badjson\.json: not JSON/);
    expect(err('badfield')).toMatch(/badfield\.json: not a gance network sidecar: resolution: /);
    expect(err('wrongdim')).toMatch(/output 'frames' dimension 1 is 64 in the ONNX model, expected 128/);
    expect(err('nobatch')).toMatch(/input 'z' dimension 0 is N in the ONNX model, expected 1|input 'z' has no leading batch dimension/);
    expect(err('noonnx')).toMatch(/noonnx\.onnx: ONNX file missing/);
    expect(() => poolNetwork(byId.get('mismatch')!, 'frames')).toThrow(/network "mismatch" cannot be used: .*mismatch\.onnx does not match/);

    const warned = () => lines.filter((l) => l.level === 40).map((l) => l.network);
    expect(warned().sort()).toEqual(['badfield', 'badjson', 'garbage', 'mismatch', 'noonnx', 'nobatch', 'wrongdim'].sort());
    cat.scan();
    expect(warned()).toHaveLength(7);
  });

  it('refuses a sidecar whose onnx leads out of its folder (../, an absolute path), naming the field', () => {
    const outside = tempDir();
    const { onnxPath: elsewhere } = placeNetwork(outside, 'elsewhere');
    const dir = tempDir();
    placeNetwork(dir, 'climb', { edit: (s) => ({ ...s, onnx: `../${basename(outside)}/elsewhere.onnx` }) });
    placeNetwork(dir, 'absolute', { edit: (s) => ({ ...s, onnx: elsewhere }) });
    placeNetwork(dir, 'dots', { edit: (s) => ({ ...s, onnx: '..' }) });
    placeNetwork(dir, 'good');
    const cat = new NetworkCatalogue({ dirs: [dir], log: captureLog().log });
    const byId = new Map(cat.scan().map((e) => [e.id, e]));
    expect(byId.get('good')!.error).toBeUndefined();
    expect(byId.get('climb')!.error).toBe(`${join(dir, 'climb.json')}: onnx: must be a file name in the sidecar's folder, got "../${basename(outside)}/elsewhere.onnx"`);
    expect(byId.get('absolute')!.error).toBe(`${join(dir, 'absolute.json')}: onnx: must be a file name in the sidecar's folder, got "${elsewhere}"`);
    expect(byId.get('dots')!.error).toMatch(/dots\.json: onnx: must be a file name in the sidecar's folder, got "\.\."/);
    // nothing outside the folder is offered for loading
    expect(cat.list().filter((e) => !e.error).map((e) => e.onnxPath)).toEqual([join(dir, 'good.onnx')]);
  });

  it('refuses a sidecar whose zDim, output size or resolution contradicts its tensor shapes (a render would fail at its first frame)', () => {
    const dir = tempDir();
    placeNetwork(dir, 'wider', { edit: (s) => ({ ...s, output: { ...s.output, width: 128, height: 128 } }) });
    placeNetwork(dir, 'sharper', { edit: (s) => ({ ...s, resolution: 128 }) });
    placeNetwork(dir, 'grey', { edit: (s) => ({ ...s, imgChannels: 1 }) });
    placeNetwork(dir, 'hugez', { edit: (s) => ({ ...s, zDim: 1e12 }) });
    const cat = new NetworkCatalogue({ dirs: [dir], log: captureLog().log });
    const err = (id: string) => cat.scan().find((e) => e.id === id)!.error ?? '';
    expect(err('wider')).toBe(`${join(dir, 'wider.json')}: outputs[0].shape: [N, 64, 64, 3] does not match output 128x128 with imgChannels 3 (expected [batch, 128, 128, 3])`);
    expect(err('sharper')).toBe(`${join(dir, 'sharper.json')}: outputs[1].shape: [N, 3, 64, 64] does not match resolution 128 with imgChannels 3 (expected [batch, 3, 128, 128])`);
    expect(err('hugez')).toBe(`${join(dir, 'hugez.json')}: inputs[0].shape: [N, 512] is neither z [batch, zDim 1000000000000] nor w [batch, numWs 10, wDim 128]`);
    expect(err('grey')).toMatch(/grey\.json: outputs\[0\]\.shape: \[N, 64, 64, 3\] does not match output 64x64 with imgChannels 1 .*; outputs\[1\]\.shape: \[N, 3, 64, 64\] does not match resolution 64 with imgChannels 1/);
  });

  it('keeps the first of two networks with one id and says where the other is shadowed', () => {
    const a = tempDir();
    const b = tempDir();
    placeNetwork(a, 'twin');
    placeNetwork(b, 'twin');
    const { log } = captureLog();
    const cat = new NetworkCatalogue({ dirs: [a, b], log });
    const entries = cat.scan().filter((e) => e.id === 'twin');
    expect(entries).toHaveLength(2);
    expect(entries[0]!.error).toBeUndefined();
    expect(entries[1]!.error).toBe(`duplicate network id "twin": ${join(a, 'twin.json')} already has it`);
    expect(cat.get('twin')).toBe(entries[0]);
  });

  it('re-checks a network whose files changed, and picks up new ones, on the next scan', () => {
    const dir = tempDir();
    const { onnxPath } = placeNetwork(dir, 'changing');
    const { log } = captureLog();
    const cat = new NetworkCatalogue({ dirs: [dir], log });
    expect(cat.scan().map((e) => [e.id, e.error])).toEqual([['changing', undefined]]);
    const { mtimeMs } = statSync(onnxPath);
    writeFileSync(onnxPath, tinyNetBytes(2));
    utimesSync(onnxPath, new Date(), new Date(mtimeMs + 5000));
    placeNetwork(dir, 'newcomer');
    const after = new Map(cat.scan().map((e) => [e.id, e.error]));
    expect(after.get('changing')).toMatch(/does not match its sidecar/);
    expect(after.get('newcomer')).toBeUndefined();
  });

  it('lists nothing (and does not fail) for a folder that does not exist, and says so once', () => {
    const { log, lines } = captureLog();
    const cat = new NetworkCatalogue({ dirs: ['/nonexistent/gance/networks'], log });
    expect(cat.scan()).toEqual([]);
    cat.scan();
    expect(lines.filter((l) => l.level === 40).map((l) => l.msg)).toEqual(['network folder /nonexistent/gance/networks does not exist']);
  });
});
