/** What the zones learn about the rig (duty per watt) survives a restart through the state directory (issue 14). */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createRigIdentifier, createZoneController, type ZoneController } from '../../../src/thermal/control/index.ts';
import { LEARNED_FILE } from '../../../src/thermal/service/learned-store.ts';
import { harness, type Harness } from './harness.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const pid = { mode: 'pid' };

describe('thermal service: learned duty per watt', () => {
  it('starts from what the state directory says, shows it, and saves a change at stop', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'gance-learned-'));
    writeFileSync(join(stateDir, LEARNED_FILE), JSON.stringify({ version: 1, zones: { gpu0: { dutyPerWattFactor: 1.4, learnedSeconds: 1200 }, gone: { dutyPerWattFactor: 1.1, learnedSeconds: 5 } } }));
    let controller: ZoneController | undefined;
    h = await harness({
      stateDir,
      zone: pid,
      controllerFactory: (z, fans) => (controller = createZoneController(z, fans)),
    });
    const z = await h.zone();
    expect(z.learned).toMatchObject({ dutyPerWattFactor: 1.4, dutyPerWatt: Number((1.4 * z.settings.feedForward!.dutyPerWatt!).toFixed(6)), learnedSeconds: 1200 });
    expect(h.logged(/starts from the duty per watt it learned before \(x1\.400\)/)).toBeDefined();
    expect(controller!.restoreLearned({ dutyPerWattFactor: 1.25, learnedSeconds: 1300 })).toBe(true);
    await h.service.stop();
    const saved = JSON.parse(readFileSync(join(stateDir, LEARNED_FILE), 'utf8'));
    expect(saved).toEqual({ version: 1, zones: { gpu0: { dutyPerWattFactor: 1.25, learnedSeconds: 1300, rigs: controller!.state().rigStates } } });
  });

  it('keeps the identified rig in the state directory: restored at start, shown in GET /v1/thermal, saved at stop; a rig it cannot use is ignored with a warning', async () => {
    // a rig identified elsewhere: a first-order heatsink of 600 J/K, 2 W/K still, 5 W/K at full airflow, fed 150 W at changing duties
    const id = createRigIdentifier();
    let temp = 40;
    for (let t = 0; t < 2400; t += 0.2) {
      const x = [0.3, 0.9, 0.5][Math.floor(t / 400) % 3]!;
      const p = Math.floor(t / 300) % 2 ? 150 : 60;
      id.step(0.2, Math.round(temp), p, x, 30);
      temp += (0.2 * (p - (2 + 3 * x ** 0.6) * (temp - 30))) / 600;
    }
    const rig = id.state();
    expect(rig.updates).toBeGreaterThan(100);
    const stateDir = mkdtempSync(join(tmpdir(), 'gance-learned-'));
    writeFileSync(join(stateDir, LEARNED_FILE), JSON.stringify({ version: 1, zones: { gpu0: { dutyPerWattFactor: 1, learnedSeconds: 0, rigs: [rig] } } }));
    let controller: ZoneController | undefined;
    h = await harness({ stateDir, zone: pid, controllerFactory: (z, fans) => (controller = createZoneController(z, fans)) });
    const shown = (await h.zone()).learned.rigs;
    expect(shown).toHaveLength(1);
    expect(shown[0]!.gpu).toBe(0);
    expect(shown[0]!.heatCapacityJPerK).toBeGreaterThan(540);
    expect(shown[0]!.heatCapacityJPerK).toBeLessThan(660);
    expect(shown[0]!.fullWPerK).toBeGreaterThan(4.5);
    expect(shown[0]!.fullWPerK).toBeLessThan(5.5);
    expect(shown[0]!.updates).toBeGreaterThanOrEqual(rig.updates);
    await h.service.stop();
    const saved = JSON.parse(readFileSync(join(stateDir, LEARNED_FILE), 'utf8'));
    expect(saved.zones.gpu0.rigs).toEqual(controller!.state().rigStates);
    expect(saved.zones.gpu0.rigs[0].theta).toHaveLength(4);
    await h.close();
    h = undefined;
    // a rig out of bounds: the zone starts from its config, warned
    const bad = mkdtempSync(join(tmpdir(), 'gance-learned-'));
    writeFileSync(join(bad, LEARNED_FILE), JSON.stringify({ version: 1, zones: { gpu0: { dutyPerWattFactor: 1.2, learnedSeconds: 5, rigs: [{ ...rig, theta: [99, 1, 1, 0] }] } } }));
    h = await harness({ stateDir: bad, zone: pid });
    const z = await h.zone();
    expect(z.learned.dutyPerWattFactor).toBe(1);
    expect(z.learned.rigs[0]!.updates).toBe(0);
    expect(h.logged(/out of bounds: ignored/)).toBeDefined();
  });

  it('ignores a file it cannot use, or a value out of bounds, with a warning: the zone starts from its config', async () => {
    for (const body of ['{not json', JSON.stringify({ version: 1, zones: { gpu0: { dutyPerWattFactor: 9, learnedSeconds: 1 } } })]) {
      const stateDir = mkdtempSync(join(tmpdir(), 'gance-learned-'));
      writeFileSync(join(stateDir, LEARNED_FILE), body);
      h = await harness({ stateDir, zone: pid });
      expect((await h.zone()).learned.dutyPerWattFactor).toBe(1);
      expect(h.logged(/is not usable|out of bounds: ignored/)).toBeDefined();
      await h.close();
      h = undefined;
    }
  });
});
