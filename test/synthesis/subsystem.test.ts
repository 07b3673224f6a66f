/** The daemon mounts the latents service (synthesis.latents): its gance_latents_* series are on /metrics. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config/load.ts';
import { createDaemon } from '../../src/daemon.ts';
import { clicks, tempDir, writeWav } from '../audio/wav.ts';

describe('synthesis subsystem: latents', () => {
  it('creates the latents service from synthesis.latents and serves its series on the daemon /metrics', { timeout: 30_000 }, async () => {
    const config = loadConfigFile();
    config.server.port = 0;
    config.server.metricsCacheMs = 0; // 'after' must not be the exposition built for 'before'
    config.stateDir = mkdtempSync(join(tmpdir(), 'gance-daemon-'));
    config.synthesis.enabled = false; // no inference workers: the latents need none
    config.synthesis.latents.fps = 30;
    const daemon = await createDaemon({ config, log: pino({ level: 'silent' }) });
    try {
      const before = (await daemon.app.inject('/metrics')).body;
      expect(before).toContain('# TYPE gance_latents_frames_total counter');
      expect(before).toContain('# TYPE gance_latents_prepare_seconds histogram');
      expect(before).toContain('# TYPE gance_latents_live_latency_seconds histogram');

      const synthesis = { latents: daemon.services.get('latents') };
      expect(synthesis.latents.config).toBe(config.synthesis.latents);
      const file = join(tempDir(), 'beat.wav');
      writeWav(file, 48000, 1, clicks(48000, 1, 0.125));
      const plan = await synthesis.latents.prepare([file]);
      let n = 0;
      for await (const f of synthesis.latents.offline(plan, synthesis.latents.params(2))) {
        expect(f.z).toHaveLength(512);
        n++;
      }
      expect(n).toBe(30); // 1 s at the configured 30 fps
      // the analysis threads (synthesis.latents.analysisThreads, 2 by default) did the spectrogram
      expect(plan.timings.spectrogramAndRich).toBeDefined();
      const again = await synthesis.latents.prepare([file]);
      expect(Buffer.compare(Buffer.from(again.spectrogram.all().buffer), Buffer.from(plan.spectrogram.all().buffer))).toBe(0);

      const after = (await daemon.app.inject('/metrics')).body;
      expect(after).toMatch(/^gance_latents_frames_total\{mode="noise-blend",source="offline"\} 30$/m);
      expect(after).toMatch(/^gance_latents_prepare_seconds_count\{stage="decode"\} 2$/m);
      const lint = join(tempDir(), 'metrics.txt');
      writeFileSync(lint, after);
      execFileSync('sh', ['-c', `promtool check metrics < ${lint}`]);
    } finally {
      await daemon.app.close();
    }
  });
});
