import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { dump as npyDump } from 'npyjs';
import { importNetwork, readWeightsFile, WeightsError } from '../../../src/synthesis/stylegan2/index.ts';
import { NPZ_INFLATE_FLOOR_BYTES } from '../../../src/synthesis/stylegan2/weights-file.ts';

const dir = mkdtempSync(join(tmpdir(), 'gance-npz-bomb-'));
const MiB = 1024 * 1024;

/** One .npy of zeros: a float32 header, then `bytes` zero bytes; deflate packs zeros ~1000:1. */
function zerosNpy(bytes: number): Uint8Array {
  const header = new Uint8Array(npyDump(new Float32Array(0), [0]));
  const out = new Uint8Array(header.length + bytes);
  out.set(header);
  return out;
}

/** Rewrites every declared uncompressed size (local header and central directory) to `size`. */
function lieAboutSize(zip: Uint8Array, size: number): Uint8Array {
  const z = zip.slice();
  const v = new DataView(z.buffer);
  for (let i = 0; i + 4 <= z.length; i++) {
    const sig = v.getUint32(i, true);
    if (sig === 0x04034b50) v.setUint32(i + 22, size, true);
    else if (sig === 0x02014b50) v.setUint32(i + 24, size, true);
  }
  return z;
}

function bomb(name: string, zip: Uint8Array): string {
  const file = join(dir, name);
  writeFileSync(file, zip);
  return file;
}

const thrown = (f: () => unknown): Error => {
  try {
    f();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected it to throw');
};

describe('.npz zip bombs are refused before they exhaust memory', () => {
  it('an entry that declares more than the limit: refused by its declared size, naming the file, entry and limit', () => {
    const zip = zipSync({ 'w.npy': zerosNpy(8 * MiB) }, { level: 9 });
    expect(zip.length * 500).toBeLessThan(8 * MiB); // really a bomb
    const file = bomb('declared.npz', zip);
    const err = thrown(() => readWeightsFile(file, { maxInflatedBytes: MiB }));
    expect(err).toBeInstanceOf(WeightsError);
    expect(err.message).toContain(file);
    expect(err.message).toContain("'w.npy'");
    expect(err.message).toMatch(/declares 8388\d{3} bytes/);
    expect(err.message).toContain('limit 1048576 bytes');
  });

  it('an entry whose declared size lies: the inflated bytes are counted, and inflation stops at the limit', () => {
    const file = bomb('lying.npz', lieAboutSize(zipSync({ 'w.npy': zerosNpy(8 * MiB) }, { level: 9 }), 1000));
    const err = thrown(() => readWeightsFile(file, { maxInflatedBytes: MiB }));
    expect(err).toBeInstanceOf(WeightsError);
    expect(err.message).toContain(file);
    expect(err.message).toContain("'w.npy'");
    expect(err.message).toMatch(/inflates to more than/);
    expect(err.message).toContain('limit 1048576 bytes');
  });

  it('the limit counts all arrays together', () => {
    const file = bomb('many.npz', lieAboutSize(zipSync({ 'a.npy': zerosNpy(MiB / 2 - 1024), 'b.npy': zerosNpy(MiB / 2 - 1024), 'c.npy': zerosNpy(MiB / 2 - 1024) }), 10));
    expect(thrown(() => readWeightsFile(file, { maxInflatedBytes: MiB })).message).toMatch(/'c\.npy' inflates to more than/);
  });

  it('with the default limit, `network import` refuses a small file that inflates past the floor, and writes nothing', () => {
    // a ~70 KiB file: the ratio rule alone would allow only a few MiB, the floor allows 64 MiB
    const file = bomb('default.npz', lieAboutSize(zipSync({ 'mapping.fc0.weight.npy': zerosNpy(NPZ_INFLATE_FLOOR_BYTES + MiB) }, { level: 1 }), 4096));
    const out = join(dir, 'default.onnx');
    const err = thrown(() => importNetwork(file, out));
    expect(err).toBeInstanceOf(WeightsError);
    expect(err.message).toContain(`limit ${NPZ_INFLATE_FLOOR_BYTES} bytes`);
    expect(existsSync(out)).toBe(false);
  });

  it('an honest .npz within the limit still reads (stored and deflated entries)', () => {
    const data = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i));
    const npy = new Uint8Array(npyDump(data, [10, 100]));
    for (const level of [0, 6] as const) {
      const file = bomb(`honest-${level}.npz`, zipSync({ 'x.npy': npy, 'notes.txt': new Uint8Array(3) }, { level }));
      const wf = readWeightsFile(file, { maxInflatedBytes: npy.length });
      expect(wf.kind).toBe('npz');
      expect([...wf.dict.keys()]).toEqual(['x']);
      expect(wf.dict.get('x')!.shape).toEqual([10, 100]);
      expect(wf.dict.get('x')!.data).toEqual(data);
    }
  });
});
