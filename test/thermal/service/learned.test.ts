/** What the zones learn about the rig (duty per watt) survives a restart through the state directory (issue 14). */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createZoneController, type ZoneController } from '../../../src/thermal/control/index.ts';
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
    expect(z.learned).toEqual({ dutyPerWattFactor: 1.4, dutyPerWatt: Number((1.4 * z.settings.feedForward!.dutyPerWatt!).toFixed(6)), learnedSeconds: 1200 });
    expect(h.logged(/starts from the duty per watt it learned before \(x1\.400\)/)).toBeDefined();
    expect(controller!.restoreLearned({ dutyPerWattFactor: 1.25, learnedSeconds: 1300 })).toBe(true);
    await h.service.stop();
    const saved = JSON.parse(readFileSync(join(stateDir, LEARNED_FILE), 'utf8'));
    expect(saved).toEqual({ version: 1, zones: { gpu0: { dutyPerWattFactor: 1.25, learnedSeconds: 1300 } } });
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
