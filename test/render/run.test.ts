/**
 * runRender on the demo network: resume after a cancel gives the frames of an uninterrupted render
 * (framemd5), and bad input of every kind fails with the input named and nothing partial left.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRenderer } from '../../src/render/local.ts';
import type { RenderSpec } from '../../src/render/spec.ts';
import { runRender } from '../../src/render/run.ts';
import { RenderFailure, type RenderDeps, type RenderProgress } from '../../src/render/types.ts';
import { SYNTHESIS_FILE, type SynthesisWorkerInfo } from '../../src/render/synthesis-record.ts';
import { addInto, clicks, noise, tempDir, tone, writeWav } from '../audio/wav.ts';
import { frameMd5s, localRenderer, probeStream } from './helpers.ts';

async function failure(p: Promise<unknown>): Promise<RenderFailure> {
  try {
    await p;
  } catch (err) {
    if (err instanceof RenderFailure) return err;
    throw err;
  }
  throw new Error('the render did not fail');
}

describe('runRender', () => {
  let dir: string;
  let song: string;
  let local: LocalRenderer;
  beforeAll(() => {
    dir = tempDir('gance-render-run-');
    song = join(dir, 'song.wav');
    // 2 s: a chord with clicks and a little noise, so the latents move from frame to frame
    writeWav(song, 22050, 1, addInto(addInto(tone(22050, 2, [220, 330], 0.2), clicks(22050, 2, 0.25)), noise(44100, 0.01, 2)));
    local = localRenderer();
  });
  afterAll(async () => {
    await local.close();
  });

  // runRender fills in the schema's defaults itself (and refuses what does not pass it)
  const spec = (out: string, extra: Record<string, unknown> = {}) => ({ audio: [song], networks: ['demo-64'], latents: { fps: 24 }, output: { path: out, preset: 'ultrafast', ...extra } }) as RenderSpec;
  const leftovers = () => readdirSync(dir).filter((n) => n.includes('.tmp') || n.includes('.work'));
  const segments = (workDir: string) => readdirSync(workDir).filter((n) => n.startsWith('segment-')).sort();

  it('cancelled after two segments, then run again with the same workDir: the frames of an uninterrupted render', { timeout: 120_000 }, async () => {
    const ref = join(dir, 'ref.mp4');
    const said: SynthesisWorkerInfo[][] = [];
    const whole = await runRender(spec(ref), local.deps, { workDir: join(dir, 'w-ref'), segmentFrames: 10, encodeParallel: 1, onSynthesis: (w) => said.push(w) });
    expect(whole).toMatchObject({ frames: 48, fps: 24, resumedFrames: 0 });
    expect(probeStream(ref, 'v').nb_read_frames).toBe('48');
    // what made the frames, said before the first and written beside the output: the one CPU worker, all 48
    const w0 = { id: 'w0', engine: 'onnx', provider: 'cpu', adapter: null, precision: 'f32', precisionNote: null, fallback: [], binding: null };
    expect(said).toEqual([[w0]]);
    expect(whole.synthesis).toEqual({ workers: [{ ...w0, frames: 48 }], resumed: null, mixed: false });
    expect((JSON.parse(readFileSync(whole.runConfig, 'utf8')) as { synthesis: unknown }).synthesis).toEqual(whole.synthesis);

    const out = join(dir, 'resumed.mp4');
    const workDir = join(dir, 'w-resume');
    const abort = new AbortController();
    const cancelled = await failure(
      runRender(spec(out), local.deps, {
        workDir,
        segmentFrames: 10,
        signal: abort.signal,
        onProgress: (p) => {
          if (p.framesDone === 25) abort.abort();
        },
      }),
    );
    expect(cancelled.reason).toBe('cancelled');
    expect(existsSync(out)).toBe(false);
    expect(leftovers()).toEqual([]);
    // frames 0..19 in two complete segments; the one being encoded is gone
    expect(segments(workDir)).toEqual(['segment-000000.mp4', 'segment-000001.mp4']);
    expect(readdirSync(workDir).filter((n) => n.startsWith('.'))).toEqual([]);
    // each complete segment's workers are kept beside it for the run that finishes the render
    const record = JSON.parse(readFileSync(join(workDir, SYNTHESIS_FILE), 'utf8')) as { segments: Record<string, Array<Record<string, unknown>>> };
    expect(record.segments).toMatchObject({ 0: [{ ...w0, frames: 10 }], 1: [{ ...w0, frames: 10 }] });
    // as if segment 1 had been made on another machine, by a GPU worker in f16
    const gpu = { ...w0, id: 'gpu0', engine: 'webgpu', provider: 'webgpu', adapter: { vendor: 'nvidia', architecture: 'hopper', device: '', description: 'NVIDIA H200' }, precision: 'f16', frames: 10 };
    record.segments['1'] = [gpu];
    writeFileSync(join(workDir, SYNTHESIS_FILE), JSON.stringify(record));

    const progress: RenderProgress[] = [];
    const resumed = await runRender(spec(out), local.deps, { workDir, segmentFrames: 10, onProgress: (p) => progress.push(p) });
    expect(resumed).toMatchObject({ frames: 48, resumedFrames: 20 });
    // this run made 28 frames; the 20 it resumed after were made by what the work folder says, of two kinds
    expect(resumed.synthesis).toEqual({ workers: [{ ...w0, frames: 28 }], resumed: { frames: 20, workers: [{ ...w0, frames: 10 }, gpu] }, mixed: true });
    // the checkpoint's frames count from the first event on, while the audio is analysed again
    expect(progress[0]).toMatchObject({ stage: 'analysing', framesDone: 20, framesTotal: 48 });
    expect(progress.filter((p) => p.stage === 'analysing' || p.stage === 'rendering').every((p) => p.framesDone >= 20)).toBe(true);
    expect(progress.find((p) => p.stage === 'rendering')!.framesDone).toBe(20);
    expect(probeStream(out, 'v').nb_read_frames).toBe('48');
    const want = frameMd5s(ref);
    expect(want).toHaveLength(48);
    expect(frameMd5s(out)).toEqual(want);
    expect(existsSync(workDir)).toBe(false);
  });

  it('segments of a different render in the workDir are discarded, not joined', { timeout: 120_000 }, async () => {
    const workDir = join(dir, 'w-other');
    const abort = new AbortController();
    const first = await failure(
      runRender(spec(join(dir, 'other.mp4'), { crf: 30 }), local.deps, { workDir, segmentFrames: 10, signal: abort.signal, onProgress: (p) => p.framesDone === 15 && abort.abort() }),
    );
    expect(first.reason).toBe('cancelled');
    expect(segments(workDir)).toEqual(['segment-000000.mp4']);
    const r = await runRender(spec(join(dir, 'other.mp4')), local.deps, { workDir, segmentFrames: 10 });
    expect(r.resumedFrames).toBe(0);
    expect(frameMd5s(r.output)).toEqual(frameMd5s(join(dir, 'ref.mp4')));
  });

  it('temp files a killed run left in the work folder (its state and synthesis record written, not yet renamed) are removed with it once a later run completes', { timeout: 120_000 }, async () => {
    const out = join(dir, 'killed.mp4');
    const workDir = join(dir, 'w-killed');
    const abort = new AbortController();
    // every segment complete: the run that finishes writes neither file again, which would have renamed its temp away
    const cancelled = await failure(runRender(spec(out), local.deps, { workDir, segmentFrames: 10, signal: abort.signal, onProgress: (p) => p.stage === 'muxing' && abort.abort() }));
    expect(cancelled.reason).toBe('cancelled');
    expect(segments(workDir)).toHaveLength(5);
    // as a run killed between writing and renaming them leaves them
    const left = [`.render-state.json.tmp`, `.${SYNTHESIS_FILE}.tmp`];
    for (const n of left) writeFileSync(join(workDir, n), '{"partial');
    const r = await runRender(spec(out), local.deps, { workDir, segmentFrames: 10 });
    expect(r).toMatchObject({ frames: 48, resumedFrames: 48 });
    expect(existsSync(workDir) ? readdirSync(workDir) : 'removed').toBe('removed');
  });

  it('a file put at the output, debug or run config name while the render runs stays: the render fails naming it and keeps its video under a name it reports; replace (--force) replaces it', { timeout: 120_000 }, async () => {
    // one work folder: the first run renders, the others resume from its segments (the output's name is not in their fingerprint)
    const workDir = join(dir, 'w-taken');
    const intrude = (path: string, make: () => void) => (p: RenderProgress) => {
      if (p.stage === 'muxing' && !existsSync(path)) make();
    };
    const cases: Array<[string, Record<string, unknown>, string, () => void, RegExp]> = [
      ['taken.mp4', {}, join(dir, 'taken.mp4'), () => writeFileSync(join(dir, 'taken.mp4'), 'mine'), /^output (\S+taken\.mp4): something was put there/],
      ['taken2.mp4', { debugPath: join(dir, 'taken2.debug.mp4') }, join(dir, 'taken2.debug.mp4'), () => writeFileSync(join(dir, 'taken2.debug.mp4'), 'mine'), /^output\.debugPath (\S+taken2\.debug\.mp4): something was put there/],
      ['taken3.mp4', {}, join(dir, 'taken3.run.json'), () => writeFileSync(join(dir, 'taken3.run.json'), 'mine'), /^output \S+taken3\.mp4: its run config (\S+taken3\.run\.json): something was put there/],
    ];
    for (const [name, extra, path, make, re] of cases) {
      const out = join(dir, name);
      const err = await failure(runRender(spec(out, extra), local.deps, { workDir, segmentFrames: 24, onProgress: intrude(path, make) }));
      expect(err.reason, name).toBe('bad-input');
      expect(err.message, name).toMatch(re);
      expect(re.exec(err.message)![1], name).toBe(path);
      // the file that appeared is as it was; nothing of the render is at its names
      expect(readFileSync(path, 'utf8'), name).toBe('mine');
      for (const own of [out, join(dir, name.replace('.mp4', '.run.json')), join(dir, name.replace('.mp4', '.debug.mp4'))]) if (own !== path) expect(existsSync(own), own).toBe(false);
      const kept = /; it was left as it is and the finished video was kept as (\S+)$/.exec(err.message)?.[1];
      expect(kept && basename(kept), err.message).toMatch(new RegExp(`^${name.replace('.mp4', '')}\\.kept-[0-9a-f]{8}\\.mp4$`));
      expect(dirname(kept!)).toBe(dir);
      expect(probeStream(kept!, 'v').nb_read_frames, name).toBe('48');
      expect(leftovers()).toEqual([]);
    }
    // PNG frames: a folder with a file in it appeared at the output
    const frames = join(dir, 'frames');
    const png = await failure(runRender(spec(frames, { format: 'png' }), local.deps, { workDir: join(dir, 'w-png'), segmentFrames: 24, onProgress: intrude(frames, () => { mkdirSync(frames); writeFileSync(join(frames, 'mine.txt'), 'mine'); }) }));
    expect(png.message).toMatch(new RegExp(`^output ${frames}: something was put there while the render ran; it was left as it is and the finished frames were kept as ${frames}\\.kept-[0-9a-f]{8}$`));
    expect(readdirSync(frames)).toEqual(['mine.txt']);
    expect(readdirSync(png.message.split(' kept as ')[1]!).filter((f) => f.endsWith('.png'))).toHaveLength(48);
    // replace: what gance render --force asks for
    const forced = join(dir, 'forced.mp4');
    const r = await runRender(spec(forced), local.deps, { workDir, segmentFrames: 24, replace: true, onProgress: intrude(forced, () => writeFileSync(forced, 'mine')) });
    expect(r.output).toBe(forced);
    expect(probeStream(forced, 'v').nb_read_frames).toBe('48');
  });

  describe('3 segments encoding at once', () => {
    it('the frames of a render that encoded one segment at a time', { timeout: 120_000 }, async () => {
      const r = await runRender(spec(join(dir, 'parallel.mp4')), local.deps, { workDir: join(dir, 'w-parallel'), segmentFrames: 10, encodeParallel: 3 });
      expect(r).toMatchObject({ frames: 48, resumedFrames: 0 });
      expect(probeStream(r.output, 'v').nb_read_frames).toBe('48');
      expect(frameMd5s(r.output)).toEqual(frameMd5s(join(dir, 'ref.mp4')));
    });

    it('cancelled mid-way, then resumed (at 3 again): the same frames; only complete segments were kept', { timeout: 120_000 }, async () => {
      const out = join(dir, 'parallel-resumed.mp4');
      const workDir = join(dir, 'w-parallel-resume');
      const abort = new AbortController();
      const opts = { workDir, segmentFrames: 10, encodeParallel: 3 };
      const cancelled = await failure(runRender(spec(out), local.deps, { ...opts, signal: abort.signal, onProgress: (p) => p.framesDone >= 34 && abort.abort() }));
      expect(cancelled.reason).toBe('cancelled');
      expect(existsSync(out)).toBe(false);
      expect(leftovers()).toEqual([]);
      expect(readdirSync(workDir).filter((n) => n.startsWith('.'))).toEqual([]);
      // each kept segment decodes to its 10 frames
      const kept = segments(workDir);
      for (const name of kept) expect(probeStream(join(workDir, name), 'v').nb_read_frames).toBe('10');
      let prefix = 0;
      while (kept.includes(`segment-00000${prefix}.mp4`)) prefix++;
      const resumed = await runRender(spec(out), local.deps, opts);
      expect(resumed).toMatchObject({ frames: 48, resumedFrames: prefix * 10 });
      expect(frameMd5s(out)).toEqual(frameMd5s(join(dir, 'ref.mp4')));
    });

    it("one segment's ffmpeg crashing fails the render (encoder) with nothing partial; a run with a sound ffmpeg then gives the same frames", { timeout: 120_000 }, async () => {
      // the real ffmpeg, except for segment 1's encode, which reads a frame and a half and dies
      const crashing = join(dir, 'ffmpeg-crashing-segment-1');
      writeFileSync(crashing, `#!/bin/bash\ncase "$*" in *segment-000001*) head -c 18000 >/dev/null; echo "segment 1 encoder gave up" >&2; exit 3;; esac\nexec ffmpeg "$@"\n`);
      chmodSync(crashing, 0o755);
      const out = join(dir, 'parallel-crash.mp4');
      const workDir = join(dir, 'w-parallel-crash');
      const f = await failure(runRender(spec(out), { ...local.deps, ffmpeg: crashing }, { workDir, segmentFrames: 10, encodeParallel: 3 }));
      expect(f.reason, f.message).toBe('encoder');
      expect(f.message).toMatch(/^encoding frames 10\.\.19 \(segment segment-000001\.mp4\): ffmpeg .* exited with code 3: segment 1 encoder gave up$/);
      expect(existsSync(out)).toBe(false);
      expect(leftovers()).toEqual([]);
      expect(readdirSync(workDir).filter((n) => n.startsWith('.'))).toEqual([]);
      expect(segments(workDir)).not.toContain('segment-000001.mp4');
      for (const name of segments(workDir)) expect(probeStream(join(workDir, name), 'v').nb_read_frames).toBe('10');
      const r = await runRender(spec(out), local.deps, { workDir, segmentFrames: 10, encodeParallel: 3 });
      expect(frameMd5s(r.output)).toEqual(frameMd5s(join(dir, 'ref.mp4')));
    });
  });

  it('one render at a time in a work folder: a second is refused while the first runs; a lock left by a dead process is taken over', { timeout: 120_000 }, async () => {
    const workDir = join(dir, 'w-lock');
    let started!: () => void;
    const rendering = new Promise<void>((resolve) => (started = resolve));
    // the first render's encoders wait for `go`, so it still holds the folder however long the
    // second takes to get there (its analysis, on a loaded machine, can outlast a whole render)
    const go = join(dir, 'lock-go');
    const held = join(dir, 'held-ffmpeg');
    writeFileSync(held, `#!/bin/bash\ncase "$*" in *segment-*) while [ ! -e ${JSON.stringify(go)} ]; do sleep 0.05; done;; esac\nexec ffmpeg "$@"\n`);
    chmodSync(held, 0o755);
    const first = runRender(spec(join(dir, 'lock-a.mp4')), { ...local.deps, ffmpeg: held }, { workDir, segmentFrames: 10, onProgress: (p) => p.stage === 'rendering' && started() });
    await rendering;
    const second = await failure(runRender(spec(join(dir, 'lock-b.mp4')), local.deps, { workDir, segmentFrames: 10 })).finally(() => writeFileSync(go, ''));
    expect(second.reason).toBe('bad-input');
    expect(second.message).toBe(`work folder ${workDir}: another render of this process is using it`);
    expect((await first).frames).toBe(48);
    expect(existsSync(join(dir, 'lock-b.mp4'))).toBe(false);

    // a render of another process that is still alive (this test's parent) holds the folder
    mkdirSync(workDir, { recursive: true });
    writeFileSync(join(workDir, 'render.lock'), `${process.ppid}\n`);
    const busy = await failure(runRender(spec(join(dir, 'lock-c.mp4')), local.deps, { workDir, segmentFrames: 10 }));
    expect(busy.message).toBe(`work folder ${workDir}: in use by another render (process ${process.ppid})`);
    // one whose process is gone does not
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    writeFileSync(join(workDir, 'render.lock'), `${dead.stdout}\n`);
    // nor do the claim and takeover guard that process left beside it: they went, and the folder with them
    writeFileSync(join(workDir, 'render.lock.0a1b2c3d-1111-4111-8111-0a1b2c3d4e5f.tmp'), `${dead.stdout}\n`);
    writeFileSync(join(workDir, 'render.lock.0a1b2c3d4e5f6789.takeover'), `${dead.stdout}\n`);
    const r = await runRender(spec(join(dir, 'lock-c.mp4')), local.deps, { workDir, segmentFrames: 10 });
    expect(r.frames).toBe(48);
    expect(existsSync(workDir)).toBe(false);
  });

  it('a temporary output left by a killed run (its process gone, or this pid from an earlier life) is removed when the render runs again; a live process\'s stays', { timeout: 120_000 }, async () => {
    const out = join(dir, 'swept.mp4');
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    // as a daemon killed -9 in the mux leaves them: the output's (as big as the video) and the run config's
    const left = [`.swept.mp4.tmp-${dead}-0a1b2c3d`, `.swept.run.json.tmp-${dead}`, `.swept.mp4.tmp-${process.pid}-99887766`];
    for (const n of left) writeFileSync(join(dir, n), 'partial');
    // a `gance render` of the same name in a process that is alive is still writing its own
    const live = `.swept.mp4.tmp-${process.ppid}-11223344`;
    writeFileSync(join(dir, live), 'partial');
    const r = await runRender(spec(out), local.deps, { workDir: join(dir, 'w-swept'), segmentFrames: 24 });
    expect(r.frames).toBe(48);
    const now = readdirSync(dir).filter((n) => n.startsWith('.swept.'));
    expect(now).toEqual([live]);
    // the later tests count what is left here
    rmSync(join(dir, live));
  });

  it("hands the track's loudness to the thermal side after the analysis: one level per second, the loudest at 95 dBA", { timeout: 120_000 }, async () => {
    // 1 s loud, then 1 s 20 dB quieter
    const stepped = join(dir, 'stepped.wav');
    const loud = tone(22050, 1, [220, 330], 0.2);
    const quiet = tone(22050, 1, [220, 330], 0.02);
    writeWav(stepped, 22050, 1, Int16Array.from([...loud, ...quiet]));
    const tracks: Array<{ levelsDba: number[]; fps: number }> = [];
    const stages: string[] = [];
    await runRender({ ...spec(join(dir, 'stepped.mp4')), audio: [stepped] }, local.deps, {
      workDir: join(dir, 'w-stepped'),
      onLoudness: (t) => tracks.push({ ...t, stage: stages.at(-1) } as never),
      onProgress: (p) => void (stages.at(-1) !== p.stage && stages.push(p.stage)),
    });
    expect(tracks).toHaveLength(1);
    const t = tracks[0]! as { levelsDba: number[]; fps: number; stage?: string };
    expect(t.fps).toBe(24);
    expect(t.stage).toBe('analysing'); // before the frames: the plan can pre-cool ahead of the first quiet passage
    expect(t.levelsDba).toHaveLength(2);
    expect(t.levelsDba[0]).toBeCloseTo(95, 6);
    expect(t.levelsDba[1]).toBeGreaterThan(73);
    expect(t.levelsDba[1]).toBeLessThan(77);
  });

  it('with ALAC the muxed audio decodes to the input samples exactly', { timeout: 120_000 }, async () => {
    const out = join(dir, 'lossless.mp4');
    const r = await runRender(spec(out, { audioCodec: 'alac' }), local.deps, { workDir: join(dir, 'w-alac') });
    expect(probeStream(r.output, 'a')).toMatchObject({ codec_name: 'alac', sample_rate: '22050', channels: '1' });
    const pcm = (f: string) => spawnSync('ffmpeg', ['-v', 'error', '-i', f, '-map', '0:a:0', '-f', 's16le', '-'], { maxBuffer: 1 << 26 }).stdout;
    const want = pcm(song);
    expect(want.length).toBe(2 * 44100);
    expect(Buffer.compare(pcm(r.output), want)).toBe(0);
  });

  it('joins several audio files in order: frames for the whole, and the audio is the files end to end', { timeout: 120_000 }, async () => {
    const second = join(dir, 'second.wav');
    writeWav(second, 22050, 1, addInto(tone(22050, 1, [550], 0.3), noise(22050, 0.01, 5)));
    const out = join(dir, 'joined.mp4');
    const r = await runRender({ ...spec(out, { audioCodec: 'alac' }), audio: [song, second] }, local.deps, { workDir: join(dir, 'w-joined') });
    // 2 s + 1 s at 24 fps
    expect(r.frames).toBe(72);
    expect(probeStream(out, 'v').nb_read_frames).toBe('72');
    const pcm = (f: string) => spawnSync('ffmpeg', ['-v', 'error', '-i', f, '-map', '0:a:0', '-f', 's16le', '-'], { maxBuffer: 1 << 26 }).stdout;
    expect(Buffer.compare(pcm(out), Buffer.concat([pcm(song), pcm(second)]))).toBe(0);
  });

  describe('bad input: the input and the reason, nothing left', () => {
    const cases: Array<[string, () => { spec: Record<string, unknown>; deps?: Partial<RenderDeps> }, RenderFailure['reason'], RegExp]> = [
      [
        'unreadable audio',
        () => {
          const f = join(dir, 'garbage.wav');
          writeFileSync(f, 'not audio at all');
          return { spec: { ...spec(join(dir, 'x.mp4')), audio: [song, f] } };
        },
        'bad-input',
        /garbage\.wav: not a readable audio file/,
      ],
      [
        'silent audio',
        () => {
          const f = join(dir, 'silence.wav');
          writeWav(f, 22050, 1, new Int16Array(22050));
          return { spec: { ...spec(join(dir, 'x.mp4')), audio: [f] } };
        },
        'bad-input',
        /^audio is silent: .*silence\.wav has only zero samples \(below -90\.3 dBFS/,
      ],
      ['an unknown network', () => ({ spec: { ...spec(join(dir, 'x.mp4')), networks: ['no-such-net'] } }), 'bad-input', /network "no-such-net": no such network \(known: .*demo-64/],
      [
        'a projection on a z network',
        () => ({ spec: { ...spec(join(dir, 'x.mp4')), latents: { projectionFile: join(dir, 'face.h5') } } }),
        'bad-input',
        /face\.h5.*network "demo-64" takes z/,
      ],
      ['an odd size', () => ({ spec: spec(join(dir, 'x.mp4'), { size: 65 }) }), 'bad-input', /output\.size/],
      ['an upscale beyond 4x', () => ({ spec: spec(join(dir, 'x.mp4'), { size: 258 }) }), 'bad-input', /output size 258: more than 4x the network's 64 px/],
      ['an output folder that does not exist', () => ({ spec: spec(join(dir, 'nowhere', 'x.mp4')) }), 'bad-input', /nowhere.*does not exist/],
      ['ffmpeg missing', () => ({ spec: spec(join(dir, 'x.mp4')), deps: { ffmpeg: join(dir, 'no-ffmpeg') } }), 'encoder', /ffmpeg not found or not executable at ".*no-ffmpeg"/],
      [
        'ffmpeg crashing mid-render',
        () => {
          // answers -version like ffmpeg and leaves reading the audio (the silence check) to the real one; an encode reads a frame and a half of the input and dies
          const fake = join(dir, 'crashing-ffmpeg');
          writeFileSync(fake, `#!/bin/sh\nif [ "$1" = -version ]; then echo "ffmpeg version fake"; exit 0; fi\ncase "$*" in *segment-*) ;; *) exec ffmpeg "$@";; esac\nhead -c 18000 >/dev/null\necho "fake encoder gave up" >&2\nexit 3\n`);
          chmodSync(fake, 0o755);
          return { spec: spec(join(dir, 'x.mp4')), deps: { ffmpeg: fake } };
        },
        'encoder',
        /segment-000000.*exited with code 3: fake encoder gave up/,
      ],
    ];
    for (const [name, make, reason, message] of cases) {
      it(name, { timeout: 60_000 }, async () => {
        const { spec: s, deps } = make();
        const workDir = join(dir, `w-bad-${name.replace(/\W+/g, '-')}`);
        const f = await failure(runRender(s as RenderSpec, { ...local.deps, ...deps }, { workDir, segmentFrames: 10 }));
        expect(f.reason, f.message).toBe(reason);
        expect(f.message).toMatch(message);
        expect(f.message).not.toContain('\n');
        expect(existsSync(join(dir, 'x.mp4'))).toBe(false);
        expect(leftovers()).toEqual([]);
        // no segment: nothing was rendered that a resume could use
        expect(existsSync(workDir) ? segments(workDir) : []).toEqual([]);
      });
    }
  });
});
