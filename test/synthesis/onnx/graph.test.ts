import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { OnnxGraph, decodeModel, float, int, ints, str } from '../../../src/synthesis/onnx/graph.ts';
import { fromHalfBits, toHalfBits, toFloat16Array, fromFloat16Array } from '../../../src/synthesis/onnx/float16.ts';

describe('float16', () => {
  it('encodes known values exactly', () => {
    expect(toHalfBits(1)).toBe(0x3c00);
    expect(toHalfBits(-2)).toBe(0xc000);
    expect(toHalfBits(65504)).toBe(0x7bff);
    expect(toHalfBits(1e6)).toBe(0x7c00); // overflow -> infinity
    expect(toHalfBits(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(toHalfBits(0.1)).toBe(0x2e66);
    expect(toHalfBits(1 + 2 ** -11)).toBe(0x3c00); // tie rounds to even
    expect(toHalfBits(1 + 3 * 2 ** -11)).toBe(0x3c02);
  });

  it('round-trips within half precision', () => {
    const values = [0, 1, -1, 0.333, 123.456, -6.1e-5, 3e-7, 60000];
    const back = fromFloat16Array(toFloat16Array(values));
    values.forEach((v, i) => expect(Math.abs(back[i]! - v)).toBeLessThanOrEqual(Math.max(Math.abs(v) * 2 ** -11, 2 ** -25)));
    expect(fromHalfBits(0x7e00)).toBeNaN();
  });
});

describe('OnnxGraph', () => {
  function tinyModel(): Uint8Array {
    const g = new OnnxGraph('t');
    const x = g.input('x', 'float32', ['N', 3]);
    const c = g.initializer('c', 'float16', [3], [1, 2, 3]);
    const xh = g.node('Cast', [x], { to: int(10) });
    const y = g.node('LeakyRelu', [g.node('Add', [xh, c])], { alpha: float(0.25) });
    g.rename(g.node('Cast', [y], { to: int(1) }), 'y');
    g.output('y', 'float32', ['N', 3]);
    const pad = g.node('Pad', [x, g.int64s('pads', [0, 1, 0, 1])], { mode: str('constant') });
    g.rename(pad, 'padded');
    g.output('padded', 'float32', ['N', 5]);
    const t = g.node('Transpose', [x], { perm: ints([1, 0]) });
    g.rename(t, 'xt');
    g.output('xt', 'float32', [3, 'N']);
    return g.toBytes({ metadata: { purpose: 'test' } });
  }

  it('writes a model onnxruntime loads and runs', async () => {
    const session = await ort.InferenceSession.create(tinyModel());
    expect(session.inputNames).toEqual(['x']);
    expect(session.outputNames).toEqual(['y', 'padded', 'xt']);
    const r = await session.run({ x: new ort.Tensor('float32', Float32Array.of(-4, 0, 1, 2, 3, 4), [2, 3]) });
    expect(Array.from(r.y!.data as Float32Array)).toEqual([-3, 2, 4, 3, 5, 7].map((v) => (v < 0 ? v * 0.25 : v)));
    expect(Array.from(r.padded!.data as Float32Array)).toEqual([0, -4, 0, 1, 0, 0, 2, 3, 4, 0]);
    expect(r.xt!.dims).toEqual([3, 2]);
  });

  it('decodes back to the declared structure', () => {
    const m = decodeModel(tinyModel()) as { irVersion: number; opsetImport: Array<{ version: number }>; graph: { input: Array<{ name: string }>; initializer: unknown[] }; metadataProps: Array<{ key: string; value: string }> };
    expect(m.irVersion).toBe(8);
    expect(m.opsetImport[0]!.version).toBe(17);
    expect(m.graph.input.map((i) => i.name)).toEqual(['x']);
    expect(m.graph.initializer).toHaveLength(2);
    expect(m.metadataProps).toEqual([{ key: 'purpose', value: 'test' }]);
  });

  it('rejects wrong initializer sizes, duplicate names and dangling outputs', () => {
    const g = new OnnxGraph('t');
    expect(() => g.initializer('w', 'float32', [2, 2], [1, 2, 3])).toThrow(/'w' has 3 values, shape \[2, 2\] needs 4/);
    g.input('x', 'float32', [1]);
    expect(() => g.input('x', 'float32', [1])).toThrow(/'x' defined twice/);
    expect(() => g.output('nothing', 'float32', [1])).toThrow(/'nothing' is not produced/);
  });

  it('names nodes in a scope and lists them', () => {
    const g = new OnnxGraph('t');
    const x = g.input('x', 'float32', [2]);
    const a = g.inScope('host', () => g.node('Relu', [x]));
    g.node('Relu', [a]);
    expect(g.nodesIn('host')).toHaveLength(1);
    expect(g.nodesIn('host')[0]).toMatch(/^host\//);
    expect(g.nodeCount).toBe(2);
  });
});
