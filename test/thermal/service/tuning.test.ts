/** Run-time tuning through the service itself (what an in-process caller gets, without the API's schema in front). */
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BadRequestError } from '../../../src/api/errors.ts';
import type { ZoneTuning } from '../../../src/thermal/service/tuning.ts';
import { harness, type Harness } from './harness.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('thermal service tuning', () => {
  it('refuses a non-finite, out-of-range or oversized tuning from an in-process caller, naming the field: nothing applied, nothing saved', async () => {
    h = await harness({ zone: { mode: 'pid', pid: { setpoint: 70 } } });
    await h.underControl();
    const cases: Array<[unknown, string]> = [
      [{ pid: { setpoint: -Infinity } }, 'pid.setpoint: must be a finite number, got -Infinity'],
      [{ pid: { kp: Number.NaN } }, 'pid.kp: must be a finite number, got NaN'],
      [{ criticalCelsius: Infinity }, 'criticalCelsius: must be a finite number, got Infinity'],
      [{ criticalCelsius: 150 }, 'criticalCelsius: must be <= 105'],
      [{ curve: Array.from({ length: 33 }, (_, k) => [30 + k, 0.5]) }, 'curve: must have at most 32 item(s)'],
    ];
    for (const [patch, message] of cases) {
      for (const mode of ['merge', 'replace'] as const) {
        const err = await h.service.tune('gpu0', patch as ZoneTuning, mode).catch((e: unknown) => e);
        expect(err, `${mode} ${message}`).toBeInstanceOf(BadRequestError);
        expect((err as Error).message, mode).toBe(message);
      }
    }
    const z = await h.underControl();
    expect(z).toMatchObject({ setpoint: 70, criticalCelsius: 90, tuned: null, failsafe: false });
    expect(existsSync(join(h.stateDir, 'thermal-tuning.json'))).toBe(false);
    // the zone rules apply here as well
    await expect(h.service.tune('gpu0', { pid: { setpoint: 88 } })).rejects.toThrow('pid.setpoint: must be at most criticalCelsius - 3 (87), got 88');
  });
});
