/**
 * The daemon's working children (synthesis worker processes, the render's and the live session's
 * ffmpegs) end when the daemon decides, as its sensor child does (sensor-child.test.ts). Ctrl-C at
 * a terminal signals the whole foreground process group: a child in the daemon's group died of it
 * at once, before the orderly stop, and a live recording or a render in progress ended by accident
 * instead of being finished or paused. Killed outright, the daemon must still take them along:
 * each goes when its pipes to the daemon close.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnCli, testConfigYaml, writeTempConfig, type DaemonProcess } from '../helpers/daemon-process.ts';
import { api, tempDir, toneWav } from '../live/helpers.ts';

const PROCESS_TEST = { timeout: 180_000 };

/** a zombie counts as gone: the dead daemon's children are reaped by whoever inherits them, whenever it gets to it */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    /* gone already */
  }
}

/** The live processes whose parent is `ppid`, with their command lines (the daemon's children, read from /proc). */
function childrenOf(ppid: number): Array<{ pid: number; cmd: string }> {
  const out: Array<{ pid: number; cmd: string }> = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) !== ppid || fields[0] === 'Z') continue;
      out.push({ pid: Number(name), cmd: readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' ').trim() });
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

const daemons: DaemonProcess[] = [];
const strays: Array<{ pid: number; cmd: string }> = [];
afterEach(() => {
  for (const d of daemons.splice(0)) killQuietly(-d.child.pid!, 'SIGKILL');
  // children outside the daemon's group, should a test have failed before they went (still the same process)
  for (const c of strays.splice(0)) {
    try {
      if (readFileSync(`/proc/${c.pid}/cmdline`, 'utf8').split('\0').join(' ').trim() === c.cmd) killQuietly(c.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
});

interface Started {
  d: DaemonProcess;
  base: string;
  media: string;
  out: string;
}

/**
 * A daemon leading its own process group (a shell's foreground job) with a synthesis worker in a
 * process of its own, once it is ready. The render's segments are short, so a render stopped after
 * a few frames has complete ones to resume from.
 */
async function startDaemon(): Promise<Started> {
  const root = tempDir();
  const media = join(root, 'media');
  const out = join(root, 'out');
  mkdirSync(media);
  mkdirSync(out);
  toneWav(media, 4);
  // the render's: long enough (120 frames) not to end before the signal on a slow machine
  mkdirSync(join(media, 'long'));
  toneWav(join(media, 'long'), 10);
  const yaml = testConfigYaml(
    `synthesis:\n  workers: [{ id: cpu0, providers: [cpu], isolation: process, intraOpThreads: 1 }]\n  latents: { analysisThreads: 1 }\n` +
      `render: { mediaRoot: ${media}, outputRoot: ${out}, segmentFrames: 8, progressIntervalMs: 0 }\n`,
  );
  const d = spawnCli(['daemon', '--config', writeTempConfig(yaml)], {}, { detached: true });
  daemons.push(d);
  const base = await d.address();
  await until(async () => (await fetch(`${base}/readyz`)).status === 200, 90_000, 'the daemon ready');
  return { d, base, media, out };
}

async function until(pred: () => boolean | Promise<boolean>, withinMs: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!(await pred())) {
    if (Date.now() - t0 > withinMs) throw new Error(`not seen within ${withinMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const isFfmpeg = (c: { cmd: string }) => /(^|\/)ffmpeg /.test(c.cmd);
const isWorker = (c: { cmd: string }) => c.cmd.includes('worker-main');

/** What the daemon's log says of children that died of a signal, or of work that failed for it. */
function childTrouble(d: DaemonProcess): string[] {
  return d.lines
    // the fans to full is every stop's, not trouble
    .filter((l) => !/failsafe/i.test(l.msg) && (l.level >= 40 || /killed by SIG|exited with 255|restart/i.test(l.msg)))
    .map((l) => `${l.msg} ${JSON.stringify(l.err ?? l.error ?? l.reason ?? '')}`);
}

async function startRender(s: Started): Promise<string> {
  const r = await api(s.base, 'POST', '/v1/renders', { audio: ['long/tone.wav'], networks: ['demo-64'], latents: { fps: 12 }, output: { path: 'r.mp4', preset: 'ultrafast' } });
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  const id = r.body.id as string;
  // past its first segment, with frames in synthesis and the segment encoder's ffmpeg running
  await until(async () => (await api(s.base, 'GET', `/v1/renders/${id}`)).body.framesDone >= 10, 90_000, 'render frames');
  return id;
}

async function startLive(s: Started): Promise<string> {
  // a camera behind the picture: ffmpeg's test pattern stands in for one, through the same reader
  const framing = { width: 96, height: 64, frame: { width: 64, height: 64, x: 16, y: 0 }, color: '#404040', camera: { kind: 'testsrc', size: '160x120', fps: 10 } };
  const r = await api(s.base, 'POST', '/v1/live', { audio: { kind: 'file', path: 'tone.wav' }, networks: ['demo-64'], fps: 10, framing, outputs: [{ target: 'rec.mkv' }] });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  const id = r.body.id as string;
  // a few seconds of recording, every ffmpeg of the session running
  await new Promise((r) => setTimeout(r, 3000));
  return id;
}

function probeSeconds(file: string): number {
  const r = spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ffprobe ${file}: ${r.stderr}`);
  return Number(r.stdout.trim());
}

describe('the daemon\'s working children (synthesis worker processes, ffmpeg)', PROCESS_TEST, () => {
  it('a SIGINT to the whole process group during a render pauses it in the orderly stop: no child killed by the signal, the job resumable, no output claiming success', async () => {
    const s = await startDaemon();
    const id = await startRender(s);
    const kids = childrenOf(s.d.child.pid!);
    strays.push(...kids);
    expect(kids.filter(isWorker)).toHaveLength(1);
    expect(kids.filter(isFfmpeg).length).toBeGreaterThan(0);
    const t0 = Date.now();
    process.kill(-s.d.child.pid!, 'SIGINT');
    const { code, signal } = await s.d.exited;
    console.log(JSON.stringify({ during: 'render', stoppedAfterMs: Date.now() - t0 }));
    expect({ code, signal, trouble: childTrouble(s.d) }).toEqual({ code: 0, signal: null, trouble: [] });
    expect(s.d.lines.at(-1)?.msg).toBe('stopped');
    for (const k of kids) expect(alive(k.pid), k.cmd).toBe(false);
    // paused for the next start to resume from its last whole segment, nothing at its output
    expect(s.d.lines.map((l) => l.msg)).toContain(`render ${id} paused by the stop; it resumes at the next start`);
    expect(readdirSync(s.out)).toEqual([]);
  });

  it('a SIGINT to the whole process group during a live session with a recording stops the session in the orderly stop: the recording finished and whole', async () => {
    const s = await startDaemon();
    await startLive(s);
    const kids = childrenOf(s.d.child.pid!);
    strays.push(...kids);
    expect(kids.filter(isWorker)).toHaveLength(1);
    // the session's audio source, camera, JPEG encoder and recording
    expect(kids.filter(isFfmpeg).length).toBeGreaterThanOrEqual(4);
    const t0 = Date.now();
    process.kill(-s.d.child.pid!, 'SIGINT');
    const { code, signal } = await s.d.exited;
    console.log(JSON.stringify({ during: 'live recording', stoppedAfterMs: Date.now() - t0 }));
    expect({ code, signal, trouble: childTrouble(s.d) }).toEqual({ code: 0, signal: null, trouble: [] });
    for (const k of kids) expect(alive(k.pid), k.cmd).toBe(false);
    const seconds = probeSeconds(join(s.out, 'rec.mkv'));
    console.log(JSON.stringify({ recordingSeconds: seconds }));
    expect(seconds).toBeGreaterThan(1);
  });

  it('killed outright (SIGKILL) during a render and a live recording, the daemon takes every child along within seconds: each goes when its pipes close', async () => {
    const s = await startDaemon();
    await startLive(s);
    await startRender(s);
    const kids = childrenOf(s.d.child.pid!);
    strays.push(...kids);
    expect(kids.filter(isWorker)).toHaveLength(1);
    // the session's audio source, camera, JPEG encoder and recording, the render's segment encoder
    expect(kids.filter(isFfmpeg).length).toBeGreaterThanOrEqual(5);
    process.kill(-s.d.child.pid!, 'SIGKILL');
    await s.d.exited;
    const t0 = Date.now();
    const goneAfterMs: Record<string, number> = {};
    await until(
      () => {
        for (const k of kids) if (!(k.cmd in goneAfterMs) && !alive(k.pid)) goneAfterMs[k.cmd] = Date.now() - t0;
        return kids.every((k) => !alive(k.pid));
      },
      5000,
      `children gone: ${kids.filter((k) => alive(k.pid)).map((k) => k.cmd).join('\n')}`,
    );
    console.log(JSON.stringify(kids.map((k) => ({ child: isWorker(k) ? 'synthesis worker' : isFfmpeg(k) ? `ffmpeg -i ${/ -i (\S+)/.exec(k.cmd)?.[1]}` : k.cmd.slice(0, 80), goneAfterMs: goneAfterMs[k.cmd] }))));
    // the recording's ffmpeg saw its inputs end: it finished the file
    expect(probeSeconds(join(s.out, 'rec.mkv'))).toBeGreaterThan(1);
  });
});
