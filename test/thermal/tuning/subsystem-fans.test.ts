/** At start the daemon's allocation takes the measured fan figures, except for pinned fans. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../../src/api/app.ts';
import { resolveConfig } from '../../../src/config/load.ts';
import { SimulatedCooler } from '../../../src/cooler/simulated.ts';
import { createEventBus } from '../../../src/events.ts';
import { createRegistry } from '../../../src/metrics.ts';
import { ServiceRegistry } from '../../../src/subsystem.ts';
import { thermalSubsystem } from '../../../src/thermal/subsystem.ts';
import { saveFanReport, type FanCharacterisation } from '../../../src/thermal/tuning/fan-measure.ts';

const measured = (id: string): FanCharacterisation => ({ id, pass: true, problems: [], maxRpm: 8800, minDuty: 0.12, startDuty: 0.3, curve: [{ duty: 1, rpm: 8800 }] });

describe('measured fan figures at start', () => {
  it('replace minDuty/startDuty/maxRpm (with margins) unless thermal.measuredFans pins the fan', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'gance-fans-start-'));
    await saveFanReport(stateDir, { measuredAt: new Date().toISOString(), pass: true, thermistors: [], fans: [measured('f0'), measured('f1')] });
    const c = resolveConfig({
      stateDir,
      cooler: { driver: 'simulated', fans: [{ id: 'f0', channel: 0 }, { id: 'f1', channel: 1 }] },
      thermal: { measuredFans: { pin: ['f1'] }, zones: [{ id: 'z0', gpus: [0], fans: ['f0', 'f1'] }] },
    });
    const registry = createRegistry();
    const cooler = new SimulatedCooler(c.cooler);
    const sub = await thermalSubsystem({ config: c, log: pino({ level: 'silent' }), registry, cooler, events: createEventBus(), services: new ServiceRegistry() });
    const app = await buildApp({ registry, plugins: sub.plugins, notReady: () => [] });
    try {
      const r = (await app.inject('/v1/thermal/fans')).json();
      expect(r.inUse).toEqual([
        { id: 'f0', channel: 0, maxRpm: 8800, minDuty: 0.17, startDuty: 0.4, maxDba: 40 },
        { id: 'f1', channel: 1, maxRpm: 9000, minDuty: 0.2, startDuty: 0.5, maxDba: 40 },
      ]);
      expect(r.report.fans).toHaveLength(2);
    } finally {
      await app.close();
      await cooler.close();
    }
  });

  it('a stored report with figures no fan has (negative duty, duty over 1, 1e308 rpm) is not used: the configured figures stay, a warning says why', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'gance-fans-start-'));
    // written by hand or by a broken tool: it passed as a report, and minDuty -4.95 went to the allocation
    const bad = { ...measured('f0'), minDuty: -5, startDuty: 7, maxRpm: 1e308 };
    writeFileSync(join(stateDir, 'fan-characterisation.json'), JSON.stringify({ measuredAt: new Date().toISOString(), pass: true, thermistors: [], fans: [bad] }));
    const c = resolveConfig({
      stateDir,
      cooler: { driver: 'simulated', fans: [{ id: 'f0', channel: 0 }] },
      thermal: { zones: [{ id: 'z0', gpus: [0], fans: ['f0'] }] },
    });
    const registry = createRegistry();
    const cooler = new SimulatedCooler(c.cooler);
    const warnings: string[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => void warnings.push((JSON.parse(line) as { msg: string }).msg) });
    const sub = await thermalSubsystem({ config: c, log, registry, cooler, events: createEventBus(), services: new ServiceRegistry() });
    const app = await buildApp({ registry, plugins: sub.plugins, notReady: () => [] });
    try {
      expect((await app.inject('/v1/thermal/fans')).json().inUse).toEqual([{ id: 'f0', channel: 0, maxRpm: 9000, minDuty: 0.2, startDuty: 0.5, maxDba: 40 }]);
      expect(warnings.join('\n')).toMatch(/stored fan characterisation not used: .*fan-characterisation\.json.*fans\[0\]\.(minDuty: must be >= 0|startDuty: must be <= 1|maxRpm: must be null, or must be <= 100000)/);
    } finally {
      await app.close();
      await cooler.close();
    }
  });
});
