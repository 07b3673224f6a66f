/** ffmpeg outputs: the frames recorded to a file for the session's length (H.264, the network's size). */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, liveServer, readMjpeg, tempDir, toneWav, type LiveServer } from './helpers.ts';

describe('live ffmpeg outputs', () => {
  let srv: LiveServer;
  const dir = tempDir();

  beforeAll(async () => {
    srv = await liveServer();
  }, 60_000);
  afterAll(async () => {
    await srv?.close();
  });

  it('records the frames shown to a Matroska file, complete once the session stops', async () => {
    const out = join(dir, 'show.mkv');
    const r = await api(srv.base, 'POST', '/v1/live', { audio: { kind: 'file', path: toneWav(dir) }, networks: ['demo-64'], fps: 30, outputs: [{ target: out }] });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body.clients.ffmpeg).toBe(1);
    await readMjpeg(`${srv.base}/v1/live/${r.body.id}/mjpeg`, 12);
    const stopped = await api(srv.base, 'DELETE', `/v1/live/${r.body.id}`);
    expect(stopped.body.error).toBeNull();
    const probe = spawnSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=codec_name,width,height,nb_read_frames', '-of', 'json', out]);
    expect(probe.status, probe.stderr.toString()).toBe(0);
    const s = (JSON.parse(probe.stdout.toString()) as { streams: Array<{ codec_name: string; width: number; height: number; nb_read_frames: string }> }).streams[0]!;
    expect(s).toMatchObject({ codec_name: 'h264', width: 64, height: 64 });
    expect(Number(s.nb_read_frames)).toBeGreaterThanOrEqual(10);
  }, 30_000);

  it('an output ffmpeg cannot write is reported in the session, which runs on', async () => {
    const r = await api(srv.base, 'POST', '/v1/live', { audio: { kind: 'file', path: toneWav(dir) }, networks: ['demo-64'], fps: 30, outputs: [{ target: join(dir, 'no/such/folder/x.mkv') }] });
    expect(r.status).toBe(201);
    const { parts } = await readMjpeg(`${srv.base}/v1/live/${r.body.id}/mjpeg`, 3);
    expect(parts).toHaveLength(3);
    const stopped = await api(srv.base, 'DELETE', `/v1/live/${r.body.id}`);
    expect(stopped.body.error).toMatch(/output .*no\/such\/folder\/x\.mkv: .*No such file or directory/);
  }, 30_000);
});
