/**
 * What a live session over the API may read and write: audio and projection files under
 * render.mediaRoot only (as a render's), outputs under render.outputRoot or to a stream URL, checked
 * before anything starts; a source that never sends is a failed start that frees its slot and
 * leaves no ffmpeg behind.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, liveServer, pidsWith, tempDir, toneWav, type LiveServer } from './helpers.ts';

describe('live sessions in the daemon are confined to its media and output roots', () => {
  let srv: LiveServer;
  const media = tempDir();
  const output = join(tempDir(), 'out');
  const post = (body: Record<string, unknown>) => api(srv.base, 'POST', '/v1/live', { networks: ['demo-64'], ...body });

  beforeAll(async () => {
    toneWav(media);
    symlinkSync('/etc/passwd', join(media, 'passwd.wav'));
    execFileSync('mkfifo', [join(media, 'fifo.wav')]);
    // one slot: a blocked start that kept it would refuse the next session
    srv = await liveServer({ roots: { media, output }, startTimeoutMs: 3000, maxSessions: 1 });
  }, 60_000);

  afterAll(async () => {
    await srv?.close();
  });

  it('refuses files outside the media root without saying whether they exist, naming the field', async () => {
    const there = await post({ audio: { kind: 'file', path: '/etc/passwd' } });
    const absent = await post({ audio: { kind: 'file', path: '/etc/no-such-file-here' } });
    expect(there.status).toBe(403);
    expect(absent.status).toBe(403);
    expect(there.body.message).toBe('body/audio/path: "/etc/passwd" is outside the media root');
    expect(absent.body.message).toBe(there.body.message.replace('passwd', 'no-such-file-here'));
    const climb = await post({ audio: { kind: 'file', path: '../../etc/passwd' } });
    expect(climb.status).toBe(400);
    expect(climb.body.message).toMatch(/^body\/audio\/path: .*"\.\." is not allowed/);
    const link = await post({ audio: { kind: 'file', path: 'passwd.wav' } });
    expect(link.status).toBe(403);
    expect(link.body.message).toMatch(/^body\/audio\/path: "passwd\.wav" leads outside the media root/);
    const projection = await post({ audio: { kind: 'file', path: 'tone.wav' }, projectionFile: '/etc/passwd' });
    expect(projection.status).toBe(403);
    expect(projection.body.message).toMatch(/^body\/projectionFile: /);
    // capture devices are not files: they reach ALSA as before
    const device = await post({ audio: { kind: 'alsa', device: 'hw:97,0' } });
    expect(device.status).toBe(422);
    expect(device.body.message).toMatch(/ALSA device hw:97,0/);
    expect((await api(srv.base, 'GET', '/v1/live')).body).toEqual([]);
  }, 60_000);

  it('refuses an output outside the output root, a folder that is not there and other URL schemes, naming the field', async () => {
    const abs = await post({ audio: { kind: 'file', path: 'tone.wav' }, outputs: [{ target: '/nonexistent/x.mkv' }] });
    expect(abs.status).toBe(400);
    expect(abs.body.message).toMatch(/^body\/outputs\/0\/target: "\/nonexistent\/x\.mkv" must be a name under the output root/);
    const scheme = await post({ audio: { kind: 'file', path: 'tone.wav' }, outputs: [{ target: 'udp://127.0.0.1:9' }, { target: 'file:///tmp/x.mkv' }] });
    expect(scheme.status).toBe(400);
    expect(scheme.body.message).toMatch(/^body\/outputs\/1\/target: "file:\/\/\/tmp\/x\.mkv": a stream URL must be/);
    // a file's extension picks its container: one no output writes is refused (x.exe was written as Matroska)
    for (const [target, why] of [['x.exe', 'the extension ".exe" is not one an output writes'], ['shows/x', 'has no extension']]) {
      const r = await post({ audio: { kind: 'file', path: 'tone.wav' }, outputs: [{ target: 'ok.mkv' }, { target }] });
      expect({ target, status: r.status }).toEqual({ target, status: 400 });
      expect(r.body.message).toBe(`body/outputs/1/target: "${target}": ${why}; a file output is .mkv, .ts, .mp4 (or a stream URL: udp://, srt://, tcp://, rtmp://, rtmps://)`);
    }
    expect((await api(srv.base, 'GET', '/v1/live')).body).toEqual([]);
  }, 60_000);

  it('a start refused after its outputs were checked (an unknown network, a bad framing) leaves no folder under the output root', async () => {
    // the output root itself too, when it is not there yet
    const listing = () => (existsSync(output) ? readdirSync(output) : null);
    const before = listing();
    const unknown = await post({ audio: { kind: 'file', path: 'tone.wav' }, networks: ['no-such-net'], outputs: [{ target: 'refused1/deep/x.mkv' }] });
    expect(unknown.status).toBe(422);
    const framing = await post({ audio: { kind: 'file', path: 'tone.wav' }, framing: { width: 64, height: 64, frame: { width: 64, height: 64, x: 10, y: 0 } }, outputs: [{ target: 'refused2/x.mkv' }] });
    expect(framing.status).toBe(400);
    expect(listing()).toEqual(before);
  }, 60_000);

  it('a relative path is a name under the media root, not the daemon folder; its recording lands under the output root', async () => {
    const r = await post({ audio: { kind: 'file', path: 'tone.wav' }, outputs: [{ target: 'shows/x.mkv' }] });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    // as the client named it: where the media root is, is the daemon's business
    expect(r.body.audio.path).toBe('tone.wav');
    await api(srv.base, 'DELETE', `/v1/live/${r.body.id}`);
    expect(existsSync(join(output, 'shows', 'x.mkv'))).toBe(true);
  }, 60_000);

  it('a FIFO nobody writes fails the start within the bound, frees its slot and leaves no ffmpeg behind', async () => {
    const fifo = join(media, 'fifo.wav');
    const answer = post({ audio: { kind: 'file', path: 'fifo.wav' } });
    // the source's ffmpeg, blocked opening the FIFO
    let pids: number[] = [];
    for (let i = 0; i < 200 && pids.length === 0; i++) {
      pids = pidsWith(fifo);
      if (pids.length === 0) await new Promise((r) => setTimeout(r, 25));
    }
    expect(pids.length).toBe(1);
    const r = await answer;
    expect(r.status).toBe(422);
    expect(r.body.message).toMatch(/^live audio \(file .*fifo\.wav\): no audio within 3 s/);
    // SIGTERM does not end an ffmpeg blocked in open(): the stop escalates
    expect(existsSync(`/proc/${pids[0]}`) && pidsWith(fifo).includes(pids[0]!)).toBe(false);
    expect((await api(srv.base, 'GET', '/v1/live')).body).toEqual([]);
    // the one slot is free again
    const next = await post({ audio: { kind: 'file', path: 'tone.wav' } });
    expect(next.status, JSON.stringify(next.body)).toBe(201);
    await api(srv.base, 'DELETE', `/v1/live/${next.body.id}`);
  }, 60_000);

  it('a start that fails after its outputs were opened (no audio within the bound) leaves no file and no folder it made', async () => {
    const listing = () => (existsSync(output) ? readdirSync(output, { recursive: true }).map(String).sort() : null);
    // a folder that was there before stays, with what was in it
    mkdirSync(join(output, 'kept'), { recursive: true });
    writeFileSync(join(output, 'kept', 'other.txt'), 'not the start\'s');
    const before = listing();
    const r = await post({ audio: { kind: 'file', path: 'fifo.wav' }, outputs: [{ target: 'failed/deep/x.mkv' }, { target: 'kept/y.mp4' }, { target: 'z.ts' }] });
    expect(r.status).toBe(422);
    expect(r.body.message).toMatch(/no audio within 3 s/);
    expect(listing()).toEqual(before);
  }, 60_000);
});

describe('live recordings never share a file', () => {
  let srv: LiveServer;
  const media = tempDir();
  const output = join(tempDir(), 'out');
  const post = (outputs: Array<{ target: string }>) => api(srv.base, 'POST', '/v1/live', { networks: ['demo-64'], audio: { kind: 'push' }, outputs });

  beforeAll(async () => {
    // a render queued to write render.mp4 (its run config render.run.json beside it)
    srv = await liveServer({ roots: { media, output }, maxSessions: 3, renderOutputs: () => new Set([join(output, 'render.mp4'), join(output, 'render.run.json')]) });
  }, 60_000);

  afterAll(async () => {
    await srv?.close();
  });

  it('one file named twice in a start, one a running session records, or one a render will write is 409 naming the output; a stopped session lets go of it', async () => {
    // ffmpeg opens each output with -y: every one of these was accepted and wrote over the other
    const twice = await post([{ target: 'rec.mkv' }, { target: './rec.mkv' }]);
    expect(twice.status).toBe(409);
    expect(twice.body.message).toBe('body/outputs/1/target: "./rec.mkv" is also an earlier output of this start (one file, one output)');
    const first = await post([{ target: 'udp://127.0.0.1:9' }, { target: 'show/rec.mkv' }]);
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    for (const [target, message] of [
      ['show/rec.mkv', '"show/rec.mkv" is recorded by a live session that is running'],
      ['show//rec.mkv/x.ts', '"show//rec.mkv/x.ts" lies under show/rec.mkv, recorded by a live session that is running'],
      ['render.mp4', '"render.mp4" is an output of a render that is queued or running'],
      ['render.run.json/x.mkv', '"render.run.json/x.mkv" lies under render.run.json, an output of a render that is queued or running'],
    ] as const) {
      const r = await post([{ target: 'other.ts' }, { target }]);
      expect({ target, status: r.status }).toEqual({ target, status: 409 });
      expect(r.body.message).toBe(`body/outputs/1/target: ${message}`);
    }
    expect(srv.service.outputs()).toEqual(new Set([join(output, 'show', 'rec.mkv')]));
    expect((await api(srv.base, 'GET', '/v1/live')).body.map((s: { id: string }) => s.id)).toEqual([first.body.id]);
    // stopped, it lets go of the name: a new start is refused only as any file there is
    expect((await api(srv.base, 'DELETE', `/v1/live/${first.body.id}`)).status).toBe(200);
    expect(srv.service.outputs()).toEqual(new Set());
    const again = await post([{ target: 'show/rec.mkv' }]);
    expect(again.body.message ?? '').not.toMatch(/recorded by a live session/);
  }, 60_000);
});

describe('live outputs in the CLI\'s service (no roots)', () => {
  let srv: LiveServer;

  beforeAll(async () => {
    srv = await liveServer();
  }, 60_000);

  afterAll(async () => {
    await srv?.close();
  });

  it('refuses a file output whose folder is not there or is a file, before anything starts', async () => {
    const wav = toneWav(tempDir());
    const missing = await api(srv.base, 'POST', '/v1/live', { audio: { kind: 'file', path: wav }, networks: ['demo-64'], outputs: [{ target: '/nonexistent/x.mkv' }] });
    expect(missing.status).toBe(422);
    expect(missing.body.message).toBe('body/outputs/0/target: "/nonexistent/x.mkv": folder /nonexistent does not exist');
    const notDir = await api(srv.base, 'POST', '/v1/live', { audio: { kind: 'file', path: wav }, networks: ['demo-64'], outputs: [{ target: `${wav}/x.mkv` }] });
    expect(notDir.status).toBe(422);
    expect(notDir.body.message).toMatch(/tone\.wav is not a folder$/);
    const exe = await api(srv.base, 'POST', '/v1/live', { audio: { kind: 'file', path: wav }, networks: ['demo-64'], outputs: [{ target: join(tempDir(), 'x.EXE') }] });
    expect(exe.status).toBe(400);
    expect(exe.body.message).toMatch(/^body\/outputs\/0\/target: ".*x\.EXE": the extension "\.EXE" is not one an output writes; a file output is \.mkv, \.ts, \.mp4 /);
    expect((await api(srv.base, 'GET', '/v1/live')).body).toEqual([]);
  }, 60_000);
});
