import { Value } from '@sinclair/typebox/value';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
