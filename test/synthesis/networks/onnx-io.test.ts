import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { onnxSchema } from '../../../src/synthesis/onnx/graph.ts';
import { readOnnxIo } from '../../../src/synthesis/networks/onnx-io.ts';
import { BUNDLED_NETWORKS_DIR } from '../../../src/synthesis/networks/catalogue.ts';
import { readSidecar } from '../../../src/synthesis/stylegan2/sidecar.ts';

const DEMO = join(BUNDLED_NETWORKS_DIR, 'demo-64.onnx');
const dir = mkdtempSync(join(tmpdir(), 'gance-onnx-io-'));

describe('reading an ONNX file\'s inputs and outputs', () => {
  it('reads the bundled demo network\'s inputs and outputs, as its sidecar declares them', () => {
    const sidecar = readSidecar(join(BUNDLED_NETWORKS_DIR, 'demo-64.json'));
    const io = readOnnxIo(DEMO);
    const declared = (list: typeof sidecar.inputs) => list.map((t) => ({ name: t.name, type: t.dtype, shape: t.shape }));
    expect(io.inputs).toEqual(declared(sidecar.inputs));
    expect(io.outputs).toEqual(declared(sidecar.outputs));
    expect(io.inputs.map((i) => i.name)).toContain('z');
    expect(io.outputs.find((o) => o.name === 'frames')).toEqual({ name: 'frames', type: 'uint8', shape: ['N', 64, 64, 3] });
  });

  it('leaves out graph inputs that are initializers (as old exporters write them)', () => {
    const Model = onnxSchema().lookupType('onnx.ModelProto');
    const vi = (name: string, dims: Array<number | string>) => ({
      name,
      type: { tensorType: { elemType: 1, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
    });
    const bytes = Model.encode(
      Model.fromObject({
        irVersion: 6,
        opsetImport: [{ domain: '', version: 13 }],
        graph: {
          name: 'g',
          node: [{ opType: 'Add', input: ['x', 'bias'], output: ['y'] }],
          initializer: [{ name: 'bias', dims: [3], dataType: 1, rawData: Buffer.from(new Float32Array([1, 2, 3]).buffer) }],
          input: [vi('x', ['batch', 3]), vi('bias', [3])],
          output: [vi('y', ['batch', 3])],
        },
      }),
    ).finish();
    const file = join(dir, 'legacy.onnx');
    writeFileSync(file, bytes);
    expect(readOnnxIo(file)).toEqual({
      inputs: [{ name: 'x', type: 'float32', shape: ['batch', 3] }],
      outputs: [{ name: 'y', type: 'float32', shape: ['batch', 3] }],
      irVersion: 6,
    });
  });

  it('says what is wrong with a file that is not a (whole) ONNX model', () => {
    const cut = join(dir, 'cut.onnx');
    writeFileSync(cut, readFileSync(DEMO).subarray(0, 100_000));
    expect(() => readOnnxIo(cut)).toThrow(/cut\.onnx: not an ONNX model: a field runs past the end of the file|cut\.onnx: not an ONNX model: bad field/);
    const text = join(dir, 'text.onnx');
    writeFileSync(text, '{"this": "is json"}');
    expect(() => readOnnxIo(text)).toThrow(/text\.onnx: not an ONNX model/);
    const empty = join(dir, 'empty.onnx');
    writeFileSync(empty, '');
    expect(() => readOnnxIo(empty)).toThrow(/empty\.onnx: not an ONNX model: no graph/);
    expect(() => readOnnxIo(join(dir, 'missing.onnx'))).toThrow(/missing\.onnx: file not found/);
  });
});
