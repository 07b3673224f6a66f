/**
 * Live sessions on w networks: a GANce projection file's w latents blended with the live audio
 * (projection-file-blend), fed as w rows; refused, naming what is missing, without the file or with
 * a z network.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeProjectionFile } from '../helpers/projection.ts';
import { LegacyRandomState } from '../../src/latents/rng.ts';
import { INDEX_NET_SIZE, W_NET_ROWS, writeWIndexNetwork } from '../render/helpers.ts';
import { api, decodeJpeg, liveServer, readMjpeg, tempDir, toneWav, type LiveServer } from './helpers.ts';

/** A complete projection file of `count` random w latents (rows x 512 each). */
function writeProjection(path: string, rows: number, count: number): Promise<string> {
  const rng = new LegacyRandomState(3);
  return writeProjectionFile(path, rows, count, () => Float32Array.from(rng.randn(rows * 512)));
}

describe('live sessions on w networks', () => {
  let srv: LiveServer;
  const dir = tempDir();
  let wav: string;
  let projection: string;

  beforeAll(async () => {
    writeWIndexNetwork(join(dir, 'nets'), 'w-index');
    srv = await liveServer({ extraDirs: [join(dir, 'nets')] });
    wav = toneWav(dir);
    projection = await writeProjection(join(dir, 'face.h5'), W_NET_ROWS, 4);
  }, 60_000);
  afterAll(async () => {
    await srv?.close();
  });

  it('shows the projection blended with the music on a w network, the picture moving', async () => {
    const r = await api(srv.base, 'POST', '/v1/live', { audio: { kind: 'file', path: wav }, networks: ['w-index'], projectionFile: projection, fps: 20, blendDepth: 2 });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    try {
      const { parts } = await readMjpeg(`${srv.base}/v1/live/${r.body.id}/mjpeg`, 12);
      for (const p of parts) expect(p.headers['x-network']).toBe('w-index');
      const pictures: Buffer[] = [];
      for (const p of parts) pictures.push(await decodeJpeg(p.jpeg));
      expect(pictures[0]!.length).toBe(INDEX_NET_SIZE * INDEX_NET_SIZE * 3);
      // the w network paints w[0][0..2]: the blend moves with the music, so the colour changes
      const colours = new Set(pictures.map((px) => `${px[0]! >> 3},${px[1]! >> 3},${px[2]! >> 3}`));
      expect(colours.size).toBeGreaterThan(1);
      expect(srv.service.get(r.body.id).view()).toMatchObject({ state: 'running', error: null });
    } finally {
      await api(srv.base, 'DELETE', `/v1/live/${r.body.id}`);
    }
  }, 60_000);

  it('refuses a w network without a projection file, a z network with one, and an unreadable file, naming each', async () => {
    const noFile = await api(srv.base, 'POST', '/v1/live', { audio: { kind: 'file', path: wav }, networks: ['w-index'] });
    expect(noFile.status).toBe(422);
    expect(noFile.body.message).toMatch(/"w-index" takes w rows; give projectionFile/);
    const zNet = await api(srv.base, 'POST', '/v1/live', { audio: { kind: 'file', path: wav }, networks: ['demo-64'], projectionFile: projection });
    expect(zNet.status).toBe(422);
    expect(zNet.body.message).toMatch(/"demo-64" takes z .*use networks with a w input/);
    const missing = await api(srv.base, 'POST', '/v1/live', { audio: { kind: 'file', path: wav }, networks: ['w-index'], projectionFile: join(dir, 'nope.h5') });
    expect(missing.status).toBe(422);
    expect(missing.body.message).toMatch(/projectionFile.*nope\.h5/);
    expect(srv.service.list()).toHaveLength(0);
  }, 60_000);

  it('refuses an empty (said as empty, not as "0 rows"), non-HDF5 or misfit projection file with 422 naming it, and starts no session', async () => {
    const garbage = join(dir, 'garbage.h5');
    writeFileSync(garbage, 'not hdf5 at all');
    const cases: Array<[string, RegExp]> = [
      [await writeProjection(join(dir, 'empty.h5'), W_NET_ROWS, 0), /empty\.h5: projection file holds no final latents/],
      [garbage, /garbage\.h5: not an HDF5 file/],
      [await writeProjection(join(dir, 'misfit.h5'), W_NET_ROWS + 2, 4), /misfit\.h5: latents have 6 w rows but the network takes 4/],
    ];
    for (const [file, message] of cases) {
      const r = await api(srv.base, 'POST', '/v1/live', { audio: { kind: 'file', path: wav }, networks: ['w-index'], projectionFile: file });
      expect({ file, status: r.status }).toEqual({ file, status: 422 });
      expect(r.body.message).toMatch(message);
      expect(srv.service.list()).toHaveLength(0);
    }
  }, 60_000);
});
