/**
 * A full disk, for real: a 3 MB tmpfs in a private mount namespace (root and unshare needed; the
 * test says so and skips where they are not). The render runs in a child process inside it.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO } from '../helpers/daemon-process.ts';
import { addInto, clicks, tempDir, tone, writeWav } from '../audio/wav.ts';

const probe = spawnSync('unshare', ['-m', 'sh', '-c', 'mount -t tmpfs -o size=1m tmpfs /mnt && umount /mnt'], { encoding: 'utf8' });
const unavailable = probe.error ? `unshare cannot run (${probe.error.message})` : probe.status !== 0 ? `a private mount namespace is not permitted here (${probe.stderr.trim()})` : null;
if (unavailable) console.warn(`disk-full tests skipped: ${unavailable}`);

interface Outcome {
  reason?: string;
  message?: string;
  done?: string;
  error?: string;
  filled: boolean;
  files: string[];
}

function renderOnTmpfs(mode: 'precheck' | 'fill' | 'fill-debug' | 'record' | 'stills', audio: string, parallel = 1): Outcome {
  const mnt = tempDir('gance-render-tmpfs-');
  const script = join(REPO, 'test/render/fixtures/disk-full.ts');
  const r = spawnSync('unshare', ['-m', 'sh', '-c', `mount -t tmpfs -o size=3m tmpfs "$1" && exec "$2" --import tsx "$3" "$4" "$1" "$5" "$6"`, 'sh', mnt, process.execPath, script, mode, audio, String(parallel)], {
    cwd: REPO,
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`disk-full script failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Outcome;
}

/**
 * The failure of whichever writer met the full disk first: an encoder (ffmpeg says so), or the
 * record of what synthesized a segment whose encoder could still finish (a segment is a few kB:
 * what was left of it can fit in the pages its file held already). The second comes about one run
 * in ten.
 */
function metFullDisk(encoder: RegExp, segment: number | string): RegExp {
  const record = `writing the record of what synthesized segment ${segment} \\(.*/work/render-synthesis\\.json\\): no space left on the device$`;
  return new RegExp(`^(?:${encoder.source}: no space left on the device \\(ffmpeg: .*No space left on device|${record})`);
}

describe.skipIf(unavailable !== null)('render on a full disk', () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir('gance-render-disk-');
    mkdirSync(dir, { recursive: true });
  });

  it('a render that cannot fit is refused before it starts', { timeout: 120_000 }, () => {
    const audio = join(dir, 'long.wav');
    writeWav(audio, 22050, 1, addInto(tone(22050, 10, [220]), clicks(22050, 10, 0.5)));
    const o = renderOnTmpfs('precheck', audio);
    expect(o.reason, JSON.stringify(o)).toBe('no-space');
    expect(o.message).toMatch(/^not enough disk space in .*: the render needs about [0-9.]+ MB \(segments ~[0-9.]+ MB, output ~[0-9.]+ MB\), [0-9.]+ MB is free$/);
    // nothing rendered: no output, no segment
    expect(o.files.filter((f) => !f.startsWith('work/render-state.json') && f !== 'work/')).toEqual([]);
  });

  it('a disk that fills while the render runs: no-space, the partial output and segment removed', { timeout: 120_000 }, () => {
    const audio = join(dir, 'short.wav');
    writeWav(audio, 22050, 1, addInto(tone(22050, 2, [220]), clicks(22050, 2, 0.25)));
    const o = renderOnTmpfs('fill', audio);
    expect(o.filled).toBe(true);
    expect(o.reason, JSON.stringify(o)).toBe('no-space');
    // ffmpeg met the full disk writing the segment, and said so; or the segment's record did
    expect(o.message).toMatch(metFullDisk(/encoding frames 0\.\.9 \(segment segment-000000\.mp4\)/, 0));
    const names = o.files.map((f) => f.split(' ')[0]);
    expect(names.filter((n) => n!.includes('.tmp') || n!.includes('out.mp4'))).toEqual([]);
  });
  it('a disk that fills while the debug video is drawn: no-space, neither video left, the segments kept for a resume', { timeout: 120_000 }, () => {
    const audio = join(dir, 'debug.wav');
    writeWav(audio, 22050, 1, addInto(tone(22050, 2, [220]), clicks(22050, 2, 0.25)));
    const o = renderOnTmpfs('fill-debug', audio);
    expect(o.filled).toBe(true);
    expect(o.reason, JSON.stringify(o)).toBe('no-space');
    expect(o.message).toMatch(/^writing the debug video .*: no space left on the device/);
    const names = o.files.map((f) => f.split(' ')[0]!);
    expect(names.filter((n) => n.startsWith('out') || n.includes('.tmp'))).toEqual([]);
    expect(names.filter((n) => /^work\/segment-\d{6}\.mp4$/.test(n))).toHaveLength(5);
  });

  it('the same with 3 segments encoding at once: no-space from whichever writer met it, every one of them stopped and removed', { timeout: 120_000 }, () => {
    const audio = join(dir, 'short3.wav');
    writeWav(audio, 22050, 1, addInto(tone(22050, 2, [220]), clicks(22050, 2, 0.25)));
    const o = renderOnTmpfs('fill', audio, 3);
    expect(o.filled).toBe(true);
    expect(o.reason, JSON.stringify(o)).toBe('no-space');
    expect(o.message).toMatch(metFullDisk(/encoding frames \d+\.\.\d+ \(segment segment-00000[0-2]\.mp4\)/, '[0-2]'));
    const names = o.files.map((f) => f.split(' ')[0]);
    expect(names.filter((n) => n!.includes('.tmp') || n!.includes('out.mp4') || n!.includes('segment-'))).toEqual([]);
  });

  it("a segment's synthesis record that cannot be written: no-space naming it, its temp file removed", { timeout: 120_000 }, () => {
    const o = renderOnTmpfs('record', '-');
    const names = o.files.map((f) => f.split(' ')[0]!);
    expect(names.filter((n) => n.startsWith('work/'))).toEqual(['work/']);
    expect(o.reason, JSON.stringify(o)).toBe('no-space');
    expect(o.message).toMatch(/^writing the record of what synthesized segment 0 \(.*\/work\/render-synthesis\.json\): no space left on the device$/);
  });

  it("stills whose stills.run.json cannot be written: no-space naming it, nothing of the run left (its temp file neither)", { timeout: 120_000 }, () => {
    const o = renderOnTmpfs('stills', '-');
    expect(o.reason, JSON.stringify(o)).toBe('no-space');
    expect(o.message).toMatch(/^writing .*\/stills\/stills\.run\.json: no space left on the device$/);
    // the folder the run made goes too: nothing was kept in it
    expect(o.files.map((f) => f.split(' ')[0]!)).toEqual(['filler']);
  });
});
