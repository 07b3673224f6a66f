/** ffmpeg outputs: the frames and the session's audio recorded to a file for the session's length (H.264 + AAC, the network's size). */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, decodeJpeg, liveServer, readMjpeg, tempDir, toneWav, type LiveServer } from './helpers.ts';

describe('live ffmpeg outputs', () => {
  let srv: LiveServer;
  const dir = tempDir();

  beforeAll(async () => {
    srv = await liveServer();
  }, 60_000);
  afterAll(async () => {
    await srv?.close();
  });

  it('records the frames shown to a Matroska file of one size through a framing change, complete once the session stops', async () => {
    const out = join(dir, 'show.mkv');
    const r = await api(srv.base, 'POST', '/v1/live', { audio: { kind: 'file', path: toneWav(dir) }, networks: ['demo-64'], fps: 30, outputs: [{ target: out }] });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body.clients.ffmpeg).toBe(1);
    await readMjpeg(`${srv.base}/v1/live/${r.body.id}/mjpeg`, 6);
    // a framing change mid-recording: a red 16:9 canvas, fitted into the recording's size (not stretched)
    expect((await api(srv.base, 'PATCH', `/v1/live/${r.body.id}`, { framing: { width: 160, height: 90, frame: { width: 64, height: 64, x: 48, y: 13 }, color: '#ff0000' } })).status).toBe(200);
    let framed = 0;
    const enough = new AbortController();
    let decoded = Promise.resolve();
    await readMjpeg(`${srv.base}/v1/live/${r.body.id}/mjpeg`, 300, enough.signal, (p) => {
      // one decode at a time, in order, off the event loop the daemon slice shares
      decoded = decoded.then(async () => {
        if (framed < 5 && (await decodeJpeg(p.jpeg)).length === 160 * 90 * 3 && ++framed === 5) enough.abort();
      });
    }).catch(() => {});
    await decoded;
    expect(framed).toBe(5);
    const stopped = await api(srv.base, 'DELETE', `/v1/live/${r.body.id}`);
    expect(stopped.body.error).toBeNull();
    const probe = spawnSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=codec_name,width,height,nb_read_frames', '-of', 'json', out]);
    expect(probe.status, probe.stderr.toString()).toBe(0);
    const s = (JSON.parse(probe.stdout.toString()) as { streams: Array<{ codec_name: string; width: number; height: number; nb_read_frames: string }> }).streams[0]!;
    expect(s).toMatchObject({ codec_name: 'h264', width: 64, height: 64 });
    expect(Number(s.nb_read_frames)).toBeGreaterThanOrEqual(10);
    const all = spawnSync('ffmpeg', ['-v', 'error', '-i', out, '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], { maxBuffer: 1 << 26 }).stdout;
    const last = all.subarray(all.length - 64 * 64 * 3);
    const at = (x: number, y: number) => [...last.subarray((y * 64 + x) * 3, (y * 64 + x) * 3 + 3)];
    // letterboxed: black bars above and below the 64x36 canvas, its red inside
    expect(Math.max(...at(32, 3))).toBeLessThan(40);
    expect(at(3, 32)[0]).toBeGreaterThan(180);
  }, 30_000);

  it('records the audio with the frames: a video and an audio stream of one length, the audio the tone played', async () => {
    const out = join(dir, 'tone.mp4');
    // a steady 440 Hz tone, looped: what the recording must sound like
    const wav = join(dir, 'a440.wav');
    expect(spawnSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'sine=f=440:sample_rate=48000:d=1', '-ac', '2', wav]).status).toBe(0);
    const r = await api(srv.base, 'POST', '/v1/live', { audio: { kind: 'file', path: wav }, networks: ['demo-64'], fps: 20, outputs: [{ target: out }] });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    // about 3 s of show: 60 frames at 20 fps go by (some may be dropped; the recording holds the previous)
    const shown = await new Promise<number>((resolve) => {
      const s = srv.service.get(r.body.id);
      const t = setInterval(() => {
        const v = s.view();
        if (v.frames.started >= 60) {
          clearInterval(t);
          resolve(v.frames.shown);
        }
      }, 50);
    });
    expect(shown).toBeGreaterThan(10);
    const stopped = await api(srv.base, 'DELETE', `/v1/live/${r.body.id}`);
    expect(stopped.body.error).toBeNull();
    const probe = spawnSync('ffprobe', ['-v', 'error', '-count_frames', '-show_entries', 'stream=codec_type,codec_name,nb_read_frames,sample_rate,channels:format=duration', '-of', 'json', out]);
    expect(probe.status, probe.stderr.toString()).toBe(0);
    const streams = (JSON.parse(probe.stdout.toString()) as { streams: Array<{ codec_type: string; codec_name: string; nb_read_frames: string; sample_rate?: string; channels?: number }> }).streams;
    const video = streams.find((s) => s.codec_type === 'video')!;
    const audio = streams.find((s) => s.codec_type === 'audio')!;
    expect(video.codec_name).toBe('h264');
    expect(audio).toMatchObject({ codec_name: 'aac', sample_rate: '48000', channels: 2 });
    // the lengths by decoding (a fragmented MP4 says none in its header): frames / fps against samples / rate
    const videoSeconds = Number(video.nb_read_frames) / 20;
    const pcm = spawnSync('ffmpeg', ['-v', 'error', '-i', out, '-map', '0:a', '-ac', '1', '-f', 'f32le', 'pipe:1'], { maxBuffer: 1 << 26 }).stdout;
    const samples = new Float32Array(pcm.buffer, pcm.byteOffset, pcm.length / 4);
    const audioSeconds = samples.length / 48000;
    expect(videoSeconds).toBeGreaterThan(2.5);
    // within two frames (AAC's priming and last packet are a fraction of a frame)
    expect(Math.abs(videoSeconds - audioSeconds), `video ${videoSeconds} s, audio ${audioSeconds} s`).toBeLessThan(2 / 20);
    // the tone: zero crossings of a middle second give its pitch, and it is loud
    const mid = samples.subarray(48000, 96000);
    let crossings = 0;
    for (let i = 1; i < mid.length; i++) if (mid[i - 1]! < 0 !== mid[i]! < 0) crossings++;
    expect(crossings / 2).toBeGreaterThan(430);
    expect(crossings / 2).toBeLessThan(450);
    const rms = Math.sqrt(mid.reduce((a, v) => a + v * v, 0) / mid.length);
    expect(rms).toBeGreaterThan(0.05);
  }, 30_000);

  it('an output ffmpeg cannot write is reported in the session, which runs on', async () => {
    // a folder that is not there is refused up front (confine.test.ts); a stream nobody takes fails only in ffmpeg
    const r = await api(srv.base, 'POST', '/v1/live', { audio: { kind: 'file', path: toneWav(dir) }, networks: ['demo-64'], fps: 30, outputs: [{ target: 'tcp://127.0.0.1:1' }] });
    expect(r.status).toBe(201);
    const { parts } = await readMjpeg(`${srv.base}/v1/live/${r.body.id}/mjpeg`, 3);
    expect(parts).toHaveLength(3);
    const stopped = await api(srv.base, 'DELETE', `/v1/live/${r.body.id}`);
    expect(stopped.body.error).toMatch(/^output tcp:\/\/127\.0\.0\.1:1: .*Connection refused/);
  }, 30_000);
});
