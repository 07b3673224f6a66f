/** `gance render`, the real command: the done-when render, a SIGKILLed render resumed, a bad input. */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import pino from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config/load.ts';
import { specFromFlags } from '../../src/cli/render.ts';
import { createLocalRenderer } from '../../src/render/local.ts';
import { runRender } from '../../src/render/run.ts';
import { CLI, REPO } from '../helpers/daemon-process.ts';
import { addInto, clicks, interleave, tempDir, tone, writeWav } from '../audio/wav.ts';
import { decodeAudio, frameMd5s, probeStream } from './helpers.ts';
import { fellBackLine, fellBackWorker } from '../helpers/synthesis-fallback.ts';

const gance = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { cwd: REPO, encoding: 'utf8' });

/** Best normalised correlation of `b` against `a` over lags 0..maxLag (b delayed). */
function bestLag(a: Float32Array, b: Float32Array, maxLag: number): { lag: number; r: number } {
  let best = { lag: 0, r: -1 };
  const n = a.length;
  for (let lag = 0; lag <= maxLag; lag++) {
    let ab = 0;
    let aa = 0;
    let bb = 0;
    for (let i = 0; i < n && i + lag < b.length; i++) {
      ab += a[i]! * b[i + lag]!;
      aa += a[i]! * a[i]!;
      bb += b[i + lag]! * b[i + lag]!;
    }
    const r = ab / Math.sqrt(aa * bb);
    if (r > best.r) best = { lag, r };
  }
  return best;
}

