/**
 * Frames starting after an idle spell tell thermal control that a load is coming: with the embedded
 * default daemon and its worker declared on GPU 0, the first frame lifts zone gpu0's feed-forward
 * before the GPU has warmed; zone gpu1 (no worker) is left alone; frames in a steady stream send
 * no more hints.
 */
import { afterAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigFile } from '../../src/config/load.ts';
import { createDaemon, type Daemon } from '../../src/daemon.ts';
import type { ThermalView } from '../../src/thermal/service/view.ts';

let daemon: Daemon | undefined;
afterAll(async () => daemon?.stop());

describe('load hints from synthesis', () => {
  it('the first frames after idle lift the feed-forward of the zone of the worker\'s GPU, once', { timeout: 60_000 }, async () => {
    const config = loadConfigFile();
    config.server.port = 0;
    config.stateDir = mkdtempSync(join(tmpdir(), 'gance-hint-'));
    config.synthesis.workers = [{ ...config.synthesis.workers[0]!, gpu: 0 }];
    config.synthesis.loadHint = { watts: 150, seconds: 20, idleSeconds: 1 };
    // the idle dies within 20 C of the setpoint: far under it, a hinted load's term comes in as the die nears (zone tests)
    for (const z of config.thermal.zones) z.pid.setpoint = 50;
    daemon = await createDaemon({ config, log: pino({ level: 'silent' }) });
    const hints: Array<{ gpus: number[]; watts: number; source: string }> = [];
    daemon.events.on('load-hint', (h) => hints.push(h));
    await daemon.start();
    const t0 = Date.now();
    while (daemon.supervisor.notReady().length > 0) {
      if (Date.now() - t0 > 45_000) throw new Error(`not ready: ${daemon.supervisor.notReady()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const zones = async () => ((await daemon!.app.inject('/v1/thermal')).json() as ThermalView).zones;
    const before = await zones();
    expect(before.every((z) => z.terms.ff < 0.05)).toBe(true);

    const pool = daemon.services.get('networks').pool!;
    const frame = () => pool.submit({ feeds: { z: new Float32Array(512), psi: Float32Array.of(1) } });
    await frame();
    for (let i = 0; i < 5; i++) await frame();
    expect(hints).toEqual([{ gpus: [0], watts: 150, seconds: 20, source: 'synthesis' }]);

    // the thermal loop takes it on its next ticks: gpu0 leads, gpu1 does not move
    let after = await zones();
    for (let i = 0; i < 50 && !(after[0]!.terms.ff > 0.1); i++) {
      await new Promise((r) => setTimeout(r, 100));
      after = await zones();
    }
    expect(after[0]!.terms.ff).toBeGreaterThan(0.1);
    expect(after[0]!.temperature!).toBeLessThan(before[0]!.temperature! + 5);
    expect(after[1]!.terms.ff).toBeLessThan(0.05);

    // after an idle spell, the next frame hints again
    await new Promise((r) => setTimeout(r, 1100));
    await frame();
    expect(hints).toHaveLength(2);
  });
});
