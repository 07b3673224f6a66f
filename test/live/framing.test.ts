/**
 * Framing on stage: a live camera behind the picture (ffmpeg's testsrc standing in for a V4L2
 * device, through the same reader and compositing), a missing device reported while the session
 * runs over the colour, and a new placement reached smoothly over the transition, frame by frame.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, decodeJpeg, liveServer, meanDiff, readMjpeg, tempDir, toneWav, type LiveServer, type MjpegPart } from './helpers.ts';

const W = 160;
const H = 90;
const GREY = '#404040';

/** A region of an rgb24 canvas W wide, row by row. */
function region(rgb: Buffer, x0: number, y0: number, w: number, h: number): Buffer {
  const out = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) rgb.copy(out, y * w * 3, ((y0 + y) * W + x0) * 3, ((y0 + y) * W + x0 + w) * 3);
  return out;
}

/** Reads MJPEG parts until `until` says enough (or `max` parts). */
async function partsUntil(url: string, until: (p: MjpegPart, all: MjpegPart[]) => boolean | Promise<boolean>, max = 400): Promise<MjpegPart[]> {
  const all: MjpegPart[] = [];
  const enough = new AbortController();
  // an async test (a decode) sees the parts one at a time, in order; those that came meanwhile are left out
  let tested = Promise.resolve();
  let accepted: number | undefined;
  await readMjpeg(url, max, enough.signal, (p) => {
    all.push(p);
    const seen = all.slice();
    tested = tested.then(async () => {
      if (accepted === undefined && (await until(p, seen))) {
        accepted = seen.length;
        enough.abort();
      }
    });
  }).catch(() => {});
  await tested;
  return all.slice(0, accepted);
}

/** This process's ffmpeg children reading ffmpeg's test pattern (the cameras), from /proc. */
function cameraChildren(): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(ppid) === process.pid && state !== 'Z' && readFileSync(`/proc/${name}/cmdline`, 'utf8').includes('testsrc=')) pids.push(Number(name));
    } catch {
      /* gone meanwhile */
    }
  }
  return pids;
}

const placementOf = (p: MjpegPart) => (p.headers['x-placement'] ?? '').split(',').map(Number);

