/**
 * The whole daemon while its cooler port is not there yet: the cooler unit is still opening, so
 * thermal control has not started and nothing controls the fans. Every zone must read as in
 * failsafe (the honest state) in /metrics and /v1/thermal, not as under control.
 */
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createDaemon } from '../../src/daemon.ts';
import type { ThermalView } from '../../src/thermal/service/view.ts';
import { quietDaemonConfig } from '../api/daemon-config.ts';
import { REPO } from '../helpers/daemon-process.ts';
import { untilAsync } from './service/harness.ts';

describe('daemon waiting for an absent cooler port', () => {
  it('reports every zone in failsafe (reason not-started) until thermal control starts', { timeout: 60_000 }, async () => {
    const { root, config } = quietDaemonConfig('gance-cooler-wait-');
    config.cooler.driver = 'serial';
    config.cooler.path = join(root, 'no-such-cooler');
    config.thermal.sensors.source = 'nvidia-smi';
    config.thermal.sensors.nvidiaSmiPath = join(REPO, 'test/fixtures/fake-nvidia-smi/nvidia-smi');
    config.thermal.sensors.fallback = 'none';
    const daemon = await createDaemon({ config, log: pino({ level: 'silent' }) });
    const started = daemon.start().then(
      () => new Error('started without a cooler'),
      (err: unknown) => err as Error,
    );
    try {
      await untilAsync('the cooler unit opening', async () => daemon.supervisor.unitStatus('cooler') === 'starting', 10_000);
      expect(daemon.supervisor.unitStatus('thermal')).toBe('pending');
      const zones = config.thermal.zones.map((z) => z.id);
      expect(zones.length).toBeGreaterThan(0);

      const metrics = (await daemon.app.inject('/metrics')).body;
      for (const zone of zones) {
        expect(metrics).toMatch(new RegExp(`^gance_thermal_failsafe\\{zone="${zone}",reason="not-started"\\} 1$`, 'm'));
        expect(metrics).toMatch(new RegExp(`^gance_zone_duty_ratio\\{zone="${zone}"\\} 1$`, 'm'));
      }
      expect(metrics).toMatch(/^gance_thermal_cooler_link_up 0$/m);

      const view = (await daemon.app.inject('/v1/thermal')).json() as ThermalView;
      expect(view.failsafe).toBe(true);
      for (const z of view.zones) {
        expect(z.failsafe, z.id).toBe(true);
        expect(z.alarms.map((a) => [a.kind, a.failsafe]), z.id).toEqual([['not-started', true]]);
      }
      const ready = await daemon.app.inject('/readyz');
      expect(ready.statusCode).toBe(503);
      expect(ready.json().notReady).toEqual(expect.arrayContaining(['cooler', 'thermal']));
    } finally {
      await daemon.stop();
    }
    expect((await started).message).toMatch(/cooler/);
  });
});
