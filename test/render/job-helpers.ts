import { Value } from '@sinclair/typebox/value';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigFile } from '../../src/config/load.ts';
import { RenderSpec } from '../../src/render/spec.ts';

export function tempDir(prefix = 'gance-render-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A complete spec with the schema's defaults, as the API stores it. */
export function spec(over: { audio?: string[]; networks?: string[]; priority?: number; path?: string } = {}): RenderSpec {
  const s = Value.Default(RenderSpec, {
    audio: over.audio ?? ['/media/a.wav'],
    networks: over.networks ?? ['demo-64'],
    latents: {},
    output: { path: over.path ?? '/out/a.mp4' },
    ...(over.priority === undefined ? {} : { priority: over.priority }),
  }) as RenderSpec;
  if (!Value.Check(RenderSpec, s)) throw new Error(`bad test spec: ${[...Value.Errors(RenderSpec, s)].map((e) => `${e.path} ${e.message}`).join('; ')}`);
  return s;
}

import type { Job } from '../../src/render/queue.ts';
import type { RenderScheduler } from '../../src/render/scheduler.ts';

/** Resolves with the job once it matches (now or at a later change); no polling, no sleeps. */
export function until(s: RenderScheduler, id: string, pred: (j: Job) => boolean, what = 'the expected state'): Promise<Job> {
  return new Promise((resolve, reject) => {
    const now = s.view(id);
    if (now && pred(now)) return resolve(now);
    const timer = setTimeout(() => {
      s.off('job', on);
      reject(new Error(`render ${id} did not reach ${what}; it is ${JSON.stringify(s.view(id))}`));
    }, 15_000);
    const on = (j: Job) => {
      if (j.id !== id || !pred(j)) return;
      clearTimeout(timer);
      s.off('job', on);
      resolve(j);
    };
    s.on('job', on);
  });
}

/** The embedded config for a daemon whose renders a fake runner makes: no inference workers, media and outputs under `root`. */
export function fakeRunnerDaemonConfig(stateDir: string, root: string) {
  const c = loadConfigFile();
  c.server.port = 0;
  c.stateDir = stateDir;
  c.synthesis.enabled = false; // the fake runner needs no inference workers
  c.render.mediaRoot = join(root, 'media');
  c.render.outputRoot = join(root, 'out');
  c.render.progressIntervalMs = 0;
  c.synthesis.workers = [{ id: 'cpu0', providers: ['cpu'], gpu: 0, isolation: 'auto' }] as typeof c.synthesis.workers;
  return c;
}
