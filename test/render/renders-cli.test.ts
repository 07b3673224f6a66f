/**
 * `gance renders list|show|cancel|gpus|pause|resume|max-fps` against a listening API (fake
 * runner), through the CLI's own main().
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { daemonUrl } from '../../src/cli/daemon-api.ts';
import { renderRemote } from '../../src/cli/render-remote.ts';
import { specFromFlags } from '../../src/cli/render.ts';
import { main } from '../../src/cli.ts';
import { spawnCli, testConfigYaml, writeTempConfig } from '../helpers/daemon-process.ts';
import type { RenderGpuView } from '../../src/render/gpus.ts';
import type { RenderJobView } from '../../src/render/view.ts';
import { rendersApp } from './api-setup.ts';
import { fakeRunner, Gate } from './fake-runner.ts';
import { until } from './job-helpers.ts';

const apps: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
  for (const a of apps.splice(0)) await a.close();
});

async function gance(...args: string[]): Promise<{ out: string; err: string; code: number }> {
  let out = '';
  let err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((c) => ((out += String(c)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((c) => ((err += String(c)), true));
  process.exitCode = undefined;
  try {
    await main(['node', 'gance', ...args]);
  } finally {
    vi.restoreAllMocks();
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return { out, err, code };
}

describe('gance renders', () => {
  it('lists, shows and cancels the renders of a running daemon', async () => {
    const gate = new Gate();
    const s = await rendersApp(fakeRunner({ frames: 8, batch: 4, beforeBatch: gate.wait }));
    apps.push(s);
    const url = await s.app.listen({ host: '127.0.0.1', port: 0 });
    const post = async (path: string) => (await s.app.inject({ method: 'POST', url: '/v1/renders', payload: { audio: ['a.wav'], networks: ['demo-64'], output: { path } } })).json<RenderJobView>();
    const a = await post('a.mp4');
    const b = await post('b.mp4');
    await gate.arrived;

    // without --url: the address of the config's server section
    const port = new URL(url).port;
    const config = writeTempConfig(testConfigYaml().replace('port: 0', `port: ${port}`));
    const list = await gance('renders', 'list', '--config', config);
    expect(list.code).toBe(0);
    const rows = list.out.trim().split('\n');
    expect(rows[0]).toMatch(/^ID\s+STATE\s+STAGE\s+FRAMES/);
    expect(rows.slice(1).map((r) => r.split(/\s+/).slice(0, 3).join(' '))).toEqual([`${b.id} queued queued`, `${a.id} running analysing`]);

    const show = await gance('renders', 'show', a.id, '--url', url);
    expect(show.out).toMatch(new RegExp(`^id\\s+${a.id}$`, 'm'));
    expect(show.out).toMatch(/^state\s+running$/m);
    expect(JSON.parse((await gance('renders', 'show', a.id, '--url', url, '--json')).out)).toMatchObject({ id: a.id, state: 'running' });

    expect((await gance('renders', 'cancel', b.id, '--url', url)).out).toBe(`render ${b.id}: cancelled\n`);
    const again = await gance('renders', 'cancel', b.id, '--url', url);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(new RegExp(`DELETE /v1/renders/${b.id}: 409 render "${b.id}" is already cancelled`));
    const missing = await gance('renders', 'show', 'nope', '--url', url);
    expect(missing.err).toMatch(/GET \/v1\/renders\/nope: 404 no render "nope"/);

    gate.release();
    await until(s.scheduler, a.id, (j) => j.state === 'done');
    expect((await gance('renders', 'list', '--url', url, '--state', 'done')).out).toMatch(new RegExp(`^${a.id}\\s+done\\s+done\\s+8/8 \\(100%\\)`, 'm'));
    expect((await gance('renders', 'list', '--url', url, '--state', 'sleeping')).code).not.toBe(0);
  });

  it('pauses, resumes and limits the renders of a GPU, says when thermal yielding holds the change back, and sends the API token', async () => {
    const token = 'cli-test-token-0123456789abcdef0123456789';
    const s = await rendersApp(fakeRunner(), {}, { gpus: [0, 1], access: { token } });
    apps.push(s);
    const url = await s.app.listen({ host: '127.0.0.1', port: 0 });
    const gpus = async () => (await s.app.inject({ url: '/v1/renders/gpus', headers: { authorization: `Bearer ${token}` } })).json<{ gpus: RenderGpuView[] }>().gpus;
    const saved = { token: process.env.GANCE_TOKEN, file: process.env.GANCE_TOKEN_FILE };
    try {
      // without the token the daemon refuses the change, and the CLI says so
      process.env.GANCE_TOKEN = '';
      process.env.GANCE_TOKEN_FILE = join(s.root, 'no-token-here');
      const refused = await gance('renders', 'pause', '--gpu', '0', '--url', url);
      expect(refused.code).toBe(1);
      expect(refused.err).toMatch(/GANCE_TOKEN_FILE: cannot read/);
      delete process.env.GANCE_TOKEN_FILE;
      process.env.GANCE_TOKEN = 'not-the-token-but-long-enough-0123456789';
      // the daemon's words name its own config; the CLI says where it looked for a token
      expect((await gance('renders', 'pause', '--gpu', '0', '--url', url)).err).toMatch(/PATCH \/v1\/renders\/gpus\/0: 401 .*\(this command sends GANCE_TOKEN, else the file GANCE_TOKEN_FILE names, else \/etc\/gance\/token\)\n$/);
      process.env.GANCE_TOKEN = token;

      const list = await gance('renders', 'gpus', '--url', url);
      expect(list.out.trim().split('\n').map((l) => l.split(/\s+/).join(' '))).toEqual(['GPU STATE MAX FPS FROM OPERATOR YIELD REASON', '0 running - - - -', '1 running - - - -']);

      const paused = await gance('renders', 'pause', '--gpu', '1', '--reason', 'quiet hours', '--url', url);
      expect(paused.code, paused.err).toBe(0);
      expect(paused.out).toMatch(/^1\s+paused\s+-\s+-\s+paused\s+-\s+quiet hours$/m);
      expect((await gpus()).map((g) => g.paused)).toEqual([false, true]);

      // without --gpu: every GPU renders run on
      const limited = await gance('renders', 'max-fps', '12.5', '--url', url, '--json');
      expect(JSON.parse(limited.out).gpus.map((g: RenderGpuView) => [g.gpu, g.operator.maxFps])).toEqual([[0, 12.5], [1, 12.5]]);
      expect((await gpus()).map((g) => [g.paused, g.maxFps, g.maxFpsFrom])).toEqual([[false, 12.5, 'operator'], [true, 12.5, 'operator']]);

      // the daemon's bounds, with its reason; what is not a number never leaves the CLI (Infinity would go out as null)
      const zero = await gance('renders', 'max-fps', '0', '--gpu', '0', '--url', url);
      expect(zero.code).toBe(1);
      expect(zero.err).toBe('gance: PATCH /v1/renders/gpus/0: 400 body/maxFps must be > 0\n');
      for (const bad of ['Infinity', 'fast', '']) {
        const r = await gance('renders', 'max-fps', bad, '--url', url);
        expect(r.code, bad).not.toBe(0);
        expect(r.err, bad).toMatch(/FPS must be a number of frames per second or "none"/);
      }
      expect((await gance('renders', 'pause', '--gpu', '-1', '--url', url)).code).not.toBe(0);
      expect((await gance('renders', 'pause', '--gpu', '7', '--url', url)).err).toMatch(/404 no GPU 7: renders run on GPU 0, 1/);
      expect((await gpus()).map((g) => [g.paused, g.maxFps])).toEqual([[false, 12.5], [true, 12.5]]);

      // yielding pauses GPU 1: the operator's resume is kept, and the CLI says it waits for yielding
      s.scheduler.throttle.setYield(1, { paused: true, fps: null }, 'thermal yield');
      const resumed = await gance('renders', 'resume', '--url', url);
      expect(resumed.code).toBe(0);
      expect(resumed.err).toBe('note: GPU 1: thermal yielding pauses its renders; your settings apply once it lets go\n');
      expect((await gpus()).map((g) => [g.paused, g.operator.paused])).toEqual([[false, false], [true, false]]);
      s.scheduler.throttle.setYield(1, null);
      expect((await gance('renders', 'max-fps', 'none', '--url', url)).code).toBe(0);
      expect((await gpus()).map((g) => [g.paused, g.maxFps])).toEqual([[false, null], [false, null]]);
    } finally {
      for (const [k, v] of [['GANCE_TOKEN', saved.token], ['GANCE_TOKEN_FILE', saved.file]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it('pauses the renders of CPU workers (the embedded default): without --gpu, and with --gpu cpu', async () => {
    const s = await rendersApp(fakeRunner(), {}, { gpus: ['cpu'] });
    apps.push(s);
    const url = await s.app.listen({ host: '127.0.0.1', port: 0 });
    const paused = await gance('renders', 'pause', '--reason', 'the show starts', '--url', url);
    expect(paused.code, paused.err).toBe(0);
    expect(paused.out).toMatch(/^cpu\s+paused\s+-\s+-\s+paused\s+-\s+the show starts$/m);
    expect(s.scheduler.throttle.gpu('cpu').paused).toBe(true);
    const resumed = await gance('renders', 'resume', '--gpu', 'cpu', '--url', url);
    expect(resumed.code, resumed.err).toBe(0);
    expect(s.scheduler.throttle.gpu('cpu').paused).toBe(false);
    expect((await gance('renders', 'pause', '--gpu', 'gpu0', '--url', url)).err).toMatch(/--gpu must be a GPU index \(an integer >= 0\) or "cpu"/);
    expect((await gance('renders', 'pause', '--gpu', '0', '--url', url)).err).toMatch(/404 no GPU 0: renders run on "cpu" \(the workers without a gpu\) alone/);
  });

  it('warns and exits 4 when the daemon applied a change it could not save', async () => {
    const s = await rendersApp(fakeRunner(), {}, { gpus: [0], gpuSettings: { load: () => new Map(), save: async () => false } });
    apps.push(s);
    const url = await s.app.listen({ host: '127.0.0.1', port: 0 });
    const r = await gance('renders', 'pause', '--url', url);
    expect(r.code).toBe(4);
    expect(r.out).toMatch(/^0\s+paused/m);
    expect(r.err).toBe("warning: GPU 0: applied, but NOT saved in the daemon's state directory (see its log); a restart goes back to the last saved settings\n");
  });

  it("takes the daemon's address from the config's server section", () => {
    expect(daemonUrl({ server: { host: '127.0.0.1', port: 9840 } })).toBe('http://127.0.0.1:9840');
    expect(daemonUrl({ server: { host: '0.0.0.0', port: 1234 } })).toBe('http://127.0.0.1:1234');
    expect(daemonUrl({ server: { host: '::1', port: 80 } })).toBe('http://[::1]:80');
  });
});

describe('gance render --remote', () => {
  it('Ctrl-C cancels the render on the daemon and says so', { timeout: 60_000 }, async () => {
    const gate = new Gate();
    const s = await rendersApp(fakeRunner({ frames: 8, batch: 4, beforeBatch: gate.wait }));
    apps.push(s);
    const url = await s.app.listen({ host: '127.0.0.1', port: 0 });
    const audio = join(s.mediaRoot, 'a.wav');
    const cli = spawnCli(['render', audio, '--out', join(s.root, 'x.mp4'), '--network', 'demo-64', '--remote', url, '--no-progress']);
    const id = await new Promise<string>((resolve, reject) => {
      cli.child.stderr.on('data', () => {
        const m = /render ([0-9a-f]+) queued/.exec(cli.stderr);
        if (m) resolve(m[1]!);
      });
      cli.child.on('exit', () => reject(new Error(`exited early: ${cli.stderr}`)));
    });
    await gate.arrived;
    cli.child.kill('SIGINT');
    const { code } = await cli.exited;
    // as a local render stopped by Ctrl-C (README: cancelled, exit code 130)
    expect(code).toBe(130);
    // said at once, as a local render does: the daemon's answer may take a moment
    expect(cli.stderr).toMatch(/\nSIGINT: cancelling the render on the daemon \(again to quit at once\)\n/);
    expect(cli.stderr).toMatch(new RegExp(`render ${id} cancelled \\(cancelled\\): cancelled by request`));
    expect(s.queue.get(id)!.state).toBe('cancelled');
    expect(existsSync(join(s.root, 'x.mp4'))).toBe(false);
  });

  it('Ctrl-C during the upload cancels the render once the daemon has queued it, not after it rendered and downloaded it', { timeout: 60_000 }, async () => {
    // held at its first batch: it can only end by the cancel
    const gate = new Gate();
    const s = await rendersApp(fakeRunner({ frames: 8, batch: 4, beforeBatch: gate.wait }));
    apps.push(s);
    const url = await s.app.listen({ host: '127.0.0.1', port: 0 });
    const out = join(s.root, 'x.mp4');
    const abort = new AbortController();
    const queued: string[] = [];
    // the signal fires while the upload is on its way: before the daemon has given the render an id
    const { audio: _audio, output: { path: _path, ...output }, ...rest } = specFromFlags([], ['demo-64'], { out, config: 'the daemon\'s' });
    const done = renderRemote({ url, audio: [join(s.mediaRoot, 'a.wav')], spec: { ...rest, output }, out, signal: abort.signal, onQueued: (j) => queued.push(j.id) });
    abort.abort();
    await expect(done).rejects.toThrow(/cancelled/);
    expect(queued).toHaveLength(1);
    expect(s.queue.get(queued[0]!)!.state).toBe('cancelled');
    expect(existsSync(out)).toBe(false);
  });

  it('sends the API token with every call (upload, event stream, download) to a daemon whose reads need it', { timeout: 60_000 }, async () => {
    const token = 'remote-test-token-0123456789abcdef012345';
    const s = await rendersApp(fakeRunner({ frames: 8, batch: 4 }), {}, { access: { token, read: 'token' } });
    apps.push(s);
    const url = await s.app.listen({ host: '127.0.0.1', port: 0 });
    const out = join(s.root, 'x.mp4');
    const cli = spawnCli(['render', join(s.mediaRoot, 'a.wav'), '--out', out, '--network', 'demo-64', '--remote', url, '--no-progress'], { GANCE_TOKEN: token, GANCE_TOKEN_FILE: '' });
    const { code } = await cli.exited;
    expect(code, cli.stderr).toBe(0);
    const job = s.queue.list({ limit: 1 })[0]!;
    expect(job.state).toBe('done');
    expect(readFileSync(out).equals(readFileSync(job.output!))).toBe(true);
  });

  it('a file put at --out while the daemon rendered stays as it was; the download is kept beside it and named, exit 1', { timeout: 60_000 }, async () => {
    const gate = new Gate();
    const s = await rendersApp(fakeRunner({ frames: 8, batch: 4, beforeBatch: gate.wait }));
    apps.push(s);
    const url = await s.app.listen({ host: '127.0.0.1', port: 0 });
    const out = join(s.root, 'x.mp4');
    const cli = spawnCli(['render', join(s.mediaRoot, 'a.wav'), '--out', out, '--network', 'demo-64', '--remote', url, '--no-progress']);
    await gate.arrived;
    // free when the CLI checked it; someone writes it while the daemon renders
    writeFileSync(out, 'mine');
    gate.release();
    const { code } = await cli.exited;
    expect(code).toBe(1);
    expect(readFileSync(out, 'utf8')).toBe('mine');
    const kept = readdirSync(s.root).filter((n) => /^x\.kept-[0-9a-f]{8}\.mp4$/.test(n));
    expect(kept).toHaveLength(1);
    expect(cli.stderr).toContain(`--out ${out}: something was put there while the render ran; it was left as it is and the video was kept as ${join(s.root, kept[0]!)}`);
    const job = s.queue.list({ limit: 1 })[0]!;
    expect(job.state).toBe('done');
    expect(readFileSync(join(s.root, kept[0]!)).equals(readFileSync(job.output!))).toBe(true);
    expect(readdirSync(s.root).filter((n) => n.includes('.download-'))).toEqual([]);
  });

  it('says what synthesizes the render on the daemon, once, and a fallback as a warning, as a local render does', { timeout: 60_000 }, async () => {
    const p0 = {
      id: 'p0',
      engine: 'onnx' as const,
      provider: 'cpu',
      adapter: null,
      precision: null,
      precisionNote: null,
      fallback: [{ provider: 'webgpu', error: 'no adapter' }],
      binding: null,
    };
    const s = await rendersApp(fakeRunner({ frames: 8, batch: 4, synthesis: { workers: [p0], record: { workers: [{ ...p0, frames: 8 }], resumed: null, mixed: false } } }));
    apps.push(s);
    const url = await s.app.listen({ host: '127.0.0.1', port: 0 });
    const cli = spawnCli(['render', join(s.mediaRoot, 'a.wav'), '--out', join(s.root, 'x.mp4'), '--network', 'demo-64', '--remote', url, '--no-progress']);
    const { code } = await cli.exited;
    expect(code, cli.stderr).toBe(0);
    expect(cli.stderr.split('\n').filter((l) => l.startsWith('synthesis: ') || l.startsWith('warning: '))).toEqual([
      'synthesis: p0 onnx/cpu',
      'warning: synthesis worker p0: webgpu unavailable (no adapter); fell back to cpu',
    ]);
  });
});
