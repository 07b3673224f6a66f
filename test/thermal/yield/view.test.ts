/**
 * /v1/thermal's yield view in the embedded default daemon shows where each zone GPU's render rate
 * comes from: the operator's rate set on the renders' throttle reaches the API as the effective
 * rate, from the operator, with no yielding rate beside it.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { loadConfigFile } from '../../../src/config/load.ts';
import { createDaemon, type Daemon } from '../../../src/daemon.ts';
import type { ThermalView } from '../../../src/thermal/service/view.ts';

let daemon: Daemon | undefined;
afterAll(async () => daemon?.stop());

describe('yield view in /v1/thermal', () => {
  it('shows each zone GPU\'s effective render rate and whether the operator or yielding set it', { timeout: 120_000 }, async () => {
    const config = loadConfigFile();
    config.server.port = 0;
    config.stateDir = mkdtempSync(join(tmpdir(), 'gance-yield-view-'));
    config.synthesis.workers = [{ ...config.synthesis.workers[0]!, gpu: 0, intraOpThreads: 1 }];
    daemon = await createDaemon({ config, log: pino({ level: 'silent' }) });
    const d = daemon;
    await d.start();
    // the synthesis worker is up before the daemon is stopped: stopping it while onnxruntime loads a
    // network in its worker thread once took the whole test process down (CI, a loaded 2-core machine)
    await vi.waitFor(() => expect(d.supervisor.notReady()).toEqual([]), { timeout: 60_000, interval: 50 });
    d.services.get('renders').throttle.setRate(1, 12.5, 'operator: quiet hours');
    const zones = async () => ((await d.app.inject('/v1/thermal')).json() as ThermalView).yield?.zones ?? [];
    await vi.waitFor(async () => expect((await zones()).map((z) => z.zone).sort()).toEqual(['gpu0', 'gpu1']), { timeout: 20_000, interval: 50 });
    const byZone = Object.fromEntries((await zones()).map((z) => [z.zone, z]));
    expect(byZone.gpu0).toMatchObject({ step: 0, renderRate: [{ gpu: 0, paused: false, fps: null, fpsFrom: null, operatorFps: null, yieldFps: null }] });
    expect(byZone.gpu1).toMatchObject({ step: 0, renderRate: [{ gpu: 1, paused: false, fps: 12.5, fpsFrom: 'operator', operatorFps: 12.5, yieldFps: null }] });
  });
});
