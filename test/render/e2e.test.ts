/**
 * The real pipeline (render-core's runRender) in a real daemon process: a render submitted over
 * HTTP makes the same frames as the in-process `gance render`, and a daemon SIGKILLed half-way
 * through a render finishes it after a restart with the same frames as an uninterrupted one.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sseEvents } from '../../src/cli/daemon-api.ts';
import type { RenderJobView } from '../../src/render/view.ts';
import { addInto, clicks, tone, writeWav } from '../audio/wav.ts';
import { spawnCli, testConfigYaml, writeTempConfig, type DaemonProcess } from '../helpers/daemon-process.ts';
import { tempDir } from './job-helpers.ts';

const FPS = 24;
const SECONDS = 8;
const FRAMES = FPS * SECONDS;
const SEGMENT = 24;
// the same render everywhere: what the CLI flags say, the API body says
const cliFlags = ['--network', 'demo-64', '--fps', String(FPS), '--preset', 'ultrafast', '--no-progress'];
const apiSpec = { networks: ['demo-64'], latents: { fps: FPS }, output: { preset: 'ultrafast' } };

/** Decoded video frames, one md5 per frame (the header and timestamps are left out). */
function frameMd5s(file: string): string[] {
  const out = execFileSync('ffmpeg', ['-v', 'error', '-i', file, '-map', '0:v', '-f', 'framemd5', '-'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return out
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(',').at(-1)!.trim());
}

async function run(p: DaemonProcess): Promise<string> {
  const { code, signal } = await p.exited;
  const out = p.lines.map((l) => l.msg).join('\n');
  if (code !== 0) throw new Error(`exit ${code ?? signal}: ${p.stderr}\n${out}`);
  return out;
}

let root: string;
let media: string;
let reference: string[];
const daemons: DaemonProcess[] = [];

function startDaemon(stateDir: string): DaemonProcess {
  const yaml = testConfigYaml(`render: { mediaRoot: ${media}, outputRoot: ${join(root, 'renders')}, segmentFrames: ${SEGMENT}, encodeParallel: 2, progressIntervalMs: 0 }\n`).replace(/stateDir: .*/, `stateDir: ${stateDir}`);
  const d = spawnCli(['daemon', '--config', writeTempConfig(yaml)]);
  daemons.push(d);
  return d;
}

/** Its address once it listens: a daemon loading its modules on a busy 2-core machine takes a while. */
async function addressOf(d: DaemonProcess): Promise<string> {
  return (await d.waitFor((l) => typeof l.address === 'string', 90_000)).address as string;
}

async function stopDaemon(d: DaemonProcess): Promise<void> {
  if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill('SIGTERM');
  await d.exited;
}

/** Follows a render's events; `until` sees each one and may end the wait early. */
async function follow(base: string, id: string, until: (j: RenderJobView, event: string) => boolean): Promise<RenderJobView[]> {
  const res = await fetch(`${base}/v1/renders/${id}/events`);
  expect(res.status).toBe(200);
  const seen: RenderJobView[] = [];
  for await (const e of sseEvents(res.body!)) {
    const job = JSON.parse(e.data) as RenderJobView;
    seen.push(job);
    if (until(job, e.event) || e.event === 'end') break;
  }
  await res.body!.cancel().catch(() => {});
  return seen;
}

beforeAll(async () => {
  root = tempDir('gance-e2e-');
  media = join(root, 'media');
  mkdirSync(media);
  writeWav(join(media, 'track.wav'), 22050, 1, addInto(clicks(22050, SECONDS, 0.25), tone(22050, SECONDS, [220, 330], 0.2)));
  // the uninterrupted, in-process render every daemon render is compared with
  const local = join(root, 'local.mp4');
  // one segment at a time; the daemons encode two at once (render.encodeParallel): the same frames either way
  await run(spawnCli(['render', join(media, 'track.wav'), '--out', local, '--segment-frames', String(SEGMENT), '--encode-parallel', '1', ...cliFlags]));
  reference = frameMd5s(local);
}, 120_000);

afterAll(async () => {
  for (const d of daemons) await stopDaemon(d);
});

describe('renders in a daemon process with the real pipeline', () => {
  it('a render submitted over HTTP (gance render --remote) shows its progress and makes the same frames as the in-process CLI', { timeout: 180_000 }, async () => {
    expect(reference).toHaveLength(FRAMES);
    const d = startDaemon(join(root, 'state-http'));
    const base = await addressOf(d);
    const out = join(root, 'remote.mp4');
    const cli = spawnCli(['render', join(media, 'track.wav'), '--out', out, '--remote', base, ...cliFlags.filter((f) => f !== '--no-progress')]);
    let stdout = '';
    cli.child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    const queued = await new Promise<string>((resolve, reject) => {
      cli.child.stderr.on('data', () => {
        const m = /render ([0-9a-f]+) queued/.exec(cli.stderr);
        if (m) resolve(m[1]!);
      });
      cli.child.on('exit', () => reject(new Error(`remote render exited early: ${cli.stderr}`)));
    });
    // its progress is visible to anyone while it runs
    const events = await follow(base, queued, () => false);
    const { code } = await cli.exited;
    expect({ code, stderr: cli.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    const rendering = events.filter((e) => e.stage === 'rendering');
    expect(rendering.length).toBeGreaterThan(1);
    expect(rendering.at(-1)!.framesDone).toBeGreaterThan(rendering[0]!.framesDone);
    expect(rendering.every((e) => e.framesTotal === FRAMES)).toBe(true);
    expect(events.at(-1)).toMatchObject({ state: 'done', framesDone: FRAMES });
    expect(stdout).toMatch(/^rendering \d+\/192 frames/m);
    expect(stdout).toContain(`wrote ${out} (${FRAMES} frames, render ${queued}`);
    expect(frameMd5s(out)).toEqual(reference);
    const list = execFileSync(process.execPath, ['bin/gance.js', 'renders', 'list', '--url', base], { encoding: 'utf8' });
    expect(list).toMatch(new RegExp(`^${queued}\\s+done\\s+done\\s+192/192 \\(100%\\)`, 'm'));

    // silent audio is refused at the door (not queued to fail in the analysis); the daemon renders on
    writeWav(join(media, 'silence.wav'), 22050, 1, new Int16Array(22050));
    const silent = await fetch(`${base}/v1/renders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...apiSpec, audio: ['silence.wav'] }) });
    expect(silent.status).toBe(422);
    expect(((await silent.json()) as { message: string }).message).toMatch(/^body\/audio\/0: audio is silent: "silence.wav" has only zero samples/);
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    await stopDaemon(d);
  });

  it('a daemon SIGKILLed half-way through a render finishes it after a restart: same frame count, same frames', { timeout: 180_000 }, async () => {
    const stateDir = join(root, 'state-kill');
    const first = startDaemon(stateDir);
    const base1 = await addressOf(first);
    const res = await fetch(`${base1}/v1/renders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...apiSpec, audio: ['track.wav'] }) });
    expect(res.status).toBe(202);
    const job = (await res.json()) as RenderJobView;
    // past the middle: several segments are complete, the render is not
    const seen = await follow(base1, job.id, (j) => j.framesDone >= FRAMES / 2 + SEGMENT);
    expect(seen.at(-1)!.state).toBe('running');
    first.child.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');

    const second = startDaemon(stateDir);
    const base2 = await addressOf(second);
    const after = await follow(base2, job.id, () => false);
    const done = after.at(-1)!;
    expect(done).toMatchObject({ id: job.id, state: 'done', framesDone: FRAMES, framesTotal: FRAMES, attempts: 2 });
    // the API names the output under the output root; the log, the operator's, names it whole
    expect(done.output).toBe(`${job.id}.mp4`);
    const line = await second.waitFor((l) => l.msg === `render ${job.id} done: ${join(root, 'renders', done.output!)}`, 60_000);
    // it continued from the segments the killed daemon had finished
    expect(line.resumedFrames).toBeGreaterThanOrEqual(SEGMENT);
    expect(line.resumedFrames).toBeLessThan(FRAMES);
    // from the restart on it never shows fewer frames than its checkpoint, the analysis included
    expect(after.filter((e) => e.framesDone < Number(line.resumedFrames))).toEqual([]);
    expect(frameMd5s(join(root, 'renders', done.output!))).toEqual(reference);
    const download = Buffer.from(await (await fetch(`${base2}${done.outputUrl}`)).arrayBuffer());
    expect(download.length).toBeGreaterThan(1000);
    await stopDaemon(second);
  });

  it('a daemon stopped (SIGTERM) during a render pauses it and the next start finishes it with the same frames', { timeout: 180_000 }, async () => {
    const stateDir = join(root, 'state-term');
    const first = startDaemon(stateDir);
    const base1 = await addressOf(first);
    const res = await fetch(`${base1}/v1/renders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...apiSpec, audio: ['track.wav'] }) });
    const job = (await res.json()) as RenderJobView;
    await follow(base1, job.id, (j) => j.framesDone >= FRAMES / 3);
    first.child.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);
    expect(first.lines.some((l) => l.msg === `render ${job.id} paused by the stop; it resumes at the next start`)).toBe(true);

    const second = startDaemon(stateDir);
    const base2 = await addressOf(second);
    const done = (await follow(base2, job.id, () => false)).at(-1)!;
    expect(done).toMatchObject({ state: 'done', framesDone: FRAMES, attempts: 2 });
    expect(frameMd5s(join(root, 'renders', done.output!))).toEqual(reference);
    await stopDaemon(second);
  });
});