describe('gance render', () => {
  let dir: string;
  let config: string;
  beforeAll(() => {
    dir = tempDir('gance-render-cli-');
    // one intra-op thread and analysis on the main thread: the same numbers in every process here
    config = join(dir, 'gance.yaml');
    writeFileSync(
      config,
      `cooler:\n  driver: simulated\n  fans: [{ id: a, channel: 0 }]\nthermal:\n  zones:\n    - { id: z0, gpus: [0], fans: [a], pid: { setpoint: 70 } }\nsynthesis:\n  workers: [{ id: cpu0, providers: [cpu], intraOpThreads: 1 }]\n  latents: { analysisThreads: 1 }\n`,
    );
  });

  it('renders a 10 s tone at 24 fps: 240 frames, and the audio stream is the input', { timeout: 180_000 }, () => {
    const rate = 44100;
    const left = addInto(tone(rate, 10, [220, 330], 0.2), clicks(rate, 10, 0.5));
    const right = tone(rate, 10, [440, 550], 0.2);
    const song = join(dir, 'tone.wav');
    writeWav(song, rate, 2, interleave(left, right));
    const out = join(dir, 'tone.mp4');
    const r = gance('render', song, '--network', 'demo-64', '--fps', '24', '--out', out);
    // which worker renders, on what: said once at the start, whatever the log level
    expect(r.stderr).toBe('synthesis: cpu0 onnx/cpu\n');
    expect(r.status).toBe(0);
    // stdout is a pipe here: plain progress lines, then what was written
    expect(r.stdout).toMatch(/^analysing\nrendering 0\/240 frames\n/);
    expect(r.stdout).toMatch(new RegExp(`wrote ${out} \\(240 frames at 24 fps in [0-9.]+ s\\) and ${join(dir, 'tone.run.json')}\\n$`));

    const video = probeStream(out, 'v');
    expect(video).toMatchObject({ codec_name: 'h264', nb_read_frames: '240', width: '64', height: '64', pix_fmt: 'yuv420p', r_frame_rate: '24/1' });
    const audio = probeStream(out, 'a');
    expect(audio).toMatchObject({ codec_name: 'aac', sample_rate: '44100', channels: '2' });

    // the decoded audio is the input, delayed by the encoder's priming and padded to a whole AAC frame
    const input = decodeAudio(song);
    const decoded = decodeAudio(out);
    const { lag, r: corr } = bestLag(input.subarray(0, rate), decoded, 4096);
    expect(corr).toBeGreaterThan(0.99);
    expect(decoded.length - lag - input.length).toBeGreaterThanOrEqual(0);
    expect(decoded.length - lag - input.length).toBeLessThan(1024);
    const whole = bestLag(input, decoded.subarray(lag), 0);
    expect(whole.r).toBeGreaterThan(0.99);

    const run = JSON.parse(readFileSync(join(dir, 'tone.run.json'), 'utf8')) as Record<string, unknown> & { spec: { audio: string[] }; encode: { segmentArgs: string[]; muxArgs: string[] } };
    expect(run.spec.audio).toEqual([song]);
    expect(run.frames).toBe(240);
    expect(run.ffmpeg).toMatch(/^ffmpeg version /);
    expect(run.encode.segmentArgs).toEqual(expect.arrayContaining(['libx264', '-crf', '18', '-bf', '2', '-use_editlist', '0', '-threads', '4']));
    expect(run.encode.muxArgs).toEqual(expect.arrayContaining(['+faststart', '-c:v', 'copy']));
    // what made the frames: the embedded config's one CPU worker, every frame
    expect(run.synthesis).toEqual({
      workers: [{ id: 'cpu0', engine: 'onnx', provider: 'cpu', adapter: null, precision: 'f32', precisionNote: null, fallback: [], binding: null, frames: 240 }],
      resumed: null,
      mixed: false,
    });
    expect(readdirSync(dir).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('a worker asked for [webgpu, cpu] whose WebGPU cannot open renders on the CPU and says so: a warning naming the reason, the fallback in the run config', { timeout: 120_000 }, () => {
    const cfg = join(dir, 'fallback.yaml');
    // a device-select variable that names no GPU: the worker refuses WebGPU (as on a rig whose GPU is gone) and falls back
    writeFileSync(
      cfg,
      `cooler:\n  driver: simulated\n  fans: [{ id: a, channel: 0 }]\nthermal:\n  zones:\n    - { id: z0, gpus: [0], fans: [a], pid: { setpoint: 70 } }\nsynthesis:\n  workers: [{ id: p0, providers: [webgpu, cpu], intraOpThreads: 1, env: { MESA_VK_DEVICE_SELECT: 'ffff:ffff' } }]\n  latents: { analysisThreads: 1 }\n`,
    );
    const song = join(dir, 'fallback.wav');
    writeWav(song, 22050, 1, addInto(tone(22050, 2, [330], 0.2), clicks(22050, 2, 0.5)));
    const out = join(dir, 'fallback.mp4');
    const r = gance('render', song, '--fps', '12', '--preset', 'ultrafast', '--no-progress', '--out', out, '--config', cfg);
    expect(r.status, r.stderr).toBe(0);
    // the daemon's own warning (JSON, for its log) is there too; the plain lines are for the user
    const plain = r.stderr.split('\n').filter((l) => !l.startsWith('{'));
    expect(plain).toEqual([
      'synthesis: p0 onnx/cpu',
      expect.stringMatching(fellBackLine('p0', 'warning: ')),
      '',
    ]);
    const run = JSON.parse(readFileSync(join(dir, 'fallback.run.json'), 'utf8')) as { synthesis: unknown };
    expect(run.synthesis).toEqual({
      workers: [
        { ...fellBackWorker('p0'), frames: 24 },
      ],
      resumed: null,
      mixed: false,
    });
  });

  it('a render killed with SIGKILL (3 segments encoding at once) resumes from its work folder: the frames of an uninterrupted render encoded one segment at a time', { timeout: 240_000 }, async () => {
    const song = join(dir, 'long.wav');
    writeWav(song, 22050, 1, addInto(tone(22050, 8, [220, 277], 0.2), clicks(22050, 8, 0.3)));
    const out = join(dir, 'killed.mp4');
    const work = join(dir, 'work');
    const args = ['render', song, '--out', out, '--fps', '24', '--size', '256', '--segment-frames', '16', '--encode-parallel', '3', '--work-dir', work, '--config', config, '--no-progress'];
    const child = spawn(process.execPath, [CLI, ...args], { cwd: REPO, stdio: 'ignore' });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    let ended = false;
    void exited.then(() => (ended = true));
    // kill it once the first two segments are complete (they finish in any order), while others are being encoded
    while (!ended && !(existsSync(join(work, 'segment-000000.mp4')) && existsSync(join(work, 'segment-000001.mp4')))) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGKILL');
    expect(await exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(existsSync(out)).toBe(false);

    const again = gance(...args);
    expect(again.stderr).toBe('synthesis: cpu0 onnx/cpu\n');
    expect(again.status).toBe(0);
    const resumed = /192 frames at 24 fps, (\d+) of them from /.exec(again.stdout);
    expect(resumed).not.toBeNull();
    const from = Number(resumed![1]);
    expect(from).toBeGreaterThanOrEqual(32);
    expect(from % 16).toBe(0);
    expect(probeStream(out, 'v').nb_read_frames).toBe('192');
    expect(existsSync(work)).toBe(false);
    // the killed run's segments kept what made them in the work folder: the run config says it too
    const cpu0 = { id: 'cpu0', engine: 'onnx', provider: 'cpu', adapter: null, precision: 'f32', precisionNote: null, fallback: [], binding: null };
    expect((JSON.parse(readFileSync(join(dir, 'killed.run.json'), 'utf8')) as { synthesis: unknown }).synthesis).toEqual({
      workers: [{ ...cpu0, frames: 192 - from }],
      resumed: { frames: from, workers: [{ ...cpu0, frames: from }] },
      mixed: false,
    });

    // the same render uninterrupted, in this process, on the same config
    const local = createLocalRenderer({ config: loadConfigFile(config), log: pino({ level: 'silent' }) });
    try {
      const ref = join(dir, 'reference.mp4');
      const flags = { out: ref, config, fps: 24, size: 256 };
      await runRender(specFromFlags([song], ['demo-64'], flags), local.deps, { workDir: join(dir, 'work-ref'), segmentFrames: 16, encodeParallel: 1 });
      const want = frameMd5s(ref);
      expect(want).toHaveLength(192);
      expect(frameMd5s(out)).toEqual(want);
    } finally {
      await local.close();
    }
  });

  it('Ctrl-C (SIGINT) cancels: exit 130 with the reason, no output, the complete segments kept to resume', { timeout: 120_000 }, async () => {
    const song = join(dir, 'interrupted.wav');
    writeWav(song, 22050, 1, addInto(tone(22050, 8, [220, 277], 0.2), clicks(22050, 8, 0.3)));
    const out = join(dir, 'interrupted.mp4');
    const work = join(dir, 'work-int');
    const child = spawn(process.execPath, [CLI, 'render', song, '--out', out, '--size', '256', '--fps', '24', '--segment-frames', '16', '--work-dir', work, '--config', config], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.stdout.resume();
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    let ended = false;
    void exited.then(() => (ended = true));
    while (!ended && !existsSync(join(work, 'segment-000000.mp4'))) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGINT');
    expect(await exited).toEqual({ code: 130, signal: null });
    expect(stderr).toMatch(/SIGINT: cancelling the render/);
    expect(stderr).toMatch(new RegExp(`gance: render failed \\(cancelled\\): .*\\(complete segments kept in ${work}: run the same command again to resume\\)\\n$`));
    // said once, by the CLI: not again as a JSON log line
    expect(stderr).not.toMatch(/^\{"level"/m);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).filter((n) => n.startsWith('.interrupted') || n.startsWith('interrupted.run'))).toEqual([]);
    const kept = readdirSync(work);
    expect(kept).toContain('segment-000000.mp4');
    expect(kept.filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('--debug FILE: a second mp4 with the same frames and the audio, named in the last line', { timeout: 120_000 }, () => {
    const song = join(dir, 'debug-song.wav');
    writeWav(song, 22050, 1, addInto(tone(22050, 2, [330], 0.2), clicks(22050, 2, 0.5)));
    const out = join(dir, 'with-debug.mp4');
    const debug = join(dir, 'with-debug.debug.mp4');
    const r = gance('render', song, '--fps', '12', '--preset', 'ultrafast', '--out', out, '--debug', debug, '--config', config);
    expect(r.stderr).toBe('synthesis: cpu0 onnx/cpu\n');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/\ndebug 0\/24 frames\n/);
    expect(r.stdout).toMatch(new RegExp(`wrote ${out} \\(24 frames at 12 fps in [0-9.]+ s\\), the debug video ${debug} and `));
    expect(probeStream(out, 'v').nb_read_frames).toBe('24');
    expect(probeStream(debug, 'v')).toMatchObject({ nb_read_frames: '24', height: '540' });
    expect(probeStream(debug, 'a')).toMatchObject({ codec_name: 'aac' });
    const frames = frameMd5s(debug);
    expect(new Set(frames).size).toBe(24);
  });

  describe('bad input is refused before the workers start: one line on stderr, nothing on stdout, nothing left', () => {
    const cases: Array<[string, (song: string, out: string) => string[], RegExp]> = [
      ['audio that is not audio', (_song, out) => [join(dir, 'not-audio.wav'), '--out', out], /^gance: render failed \(bad-input\): .*not-audio\.wav: not a readable audio file/],
      ['silent audio', (_song, out) => [join(dir, 'silent.wav'), '--out', out], /^gance: render failed \(bad-input\): audio is silent: .*silent\.wav has only zero samples \(below -90\.3 dBFS, one 16-bit step\): nothing for the video to react to$/m],
      ['a missing audio file', (_song, out) => [join(dir, 'no-such.wav'), '--out', out], /^gance: render failed \(bad-input\): .*no-such\.wav/],
      ['an unknown network', (song, out) => [song, '--network', 'no-such-net', '--out', out], /^gance: render failed \(bad-input\): network "no-such-net": no such network/],
      ['an output folder that does not exist', (song) => [song, '--out', join(dir, 'nowhere', 'x.mp4')], /^gance: --out .*nowhere.*x\.mp4: cannot write: folder .*nowhere does not exist or is not writable$/m],
      // named by the option, not as the spec's "output"
      ['an --out that is a folder', (song) => [song, '--out', join(dir, 'a-folder.mp4')], /^gance: render failed \(bad-input\): --out .*a-folder\.mp4: is a folder$/m],
      ['a --debug that is a folder', (song, out) => [song, '--out', out, '--debug', join(dir, 'a-folder.mp4')], /^gance: render failed \(bad-input\): --debug .*a-folder\.mp4: is a folder$/m],
      ['a debug video in a folder that does not exist', (song, out) => [song, '--out', out, '--debug', join(dir, 'nowhere', 'd.mp4')], /^gance: render failed \(bad-input\): --debug .*nowhere.*does not exist/],
      // named by the options, not as the spec's output.debugPath; --force or not
      ['a debug video that is the output', (song, out) => [song, '--out', out, '--debug', out], /^gance: --debug .*refused-[^ ]*\.mp4: is the same file as --out; give the debug video a name of its own$/m],
      ['a debug video that is the output, with --force', (song, out) => [song, '--out', out, '--debug', out, '--force'], /^gance: --debug .*refused-[^ ]*\.mp4: is the same file as --out; give the debug video a name of its own$/m],
      ['a debug video that is the output by another name', (song, out) => [song, '--out', out, '--debug', `${dir}/./x/../${basename(out)}`], /^gance: --debug .*refused-[^ ]*\.mp4: is the same file as --out; give the debug video a name of its own$/m],
      ['--debug with --remote', (song, out) => [song, '--out', out, '--debug', join(dir, 'd.mp4'), '--remote', 'http://127.0.0.1:9', '--network', 'demo-64'], /--debug: with --remote/],
      ['--mode projection-file-blend without --projection', (song, out) => [song, '--mode', 'projection-file-blend', '--out', out], /^gance: --mode projection-file-blend needs --projection FILE\.h5 /],
      ['an --out that is not .mp4', (song) => [song, '--out', join(dir, 'refused-x.exe')], /^gance: --out .*refused-x\.exe: the extension "\.exe" is not one the render writes; an mp4 render's file is \.mp4$/m],
      ['a --debug that is not .mp4', (song, out) => [song, '--out', out, '--debug', join(dir, 'refused-d.mkv')], /^gance: --debug .*refused-d\.mkv: the extension "\.mkv" is not one/],
      ['an --out that is not .mp4, with --remote', (song) => [song, '--out', join(dir, 'refused-r.exe'), '--remote', 'http://127.0.0.1:9', '--network', 'demo-64'], /^gance: --out .*refused-r\.exe: the extension "\.exe"/],
      // checked here, before the upload: not after the daemon has rendered it, nor as "Unable to open file as blob"
      ['--remote with a missing audio file', (_song, out) => [join(dir, 'no-such.wav'), '--out', out, '--remote', 'http://127.0.0.1:9', '--network', 'demo-64'], /^gance: .*no-such\.wav: cannot read it \(no such file\)$/m],
      ['--remote with an --out folder that does not exist', (song) => [song, '--out', join(dir, 'nowhere', 'x.mp4'), '--remote', 'http://127.0.0.1:9', '--network', 'demo-64'], /^gance: --out .*nowhere.*x\.mp4: cannot write: folder .*nowhere does not exist or is not writable$/m],
      ['--remote that is not an address', (song, out) => [song, '--out', out, '--remote', '127.0.0.1:9840', '--network', 'demo-64'], /--remote must be the daemon's http:\/\/ or https:\/\/ address, e\.g\. http:\/\/127\.0\.0\.1:9840, got "127\.0\.0\.1:9840"/],
      ['--remote where no daemon listens', (song, out) => [song, '--out', out, '--remote', 'http://127.0.0.1:9', '--network', 'demo-64'], /^gance: cannot reach the daemon at http:\/\/127\.0\.0\.1:9 \(.*\); is it running\? \(--remote\)$/m],
      ['--debug with --still', (_song, out) => ['--still', '1', '--out', out, '--debug', join(dir, 'd.mp4')], /--still: --debug is for video renders/],
    ];
    for (const [what, args, message] of cases) {
      it(what, { timeout: 60_000 }, () => {
        mkdirSync(join(dir, 'a-folder.mp4'), { recursive: true });
        const song = join(dir, 'refused.wav');
        writeWav(song, 22050, 1, tone(22050, 1, [330]));
        writeFileSync(join(dir, 'not-audio.wav'), 'this is not a wave file');
        writeWav(join(dir, 'silent.wav'), 22050, 1, new Int16Array(22050));
        const out = join(dir, `refused-${what.replace(/\W+/g, '-')}.mp4`);
        const r = gance('render', ...args(song, out), '--config', config);
        expect(r.status).toBe(1);
        expect(r.stderr).toMatch(/^[^\n]+\n$/);
        expect(r.stderr).toMatch(message);
        // no progress line: the render never started (the workers start after these checks)
        expect(r.stdout).toBe('');
        expect(readdirSync(dir).filter((n) => n.includes('refused-') || n.startsWith('d.mp4'))).toEqual([]);
      });
    }
  });

  it('refuses to overwrite an existing --out or --debug file (one line, the file untouched) unless --force, which renders over it', { timeout: 120_000 }, () => {
    const song = join(dir, 'over.wav');
    writeWav(song, 22050, 1, tone(22050, 1, [330]));
    const out = join(dir, 'precious.mp4');
    const debug = join(dir, 'precious.debug.mp4');
    writeFileSync(out, 'somebody\'s video');
    const refusals: Array<[string[], RegExp]> = [
      [[song, '--out', out], /^gance: --out .*precious\.mp4: already exists \(--force to overwrite it\)\n$/],
      [[song, '--out', out, '--remote', 'http://127.0.0.1:9', '--network', 'demo-64'], /^gance: --out .*precious\.mp4: already exists \(--force to overwrite it\)\n$/],
    ];
    for (const [args, message] of refusals) {
      const r = gance('render', ...args, '--config', config);
      expect({ args, status: r.status }).toEqual({ args, status: 1 });
      expect(r.stderr).toMatch(message);
      expect(r.stdout).toBe('');
      expect(readFileSync(out, 'utf8')).toBe('somebody\'s video');
    }
    writeFileSync(debug, 'somebody\'s debug video');
    const fresh = join(dir, 'fresh.mp4');
    const r = gance('render', song, '--out', fresh, '--debug', debug, '--config', config);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^gance: --debug .*precious\.debug\.mp4: already exists \(--force to overwrite it\)\n$/);
    expect(existsSync(fresh)).toBe(false);
    expect(readFileSync(debug, 'utf8')).toBe('somebody\'s debug video');

    // the run config written beside the output is not replaced at the end either: refused now, not after the render
    const orphanJson = join(dir, 'orphan.run.json');
    writeFileSync(orphanJson, 'somebody\'s notes');
    const orphan = gance('render', song, '--out', join(dir, 'orphan.mp4'), '--config', config);
    expect(orphan.status).toBe(1);
    expect(orphan.stderr).toMatch(/^gance: --out .*orphan\.mp4: its run config .*orphan\.run\.json already exists \(--force to overwrite it\)\n$/);
    expect(readFileSync(orphanJson, 'utf8')).toBe('somebody\'s notes');

    const forced = gance('render', song, '--out', out, '--fps', '12', '--force', '--no-progress', '--config', config);
    expect(forced.stderr).toBe('synthesis: cpu0 onnx/cpu\n');
    expect(forced.status).toBe(0);
    expect(probeStream(out, 'v').nb_read_frames).toBe('12');
  });

  it('audio too short for the analysis (5 ms) fails as bad-input naming the file, not as an internal error', { timeout: 120_000 }, () => {
    const tiny = join(dir, 'tiny.wav');
    writeWav(tiny, 44100, 1, tone(44100, 0.005, [440]));
    const out = join(dir, 'tiny.mp4');
    const r = gance('render', tiny, '--out', out, '--no-progress', '--config', config);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^gance: render failed \(bad-input\): .*tiny\.wav: the track gives \d video frames; GANce's smoothing needs at least 7\n$/);
    expect(readdirSync(dir).filter((n) => n.startsWith('tiny.') || n.startsWith('.tiny'))).toEqual(['tiny.wav']);
  });

  it('refuses a config whose latents ranges are given as [hi, lo], naming the field, before anything starts', { timeout: 60_000 }, () => {
    const song = join(dir, 'short.wav');
    writeWav(song, 22050, 1, tone(22050, 1, [330]));
    const reversed = join(dir, 'reversed.yaml');
    writeFileSync(reversed, readFileSync(config, 'utf8').replace('latents: { analysisThreads: 1 }', 'latents: { analysisThreads: 1, fftAmplitudeRange: [5, -5] }'));
    const r = gance('render', song, '--out', join(dir, 'reversed.mp4'), '--config', reversed);
    // a config error, as gance config check says it
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/synthesis\.latents\.fftAmplitudeRange: must be \[min, max\] with min <= max, got \[5, -5\]/);
    expect(r.stdout).toBe('');
    expect(existsSync(join(dir, 'reversed.mp4'))).toBe(false);
  });

  it('refuses an unknown network with one line naming it, and leaves nothing', { timeout: 120_000 }, () => {
    const song = join(dir, 'short.wav');
    writeWav(song, 22050, 1, tone(22050, 1, [330]));
    const out = join(dir, 'never.mp4');
    const r = gance('render', song, '--network', 'no-such-net', '--out', out, '--config', config);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^gance: render failed \(bad-input\): network "no-such-net": no such network \(known: demo-64\)\n$/);
    expect(readdirSync(dir).filter((n) => n.startsWith('never') || n.startsWith('.never'))).toEqual([]);
  });
});
