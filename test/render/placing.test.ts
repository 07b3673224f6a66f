/**
 * A render killed -9 in the middle of placing its files (fixtures/killed-placing.ts), then run
 * again: the resumed render knows the files at its names for its own and finishes the placement,
 * rather than fail as "something was put there" with its video kept aside.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRenderer } from '../../src/render/local.ts';
import type { RenderSpec } from '../../src/render/spec.ts';
import { runRender } from '../../src/render/run.ts';
import { addInto, clicks, tempDir, tone, writeWav } from '../audio/wav.ts';
import { REPO } from '../helpers/daemon-process.ts';
import { localRenderer, probeStream } from './helpers.ts';

const SCRIPT = join(REPO, 'test/render/fixtures/killed-placing.ts');

describe('a render killed while it placed its files', () => {
  let song: string;
  let local: LocalRenderer;
  beforeAll(() => {
    song = join(tempDir('gance-placing-song-'), 'song.wav');
    writeWav(song, 22050, 1, addInto(tone(22050, 2, [220, 330], 0.2), clicks(22050, 2, 0.25)));
    local = localRenderer();
  });
  afterAll(async () => {
    await local.close();
  });

  // the run config is placed first, then the debug video, then the output
  for (const name of ['out.run.json', 'out.debug.mp4', 'out.mp4']) {
    it(`killed between linking ${name} and unlinking its temporary name: run again, it finishes in place`, { timeout: 180_000 }, async () => {
      const dir = tempDir('gance-placing-');
      const killed = spawnSync(process.execPath, ['--import', 'tsx', SCRIPT, dir, song, name], { cwd: REPO, encoding: 'utf8' });
      expect(killed.signal, killed.stderr).toBe('SIGKILL');
      // the crash point: the file at its name and its temporary name are one file
      const temp = readdirSync(dir).find((n) => n.startsWith(`.${name}.tmp-`));
      expect(temp, readdirSync(dir).join(' ')).toBeDefined();
      expect(statSync(join(dir, temp!)).ino).toBe(statSync(join(dir, name)).ino);

      const spec = { audio: [song], networks: ['demo-64'], latents: { fps: 24 }, output: { path: join(dir, 'out.mp4'), preset: 'ultrafast', debugPath: join(dir, 'out.debug.mp4') } } as RenderSpec;
      const r = await runRender(spec, local.deps, { workDir: join(dir, 'work'), segmentFrames: 24 });
      expect(r.output).toBe(join(dir, 'out.mp4'));
      expect(probeStream(r.output, 'v').nb_read_frames).toBe('48');
      expect(probeStream(join(dir, 'out.debug.mp4'), 'v').nb_read_frames).toBe('48');
      // nothing kept aside, no temporary name left, the work folder cleared
      expect(readdirSync(dir).sort()).toEqual(['out.debug.mp4', 'out.mp4', 'out.run.json']);
      expect(existsSync(join(dir, 'work'))).toBe(false);
    });
  }
});
