import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createRegistry } from '../../src/metrics.ts';
import { LatentsConfig } from '../../src/latents/config.ts';
import { createLatentsService } from '../../src/latents/service.ts';
import { clicks, tempDir, writeWav } from '../audio/wav.ts';

describe('latents service (what the daemon wires)', () => {
  it('prepares a track, streams its frames and a live source, and counts them in the registry', async () => {
    const registry = createRegistry();
    const config = { ...(Value.Default(LatentsConfig, {}) as LatentsConfig), streaming: { ...(Value.Default(LatentsConfig, {}) as LatentsConfig).streaming, noiseLoopFrames: 64 } };
    const svc = createLatentsService({ config, logger: pino({ level: 'silent' }), registry });
    const file = join(tempDir(), 'beat.wav');
    writeWav(file, 48000, 1, clicks(48000, 0.5, 0.125));
    const plan = await svc.prepare([file]);
    const params = svc.params(2);
    let n = 0;
    for await (const f of svc.offline(plan, params)) {
      expect(f.z).toHaveLength(512);
      n++;
    }
    expect(n).toBe(30);
    let live = 0;
    for await (const f of svc.live(params, { kind: 'ffmpeg', inputArgs: ['-f', 'lavfi', '-i', 'sine=frequency=440:duration=0.3'] })) {
      expect(f.index).toBe(live++);
    }
    expect(live).toBe(18);
    const text = await registry.metrics();
    expect(text).toMatch(/gance_latents_frames_total\{mode="noise-blend",source="offline"\} 30/);
    expect(text).toMatch(/gance_latents_frames_total\{mode="noise-blend",source="live"\} 18/);
    expect(text).toMatch(/gance_latents_prepare_seconds_count\{stage="resample"\} 1/);
    expect(text).toMatch(/gance_latents_live_latency_seconds_count 1[0-9]/);
  });
});
