/** `gance live` as a user runs it: a looped WAV in, the MJPEG stream out, a status line, Ctrl-C to stop. */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { api, liveServer, readMjpeg, tempDir, toneWav } from './helpers.ts';
import { fellBackLine } from '../helpers/synthesis-fallback.ts';

function run(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['bin/gance.js', 'live', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  let err = '';
  const waiters: Array<{ re: RegExp; resolve: (m: RegExpMatchArray) => void }> = [];
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
    for (const w of [...waiters]) {
      const m = out.match(w.re);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const line = (re: RegExp) => new Promise<RegExpMatchArray>((resolve) => (out.match(re) ? resolve(out.match(re)!) : waiters.push({ re, resolve })));
  return { child, line, exited, out: () => out, err: () => err };
}

describe('gance live', () => {
  it('serves MJPEG from a looped file, prints a status line with fps, drops and latency, stops on SIGINT', async () => {
    const wav = toneWav(tempDir());
    const p = run(['--audio', wav, '--network', 'demo-64', '--fps', '30', '--mjpeg', '0', '--lookahead', '0']);
    try {
      const url = (await p.line(/^mjpeg (http:\S+)$/m))[1]!;
      // the projector's browser pointed at the bare host:port lands on the session's page
      const root = await fetch(new URL('/', url), { redirect: 'manual' });
      expect(root.status).toBe(302);
      expect(new URL(root.headers.get('location')!, url).pathname).toBe(new URL(url).pathname.replace(/mjpeg$/, 'page'));
      const { parts } = await readMjpeg(url, 3);
      expect(parts.every((x) => x.headers['x-network'] === 'demo-64')).toBe(true);
      const status = (await p.line(/^running demo-64: .*$/m))[0];
      expect(status).toMatch(/^running demo-64: \d+\.\d\/30 fps, \d+ shown, \d+ dropped.*latency p50\/p99 ms: publish \d+\/\d+/);
    } finally {
      p.child.kill('SIGINT');
    }
    expect(await p.exited).toBe(0);
    expect(p.out()).toMatch(/^stopped: stopped demo-64: /m);
    // what makes the frames, said once as `gance render` says it (nothing changed while it ran)
    expect(p.err()).toBe('synthesis: cpu0 onnx/cpu\n');
  }, 60_000);

  it('a capture device that is not there ends with one line and exit code 1', async () => {
    const p = run(['--audio', 'hw:97,0', '--network', 'demo-64']);
    expect(await p.exited).toBe(1);
    expect(p.err()).toMatch(/^gance: live audio \(ALSA device hw:97,0\): .*\n$/);
  }, 60_000);

  it('--out into a folder that is not there ends at once with one line naming it and exit code 1', async () => {
    const wav = toneWav(tempDir());
    const p = run(['--audio', wav, '--network', 'demo-64', '--out', '/nonexistent/x.mkv', '--for', '30']);
    expect(await p.exited).toBe(1);
    expect(p.err()).toBe('gance: --out: "/nonexistent/x.mkv": folder /nonexistent does not exist\n');
    expect(p.out()).not.toMatch(/live session/);
  }, 60_000);

  it('--out with a URL scheme no output streams to (foo://, file://) ends at once with one line naming --out and the schemes, exit code 1', async () => {
    const wav = toneWav(tempDir());
    for (const url of ['foo://x', 'file:///tmp/x.mkv', 'http://127.0.0.1:1/x']) {
      const p = run(['--audio', wav, '--network', 'demo-64', '--out', url, '--for', '30']);
      expect(await p.exited, url).toBe(1);
      expect(p.err(), url).toBe(`gance: --out: "${url}": a stream URL must be udp://, srt://, tcp://, rtmp://, rtmps:// (a file output is a path: .mkv, .ts, .mp4)\n`);
      expect(p.out(), url).not.toMatch(/live session/);
    }
  }, 60_000);

  it('--daemon runs the session on a daemon through its API and deletes it on SIGINT', async () => {
    const srv = await liveServer();
    try {
      const wav = toneWav(tempDir());
      const p = run(['--daemon', srv.base, '--audio', wav, '--network', 'demo-64', '--fps', '25']);
      try {
        const id = (await p.line(/^live session (\w+) on /m))[1]!;
        expect((await api(srv.base, 'GET', `/v1/live/${id}`)).body).toMatchObject({ fps: 25, networks: ['demo-64'] });
        await p.line(/^running demo-64: .* fps, \d+ shown/m);
      } finally {
        p.child.kill('SIGINT');
      }
      expect(await p.exited).toBe(0);
      expect(p.out()).toMatch(/^stopped: stopped demo-64: /m);
      expect((await api(srv.base, 'GET', '/v1/live')).body).toEqual([]);
    } finally {
      await srv.close();
    }
  }, 60_000);

  it('--daemon says what synthesizes the session on the daemon: a worker fallen back to the CPU is a warning on stderr', async () => {
    const srv = await liveServer({ workerSpecs: [{ id: 'p0', providers: ['webgpu', 'cpu'], engine: 'onnx', isolation: 'auto', intraOpThreads: 1, env: { MESA_VK_DEVICE_SELECT: 'ffff:ffff' } }] });
    try {
      const wav = toneWav(tempDir());
      const p = run(['--daemon', srv.base, '--audio', wav, '--network', 'demo-64', '--fps', '25']);
      try {
        await p.line(/^running demo-64: .* fps, \d+ shown/m);
      } finally {
        p.child.kill('SIGINT');
      }
      expect(await p.exited).toBe(0);
      expect(p.err().split('\n')).toEqual([
        'synthesis: p0 onnx/cpu',
        expect.stringMatching(fellBackLine('p0', 'warning: ')),
        '',
      ]);
    } finally {
      await srv.close();
    }
  }, 60_000);

  it('--daemon sends the API token (GANCE_TOKEN) as the other daemon commands do', async () => {
    const token = 'live-cli-token-0123456789abcdef0123456789';
    const srv = await liveServer({ access: { token } });
    try {
      const wav = toneWav(tempDir());
      const p = run(['--daemon', srv.base, '--audio', wav, '--network', 'demo-64', '--fps', '25'], { GANCE_TOKEN: token, GANCE_TOKEN_FILE: '' });
      try {
        const quit = p.exited.then((code) => Promise.reject(new Error(`gance live exited ${code}: ${p.err()}`)));
        quit.catch(() => {}); // it exits at the end either way
        await Promise.race([p.line(/^live session (\w+) on /m), quit]);
        // a status line: the GETs carry it too, and SIGINT is handled from here on
        await p.line(/^running demo-64: .* fps, \d+ shown/m);
      } finally {
        p.child.kill('SIGINT');
      }
      expect(await p.exited).toBe(0);
      // the DELETE went with it too
      expect((await api(srv.base, 'GET', '/v1/live')).body).toEqual([]);
      const refused = run(['--daemon', srv.base, '--audio', wav, '--network', 'demo-64'], { GANCE_TOKEN: 'not-the-token-but-long-enough-0123456789', GANCE_TOKEN_FILE: '' });
      expect(await refused.exited).toBe(1);
      expect(refused.err()).toMatch(/401 the API token \(or session cookie\) is not valid/);
    } finally {
      await srv.close();
    }
  }, 60_000);

  it('--daemon refused 401 says where the token was looked for, as the other daemon commands do; a daemon not there names --daemon', async () => {
    const srv = await liveServer({ access: { token: 'live-cli-token-0123456789abcdef0123456789' } });
    try {
      const refused = run(['--daemon', srv.base, '--audio', 'song.wav', '--network', 'demo-64'], { GANCE_TOKEN: 'a-wrong-token-but-long-enough-0123456789', GANCE_TOKEN_FILE: '' });
      expect(await refused.exited).toBe(1);
      expect(refused.err()).toMatch(/^gance: POST \/v1\/live: 401 .*\(this command sends GANCE_TOKEN, else the file GANCE_TOKEN_FILE names, else \/etc\/gance\/token\)\n$/);
      expect(refused.out()).toBe('');
    } finally {
      await srv.close();
    }
    const gone = run(['--daemon', 'http://127.0.0.1:9', '--audio', 'song.wav', '--network', 'demo-64']);
    expect(await gone.exited).toBe(1);
    expect(gone.err()).toMatch(/^gance: cannot reach the daemon at http:\/\/127\.0\.0\.1:9 \(.*\); is it running\? \(--daemon\)\n$/);
  }, 60_000);
});
