import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseNpy } from 'npyjs';
import { describe, expect, it } from 'vitest';
import { npyHeader, NpyFloat32Writer } from '../../src/latents/npy.ts';
import { tempDir } from '../audio/wav.ts';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const arrayBuffer = (b: Buffer) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;

describe('npy writing', () => {
  it("writes numpy's own header, byte for byte", () => {
    // sha256 of numpy.lib.format.write_array_header_1_0 (numpy 2.4) for '<f4', C order
    const numpy: Array<[number[], string]> = [
      [[3, 512], 'bbf9e80fc918c21dfbaf395ab9f783810a69337f1dca5397abd9e110cca935a6'],
      [[7], 'adbaedb2a4d3e3b90feccddcfcf6a903934ebbe531fb8e2d44145f14b173c982'],
      [[2, 18, 512], '06cc8918a71b3d688f8e22616ff13b5b4993670f40f3cedf91af94c3e47c1658'],
      [[0, 512], '970bb7c248dd51e53fc2b33f414bd5b0e33539b7ebb4178522586e351fbdfb55'],
    ];
    for (const [shape, hash] of numpy) expect(sha256(npyHeader(shape)), shape.join('x')).toBe(hash);
    const h = npyHeader([3, 512]);
    expect(h.length % 64).toBe(0);
    expect([...h.subarray(0, 8)]).toEqual([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
    expect(h.readUInt16LE(8)).toBe(h.length - 10);
    expect(h.toString('latin1', 10).trimEnd()).toBe("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 512), }");
    expect(h.at(-1)).toBe(0x0a);
    expect(() => npyHeader([2, -1])).toThrow(RangeError);
  });

  it('streams rows into a file that reads back with its shape and values', async () => {
    const path = join(tempDir('gance-npy-'), 'w.npy');
    const w = await NpyFloat32Writer.create(path, [5, 2, 3]);
    const rows = Array.from({ length: 5 }, (_, f) => Float32Array.from({ length: 6 }, (_, i) => f * 10 + i + 0.25));
    for (const r of rows) await w.write(r);
    await w.close();
    const a = parseNpy(arrayBuffer(readFileSync(path)));
    expect(a.shape).toEqual([5, 2, 3]);
    expect(a.dtype).toBe('f4');
    expect(a.fortranOrder).toBe(false);
    expect(Array.from(a.data as Float32Array)).toEqual(rows.flatMap((r) => Array.from(r)));
  });

  it('refuses an existing path, more values than the shape, and a close before it is full', async () => {
    const dir = tempDir('gance-npy-');
    const taken = join(dir, 'taken.npy');
    writeFileSync(taken, 'x');
    await expect(NpyFloat32Writer.create(taken, [1, 2])).rejects.toMatchObject({ code: 'EEXIST' });
    const path = join(dir, 'short.npy');
    const w = await NpyFloat32Writer.create(path, [2, 2]);
    await w.write(new Float32Array(2));
    await expect(w.write(new Float32Array(3))).rejects.toThrow(/more values than the shape \[2, 2\] holds/);
    await expect(w.close()).rejects.toThrow(/2 values written, the shape \[2, 2\] holds 4/);
    await w.abort();
    expect(existsSync(path)).toBe(true); // the caller removes it (it writes under a temporary name)
  });
});
