/**
 * The embedded default daemon (createDaemon with config/default.yaml, port 0): simulated zones
 * under control in /v1/thermal and /metrics, through the real loop, sensors and cooler path.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfigFile } from '../../src/config/load.ts';
import { createDaemon } from '../../src/daemon.ts';
import type { SimulatedCooler } from '../../src/cooler/simulated.ts';
import type { ThermalView } from '../../src/thermal/service/view.ts';
import { untilAsync } from './service/harness.ts';

describe('embedded default daemon', () => {
  it('shows the simulated zones under control in /v1/thermal and /metrics', { timeout: 45_000 }, async () => {
    const config = loadConfigFile();
    config.server.port = 0;
    config.stateDir = mkdtempSync(join(tmpdir(), 'gance-daemon-'));
    const daemon = await createDaemon({ config, log: pino({ level: 'silent' }) });
    await daemon.start();
    try {
      expect(config.thermal.zones.map((z) => z.id)).toEqual(['gpu0', 'gpu1']);
      // under control: every zone has a temperature, no failsafe, and the PID has taken the fans below full
      const state = await untilAsync(
        'zones under control',
        async () => {
          const s = (await daemon.app.inject('/v1/thermal')).json() as ThermalView;
          return s.zones.length === 2 && s.zones.every((z) => !z.failsafe && z.temperature !== null && z.duty < 1 && z.fans.every((f) => f.rpm !== null && f.rpm > 0)) ? s : undefined;
        },
        15_000,
      );
      expect(state.sensors).toMatchObject({ source: 'simulated', running: true });
      expect(state.gpus.map((g) => g.index)).toEqual([0, 1]);
      expect(state.gpus[0]!.name).toBe('Tesla K80 (simulated)');
      expect(state.thermistors.map((t) => t.id)).toEqual(['gpu0-sink', 'gpu1-sink']);
      for (const z of state.zones) expect(z).toMatchObject({ mode: 'pid', setpoint: 75, alarms: [] });
      // duties really reach the simulated fans
      const cooler = daemon.cooler as SimulatedCooler;
      expect(cooler.plantAttached).toBe(true);
      expect(cooler.dutyOf('gpu1-b')).toBeLessThan(1);

      const metrics = (await daemon.app.inject('/metrics')).body;
      for (const zone of ['gpu0', 'gpu1']) {
        // below full (0 when the idle zone has stopped its fans)
        expect(metrics).toMatch(new RegExp(`^gance_zone_duty_ratio\\{zone="${zone}"\\} 0(\\.\\d+)?$`, 'm'));
        expect(metrics).toMatch(new RegExp(`^gance_zone_setpoint_celsius\\{zone="${zone}"\\} 75$`, 'm'));
        expect(metrics).toMatch(new RegExp(`^gance_thermal_failsafe\\{zone="${zone}",reason="sensor-stale"\\} 0$`, 'm'));
      }
      expect(metrics).toMatch(/^gance_gpu_temperature_celsius\{gpu="1"\} \d+/m);
      expect(metrics).toMatch(/^gance_fan_rpm\{fan="gpu0-a"\} \d+/m);
      expect(metrics).toMatch(/^gance_thermal_loop_lateness_seconds_count \d+/m);
      expect((await daemon.app.inject('/readyz')).json().notReady).not.toContain('thermal');
      // Give synthesis a while to finish loading before stopping: a stop in the middle of an
      // onnxruntime load once killed the process (reported; not a thermal matter). Thermal does
      // not depend on it, so a synthesis that never gets ready does not fail this test.
      await untilAsync('daemon ready', async () => (await daemon.app.inject('/readyz')).statusCode === 200, 8000).catch(() => undefined);
    } finally {
      await daemon.stop();
    }
    // the stop left the fans at full
    const cooler = daemon.cooler as SimulatedCooler;
    expect(['gpu0-a', 'gpu1-c'].map((f) => cooler.dutyOf(f))).toEqual([1, 1]);
  });
});
