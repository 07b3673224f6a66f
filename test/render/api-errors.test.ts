/**
 * A render that fails mid-run, through /v1/renders with the real pipeline: the job's error says
 * what went wrong in the client's terms, without the daemon's own paths (state folder, uploads,
 * work folders, roots, the ffmpeg it runs).
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRenderer } from '../../src/render/local.ts';
import { runRender } from '../../src/render/run.ts';
import type { RenderJobView } from '../../src/render/view.ts';
import { tempDir, tone, writeWav } from '../audio/wav.ts';
import { multipartBody, rendersApp } from './api-setup.ts';
import { localRenderer } from './helpers.ts';
import { until } from './job-helpers.ts';

describe('/v1/renders, a render that fails mid-run', () => {
  let local: LocalRenderer;
  let tools: string;
  let crashing: string;
  beforeAll(() => {
    local = localRenderer();
    tools = tempDir('gance-api-errors-tools-');
    // the real ffmpeg for the audio; an encode dies as ffmpeg does when it cannot write, naming its output
    crashing = join(tools, 'ffmpeg');
    writeFileSync(crashing, `#!/bin/sh\ncase "$*" in *segment-*) ;; *) exec ffmpeg "$@";; esac\nfor a; do last="$a"; done\nhead -c 18000 >/dev/null\necho "[out#0/mp4] Error opening output $last: Input/output error" >&2\nexit 3\n`);
    chmodSync(crashing, 0o755);
  });
  afterAll(async () => {
    await local.close();
  });

  async function failed(ffmpeg: string | undefined, upload: { name: string; data: Buffer }) {
    const s = await rendersApp((spec, deps, opts) => runRender(spec, { ...local.deps, log: deps.log, ...(ffmpeg ? { ffmpeg } : {}) }, { ...opts, segmentFrames: 10 }));
    try {
      const res = await s.app.inject({
        method: 'POST',
        url: '/v1/renders',
        ...multipartBody([
          { name: 'spec', value: JSON.stringify({ networks: ['demo-64'], latents: { fps: 12 }, output: { path: 'clips/song.mp4', preset: 'ultrafast' } }) },
          { name: 'audio', value: upload.data, filename: upload.name },
        ]),
      });
      expect(res.statusCode, res.body).toBe(202);
      const id = res.json<RenderJobView>().id;
      const job = await until(s.scheduler, id, (j) => j.state === 'failed');
      const view = (await s.app.inject(`/v1/renders/${id}`)).json<RenderJobView>();
      // the store and the log keep the whole message for the operator
      return { stored: job.error!, error: view.error!, reason: view.reason, root: s.root };
    } finally {
      await s.close();
    }
  }

  it('an encoder that crashes: the reason and ffmpeg\'s words, the segment by its name, no daemon path', { timeout: 60_000 }, async () => {
    const song = join(tools, 'song.wav');
    writeWav(song, 22050, 1, tone(22050, 2, [330, 440]));
    const f = await failed(crashing, { name: 'song.wav', data: readFileSync(song) });
    expect(f.reason).toBe('encoder');
    expect(f.stored).toContain(f.root);
    expect(f.error).toMatch(/^encoding frames 0\.\.9 \(segment segment-000000\.mp4\): ffmpeg \(ffmpeg\) exited with code 3: \[out#0\/mp4\] Error opening output \.segment-000000\.mp4\.tmp\S*: Input\/output error$/);
    expect(f.error).not.toContain(f.root);
    expect(f.error).not.toContain(tools);
    expect(f.error).not.toMatch(/(^|[\s("'])\/\w/);
  });

  it('audio that fails in the analysis (a NaN sample): the upload by its file name, not its place in the state folder', { timeout: 60_000 }, async () => {
    const samples = new Float32Array(22050).map((_, i) => 0.3 * Math.sin(i / 5));
    samples[20000] = NaN;
    const bad = join(tools, 'nan.wav');
    writeWav(bad, 22050, 1, samples);
    const f = await failed(undefined, { name: 'my take.wav', data: readFileSync(bad) });
    expect(f.reason).toBe('bad-input');
    expect(f.stored).toContain(join(f.root, 'state'));
    expect(f.error).toMatch(/^my_take\.wav: sample 20000 \(at 0\.907 s\) is NaN; audio must be finite numbers$/);
    expect(f.error).not.toContain(f.root);
  });

  /** A render of a real track from the media root whose work folder `spoil` makes impossible once the app has started. */
  async function workFolderFailure(spoil: (state: string) => boolean) {
    const s = await rendersApp((spec, deps, opts) => runRender(spec, { ...local.deps, log: deps.log }, { ...opts, segmentFrames: 10 }));
    const state = join(s.root, 'state');
    try {
      writeWav(join(s.mediaRoot, 'song.wav'), 22050, 1, tone(22050, 1, [330, 440]));
      if (!spoil(state)) return null;
      const res = await s.app.inject({ method: 'POST', url: '/v1/renders', payload: { audio: ['song.wav'], networks: ['demo-64'], latents: { fps: 12 }, output: { path: 'song.mp4', preset: 'ultrafast' } } });
      expect(res.statusCode, res.body).toBe(202);
      const id = res.json<RenderJobView>().id;
      const job = await until(s.scheduler, id, (j) => j.state === 'failed');
      const view = (await s.app.inject(`/v1/renders/${id}`)).json<RenderJobView>();
      return { stored: job.error!, error: view.error!, reason: view.reason, state, workDir: job.workDir };
    } finally {
      chmodSync(state, 0o755);
      if (existsSync(join(state, 'renders'))) chmodSync(join(state, 'renders'), 0o755);
      await s.close();
    }
  }

  it('a work folder that cannot be made (a file where stateDir/renders goes): a storage failure naming the folder and why, not internal "mkdir \'renders\'"', { timeout: 60_000 }, async () => {
    const f = (await workFolderFailure((state) => (writeFileSync(join(state, 'renders'), ''), true)))!;
    expect(f.reason).toBe('no-space');
    expect(f.stored).toBe(`cannot make or write ${f.workDir} (work folders go in render.workDir, or stateDir/renders when it is unset): a file is in the way where a folder should be at ${join(f.state, 'renders')}`);
    expect(f.error).toBe('cannot make or write the work folder (work folders go in render.workDir, or stateDir/renders when it is unset): a file is in the way where a folder should be at renders');
  });

  it('a read-only state folder (chmod 0555 while the daemon runs): a storage failure saying so', { timeout: 60_000 }, async () => {
    const f = await workFolderFailure((state) => {
      mkdirSync(join(state, 'renders'), { recursive: true });
      chmodSync(join(state, 'renders'), 0o555);
      chmodSync(state, 0o555);
      // root (process.getuid() 0) writes through mode bits: nothing to see there (the test above bites as root too)
      try {
        writeFileSync(join(state, 'renders', 'probe'), '');
        return false;
      } catch {
        return true;
      }
    });
    if (f === null) return;
    expect(f.reason).toBe('no-space');
    expect(f.stored).toBe(`cannot make or write ${f.workDir} (work folders go in render.workDir, or stateDir/renders when it is unset): permission denied (the daemon's user may not write there) at ${join(f.state, 'renders')}`);
    expect(f.error).toMatch(/^cannot make or write the work folder \(.*\): permission denied \(the daemon's user may not write there\) at renders$/);
  });
});