describe('live framing', () => {
  let srv: LiveServer;
  let wav: string;

  beforeAll(async () => {
    srv = await liveServer({ cameraRetryMs: 200 });
    wav = toneWav(tempDir());
  }, 60_000);
  afterAll(async () => {
    await srv?.close();
  });

  it('shows the camera (testsrc) on the canvas where the synthesized picture is not, the picture where it is', async () => {
    const framing = { width: W, height: H, frame: { width: 64, height: 64, x: 48, y: 13 }, color: GREY, camera: { kind: 'testsrc' } };
    const r = await api(srv.base, 'POST', '/v1/live', { audio: { kind: 'file', path: wav }, networks: ['demo-64'], fps: 20, framing });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    try {
      // the camera starts beside the session: read until the canvas left of the picture is no longer grey
      const grey = Buffer.alloc(40 * 60 * 3, 0x40);
      let rgb: Buffer = Buffer.alloc(0);
      const parts = await partsUntil(`${srv.base}/v1/live/${r.body.id}/mjpeg`, async (p) => {
        rgb = await decodeJpeg(p.jpeg);
        return meanDiff(region(rgb, 0, 0, 40, 60), grey) > 40;
      });
      expect(parts.length).toBeLessThan(400);
      // the same camera picture made by ffmpeg alone: the static colour bars agree (the counter and gradient move)
      const ref = spawnSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc=size=640x480:rate=30', '-frames:v', '1', '-vf', `scale=${W}:${H}:force_original_aspect_ratio=increase,crop=${W}:${H}`, '-pix_fmt', 'rgb24', '-f', 'rawvideo', 'pipe:1']).stdout;
      expect(ref.length).toBe(W * H * 3);
      expect(meanDiff(region(rgb, 0, 0, 40, 60), region(ref, 0, 0, 40, 60))).toBeLessThan(15);
      expect(meanDiff(region(rgb, 116, 0, 40, 60), region(ref, 116, 0, 40, 60))).toBeLessThan(15);
      // inside the picture's place: the network's picture, not the camera
      expect(meanDiff(region(rgb, 52, 17, 56, 56), region(ref, 52, 17, 56, 56))).toBeGreaterThan(30);
      expect(srv.service.get(r.body.id).view().error).toBeNull();
    } finally {
      await api(srv.base, 'DELETE', `/v1/live/${r.body.id}`);
    }
  }, 60_000);

  it('a stopped session\'s camera is gone once the stop has answered: its ffmpeg does not read on (the device held)', async () => {
    const framing = { width: W, height: H, frame: { width: 64, height: 64, x: 48, y: 13 }, color: GREY, camera: { kind: 'testsrc' } };
    const r = await api(srv.base, 'POST', '/v1/live', { audio: { kind: 'file', path: wav }, networks: ['demo-64'], fps: 20, framing });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const s = srv.service.get(r.body.id);
    await partsUntil(`${srv.base}/v1/live/${r.body.id}/mjpeg`, (_p, all) => all.length >= 3);
    expect(cameraChildren()).toHaveLength(1);
    expect((await api(srv.base, 'DELETE', `/v1/live/${r.body.id}`)).status).toBe(200);
    expect(s.view().state).toBe('stopped');
    expect(cameraChildren()).toEqual([]);
  }, 60_000);

  it('a new canvas size keeps the camera behind it: a new reader at the new size', async () => {
    const framing = { width: W, height: H, frame: { width: 64, height: 64, x: 48, y: 13 }, color: GREY, camera: { kind: 'testsrc' } };
    const r = await api(srv.base, 'POST', '/v1/live', { audio: { kind: 'file', path: wav }, networks: ['demo-64'], fps: 20, framing });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    try {
      await partsUntil(`${srv.base}/v1/live/${r.body.id}/mjpeg`, (_p, all) => all.length >= 3);
      const before = cameraChildren();
      expect(before).toHaveLength(1);
      const patched = await api(srv.base, 'PATCH', `/v1/live/${r.body.id}`, { framing: { ...framing, width: 128, height: 72, frame: { width: 64, height: 64, x: 32, y: 4 } } });
      expect(patched.status, JSON.stringify(patched.body)).toBe(200);
      const t0 = Date.now();
      while (!(cameraChildren().length === 1 && cameraChildren()[0] !== before[0]) && Date.now() - t0 < 5000) await new Promise((res) => setTimeout(res, 50));
      const now = cameraChildren();
      expect(now).toHaveLength(1);
      expect(now[0]).not.toBe(before[0]);
      expect(readFileSync(`/proc/${now[0]}/cmdline`, 'utf8')).toContain('crop=128:72');
    } finally {
      await api(srv.base, 'DELETE', `/v1/live/${r.body.id}`);
    }
  }, 60_000);

  it('a missing camera device is a clear error while the session runs on over the colour', async () => {
    const framing = { width: W, height: H, frame: { width: 64, height: 64, x: 48, y: 13 }, color: GREY, camera: { kind: 'v4l2', device: '/dev/video97' } };
    const r = await api(srv.base, 'POST', '/v1/live', { audio: { kind: 'file', path: wav }, networks: ['demo-64'], fps: 20, framing });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    try {
      const s = srv.service.get(r.body.id);
      const seen = await partsUntil(`${srv.base}/v1/live/${r.body.id}/mjpeg`, (_p, all) => all.length >= 5 && s.view().error !== null);
      expect(s.view().error).toMatch(/^camera \/dev\/video97: No such file or directory; showing the canvas colour/);
      expect(s.view().state).toBe('running');
      const rgb = await decodeJpeg(seen.at(-1)!.jpeg);
      expect(meanDiff(region(rgb, 0, 0, 40, 60), Buffer.alloc(40 * 60 * 3, 0x40))).toBeLessThan(4);
      // still tried again (a camera plugged in later comes up), still failing, frames still coming
      const shown = s.view().frames.shown;
      await partsUntil(`${srv.base}/v1/live/${r.body.id}/mjpeg`, (_p, all) => all.length >= 10);
      expect(s.view().frames.shown).toBeGreaterThan(shown);
      expect(s.view().error).toMatch(/video97/);
      // a bad device path is refused by the schema
      const bad = await api(srv.base, 'PATCH', `/v1/live/${r.body.id}`, { framing: { ...framing, camera: { kind: 'v4l2', device: 'video0' } } });
      expect(bad.status).toBe(400);
      expect(bad.body.message).toMatch(/device/);
    } finally {
      await api(srv.base, 'DELETE', `/v1/live/${r.body.id}`);
    }
  }, 60_000);

  it('a new placement is reached smoothly over the transition, frame by frame on the music clock', async () => {
    const from = { width: 64, height: 64, x: 0, y: 13 };
    const to = { width: 32, height: 32, x: 120, y: 50 };
    const r = await api(srv.base, 'POST', '/v1/live', { audio: { kind: 'file', path: wav }, networks: ['demo-64'], fps: 20, framing: { width: W, height: H, frame: from, color: GREY } });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    try {
      const url = `${srv.base}/v1/live/${r.body.id}/mjpeg`;
      await readMjpeg(url, 2);
      const reading = partsUntil(url, (p, all) => all.filter((q) => q.headers['x-placement'] === '120,50,32,32').length >= 3);
      await new Promise((res) => setTimeout(res, 200));
      const patched = await api(srv.base, 'PATCH', `/v1/live/${r.body.id}`, { framing: { width: W, height: H, frame: to, color: GREY, transitionMs: 1000 } });
      expect(patched.status).toBe(200);
      expect(patched.body.framing.frame).toEqual(to);
      const parts = await reading;
      const moving = parts.filter((p) => !['0,13,64,64', '120,50,32,32'].includes(p.headers['x-placement']!));
      // at 20 fps a 1 s glide has 19 frames between the ends; drops on a loaded machine leave fewer, never a jump
      expect(moving.length, parts.map((p) => p.headers['x-placement']).join(' ')).toBeGreaterThanOrEqual(6);
      const xs = parts.map((p) => placementOf(p)[0]!);
      const widths = parts.map((p) => placementOf(p)[2]!);
      for (let i = 1; i < xs.length; i++) {
        expect(xs[i]!).toBeGreaterThanOrEqual(xs[i - 1]!);
        expect(widths[i]!).toBeLessThanOrEqual(widths[i - 1]!);
      }
      // no jump: between any two frames this client got (a loaded machine drops some for it), the
      // picture moved no faster than the glide's steepest point (cubic in-out: 3x the mean speed,
      // 120 px in 1 s) over the music time between them, plus a pixel of rounding at each end
      const t = (p: MjpegPart) => Number(p.headers['x-time']);
      for (let i = 1; i < parts.length; i++) {
        const dt = t(parts[i]!) - t(parts[i - 1]!);
        expect(xs[i]! - xs[i - 1]!, `frames at ${t(parts[i - 1]!)} and ${t(parts[i]!)} s`).toBeLessThanOrEqual(3 * 120 * dt + 2);
      }
      // on the frames' clock the glide takes the transition (the eased ends round to the end pixels a little early)
      const lastAtStart = parts.filter((p) => p.headers['x-placement'] === '0,13,64,64').at(-1)!;
      const firstAtEnd = parts.find((p) => p.headers['x-placement'] === '120,50,32,32')!;
      expect(t(firstAtEnd) - t(lastAtStart)).toBeGreaterThanOrEqual(0.7);
      expect(t(firstAtEnd) - t(lastAtStart)).toBeLessThan(1.3);
      // the curve itself (eased, exact times) is test/live/compose.test.ts's
      // the picture really is where the header says: a mid-glide frame's non-grey box
      const mid = moving[Math.floor(moving.length / 2)]!;
      const [x, y, w, h] = placementOf(mid);
      const rgb = await decodeJpeg(mid.jpeg);
      const isGrey = (px: number, py: number) => {
        const o = (py * W + px) * 3;
        return Math.abs(rgb[o]! - 0x40) + Math.abs(rgb[o + 1]! - 0x40) + Math.abs(rgb[o + 2]! - 0x40) < 24;
      };
      const column = (px: number) => Array.from({ length: H }, (_, py) => isGrey(px, py)).filter((g) => !g).length;
      const row = (py: number) => Array.from({ length: W }, (_, px) => isGrey(px, py)).filter((g) => !g).length;
      const cols = Array.from({ length: W }, (_, px) => column(px) > h! / 3);
      const rows = Array.from({ length: H }, (_, py) => row(py) > w! / 3);
      expect(Math.abs(cols.indexOf(true) - x!)).toBeLessThanOrEqual(2);
      expect(Math.abs(cols.lastIndexOf(true) - (x! + w! - 1))).toBeLessThanOrEqual(2);
      expect(Math.abs(rows.indexOf(true) - y!)).toBeLessThanOrEqual(2);
      expect(Math.abs(rows.lastIndexOf(true) - (y! + h! - 1))).toBeLessThanOrEqual(2);
    } finally {
      await api(srv.base, 'DELETE', `/v1/live/${r.body.id}`);
    }
  }, 60_000);
});
