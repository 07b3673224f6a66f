/**
 * The ONNX graph against the independent PyTorch reference (test/fixtures/stylegan2/reference.py,
 * computed in float64 from tiny-32.safetensors and inputs.safetensors; constant noise, conv clamp 2).
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importNetwork, type BuildOptions } from '../../../src/synthesis/stylegan2/index.ts';
import { fixtureTensors, maxAbsDiff, PSI, runZ, session, TINY_WEIGHTS } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'gance-ref-'));
const inputs = fixtureTensors('inputs.safetensors');
const reference = fixtureTensors('reference.safetensors');
const z = inputs.get('z')!.data;
const refImg = reference.get('img')!.data;
const refFrames = reference.get('frames')!.data;

const variants: Array<[string, Partial<BuildOptions>, number]> = [
  ['fp32 activation transpose', { dtype: 'float32', modulation: 'activation', upsample: 'transpose' }, 1e-5],
  ['fp32 activation subpixel', { dtype: 'float32', modulation: 'activation', upsample: 'subpixel' }, 1e-5],
  ['fp32 activation fused', { dtype: 'float32', modulation: 'activation', upsample: 'fused' }, 1e-5],
  ['fp32 weight transpose', { dtype: 'float32', modulation: 'weight', upsample: 'transpose', batch: 1 }, 1e-5],
  ['fp32 weight subpixel', { dtype: 'float32', modulation: 'weight', upsample: 'subpixel', batch: 1 }, 1e-5],
  ['fp32 weight fused', { dtype: 'float32', modulation: 'weight', upsample: 'fused', batch: 1 }, 1e-5],
  ['fp16 activation transpose', { dtype: 'float16', modulation: 'activation', upsample: 'transpose' }, 5e-3],
  ['fp16 weight transpose', { dtype: 'float16', modulation: 'weight', upsample: 'transpose', batch: 1 }, 5e-3],
];

describe('ONNX generator vs PyTorch reference (tiny-32 fixture)', () => {
  it('the reference is what the fixture says it is', () => {
    expect(reference.get('img')!.shape).toEqual([4, 3, 32, 32]);
    // the clamp (2) is reached, so the test covers it
    expect(Math.max(...refImg.map(Math.abs))).toBeGreaterThan(0.5);
  });

  it.each(variants)('%s matches within tolerance', async (_name, options, tolerance) => {
    const net = importNetwork(TINY_WEIGHTS, join(dir, 'tiny.onnx'), { ...options, outputs: ['frames', 'image'] });
    expect(net.shape.convClamp).toBe(2); // read from the file's init_kwargs metadata
    const s = await session(net.onnxPath);
    const out = await runZ(s, z, PSI, options.batch === 1);
    const err = maxAbsDiff(out.image, refImg);
    expect(err).toBeLessThan(tolerance);
    // frames: same up to one level where a value sits on a rounding edge
    expect(maxAbsDiff(out.frames, refFrames)).toBeLessThanOrEqual(options.dtype === 'float16' ? 2 : 1);
  });
});
