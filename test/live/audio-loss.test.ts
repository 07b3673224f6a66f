/**
 * Audio that ends or fails mid-session: the projector keeps the last frame. A file without loop
 * ends the session's audio (state ended); a source that fails (a card unplugged) is retried and the
 * session comes back on its own.
 */
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { LatentsService } from '../../src/latents/service.ts';
import { createLiveService } from '../../src/live/service.ts';
import { localRenderer } from '../render/helpers.ts';
import { tempDir, toneWav } from './helpers.ts';

describe('live audio that ends or fails', () => {
  const local = localRenderer();
  let failuresLeft = 0;
  // the real latents service, its first stream failing after 5 frames like a capture device that goes away
  const latents: LatentsService = {
    ...local.deps.latents,
    async *live(params, source, opts) {
      let n = 0;
      for await (const f of local.deps.latents.live(params, source, opts)) {
        yield f;
        if (++n === 5 && failuresLeft > 0) {
          failuresLeft--;
          throw new Error('capture device went away');
        }
      }
    },
  };
  const service = createLiveService({ networks: local.deps.networks, latents, log: pino({ level: 'silent' }), registry: new Registry(), audioRetryMs: 200 });
  let wav: string;

  beforeAll(() => {
    wav = toneWav(tempDir(), 0.5);
  });
  afterAll(async () => {
    await service.stopAll();
    await local.close();
  });

  it('a file without loop ends the audio; the last frame stays up for new clients', async () => {
    const s = await service.start({ audio: { kind: 'file', path: wav, loop: false }, networks: ['demo-64'], fps: 30 });
    await vi.waitFor(() => expect(s.view().state).toBe('ended'), { timeout: 15_000, interval: 20 });
    // 'ended' is the audio's end: the frames of its last latents may still be in synthesis or JPEG
    // (on a loaded machine all of them, the first included). Once each latent is shown or dropped
    // the session has nothing more to show, and the last frame must be up.
    await vi.waitFor(
      () => {
        const { started, shown, dropped } = s.view().frames as { started: number; shown: number; dropped: Record<string, number> };
        expect(shown + Object.values(dropped).reduce((a, b) => a + b, 0)).toBe(started);
      },
      { timeout: 15_000, interval: 20 },
    );
    const last = s.hub.latest;
    expect(last).not.toBeNull();
    const got: number[] = [];
    s.hub.add({ output: 'mjpeg', dropped: 0, offer: (f) => got.push(f.seq), close: () => {} });
    expect(got).toEqual([last!.seq]);
    await service.stop(s.id);
  }, 30_000);

  it('a source that fails mid-session is retried: audio-lost, then running again with new frames', async () => {
    failuresLeft = 1;
    const s = await service.start({ audio: { kind: 'file', path: wav }, networks: ['demo-64'], fps: 30 });
    const states = new Set<string>();
    await vi.waitFor(
      () => {
        states.add(s.view().state);
        expect(states.has('audio-lost') || s.view().error?.includes('capture device went away')).toBe(true);
      },
      { timeout: 15_000, interval: 1 },
    );
    const shown = s.view().frames.shown;
    await vi.waitFor(() => expect(s.view()).toMatchObject({ state: 'running', error: null }), { timeout: 15_000, interval: 20 });
    await vi.waitFor(() => expect(s.view().frames.shown).toBeGreaterThan(shown + 3), { timeout: 15_000, interval: 20 });
    await service.stop(s.id);
  }, 30_000);
});
