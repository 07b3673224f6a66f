/**
 * Power limits through nvidia-smi -pl, against the fake nvidia-smi put first on PATH (it keeps
 * its limits in a state file between calls, and refuses -pl unless it stands for root), and the
 * yield controller driving them: lowered while a zone yields, the default back on recovery, at
 * stop and at start; a refusal is an alarm naming the privilege.
 */
import { mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ThermalYield, type YieldZoneReading } from '../../../src/thermal/yield/controller.ts';
import { YieldConfig } from '../../../src/thermal/yield/config.ts';
import { PowerLimitError, nvidiaSmiPowerLimiter } from '../../../src/thermal/yield/power-limit.ts';

const quiet = pino({ level: 'silent' });

function fakeOnPath(root: boolean) {
  const dir = mkdtempSync(join(tmpdir(), 'gance-pl-'));
  symlinkSync(resolve('test/fixtures/fake-nvidia-smi/nvidia-smi'), join(dir, 'nvidia-smi'));
  const state = join(dir, 'limits.json');
  const env = { ...process.env, PATH: `${dir}:${process.env.PATH}`, FAKE_NVIDIA_SMI_STATE: state, FAKE_NVIDIA_SMI_ROOT: root ? '1' : '0', FAKE_NVIDIA_SMI_GPUS: JSON.stringify([{ index: 0 }, { index: 1 }]) };
  const limits = (): Record<string, number> => {
    try {
      return (JSON.parse(readFileSync(state, 'utf8')) as { limits: Record<string, number> }).limits;
    } catch {
      return {};
    }
  };
  return { env, limits };
}

const cfg = (o: Partial<YieldConfig['powerLimit']> = {}) => {
  const c = Value.Default(YieldConfig, {}) as YieldConfig;
  c.powerLimit = { ...c.powerLimit, enabled: true, ...o };
  return c;
};

const reading = (temperature: number, duty = 1): YieldZoneReading => ({ id: 'z', gpus: [1], temperature, duty, ceiling: 1, failsafe: false, criticalC: 90 });

describe('nvidia-smi power limit', () => {
  it('reads the limits and sets one through nvidia-smi found on PATH', async () => {
    const f = fakeOnPath(true);
    const pl = nvidiaSmiPowerLimiter(['nvidia-smi'], { env: f.env });
    expect(await pl.read(1)).toEqual({ defaultW: 149, minW: 100, maxW: 175, currentW: 149 });
    await pl.set(1, 110);
    expect(f.limits()).toEqual({ '1': 110 });
    expect((await pl.read(1)).currentW).toBe(110);
    await expect(pl.set(1, 20)).rejects.toThrow(/not a valid power limit .* between 100\.00 W and 175\.00 W/);
  });

  it('without root: a denied error that names the privilege', async () => {
    const f = fakeOnPath(false);
    const pl = nvidiaSmiPowerLimiter(['nvidia-smi'], { env: f.env });
    const err = await pl.set(0, 110).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PowerLimitError);
    expect((err as PowerLimitError).denied).toBe(true);
    expect((err as Error).message).toMatch(/Insufficient Permissions.*needs root: nvidia-smi -pl "requires root"/);
    expect(f.limits()).toEqual({});
  });

  it('yielding lowers the limit, restores the default on recovery and at stop, and at start puts back one left lowered', async () => {
    const f = fakeOnPath(true);
    const pl = nvidiaSmiPowerLimiter(['nvidia-smi'], { env: f.env });
    await pl.set(1, 120); // an earlier run died while yielding
    let now = 0;
    const y = new ThermalYield(cfg({ share: 0.7 }), { renders: () => undefined, live: () => undefined }, pl, quiet, { now: () => now });
    await y.start([1]);
    expect(f.limits()).toEqual({ '1': 149 });
    // fans at full, 85 C and rising
    for (const t of [84, 85, 86]) {
      y.update([reading(t)]);
      now += 1;
    }
    await y.settled();
    expect(f.limits()).toEqual({ '1': 104 }); // 0.7 x 149, above the 100 W minimum
    expect(y.view().zones[0]).toMatchObject({ step: 1, powerLimit: [{ gpu: 1, watts: 104, defaultW: 149, error: null }] });
    expect(y.powerLimits()).toEqual([{ gpu: 1, watts: 104 }]);
    // cooled under critical - 12 for the release hold, step by step back to 0
    for (let k = 0; k < 30; k++) {
      y.update([reading(70)]);
      now += 1;
    }
    expect(y.view().zones[0]!.step).toBe(0);
    await y.stop();
    expect(f.limits()).toEqual({ '1': 149 });
    // yielding again, then the daemon stops: the default goes back
    for (const t of [84, 85, 86]) {
      y.update([reading(t)]);
      now += 1;
    }
    await y.stop();
    expect(f.limits()).toEqual({ '1': 149 });
    expect(y.view().zones[0]!.step).toBe(0);
  });

  it('a refused limit is an alarm naming root; yielding itself goes on and nvidia-smi is not asked again', async () => {
    const f = fakeOnPath(false);
    const calls: string[] = [];
    const inner = nvidiaSmiPowerLimiter(['nvidia-smi'], { env: f.env });
    const pl = { kind: inner.kind, read: (g: number) => (calls.push(`read ${g}`), inner.read(g)), set: (g: number, w: number) => (calls.push(`set ${g} ${w}`), inner.set(g, w)) };
    let now = 0;
    const y = new ThermalYield(cfg(), { renders: () => undefined, live: () => undefined }, pl, quiet, { now: () => now });
    for (const t of [84, 85, 86]) {
      y.update([reading(t)]);
      now += 1;
    }
    await y.settled();
    const alarms = y.alarms('z');
    expect(alarms.map((a) => a.kind)).toEqual(['thermal-yield', 'power-limit-failed']);
    expect(alarms[1]!.message).toMatch(/needs root/);
    expect(alarms.every((a) => !a.failsafe)).toBe(true);
    // the next steps do not call nvidia-smi -pl again
    for (let k = 0; k < 25; k++) {
      y.update([reading(87 + k * 0.05)]);
      now += 1;
    }
    expect(y.view().zones[0]!.step).toBeGreaterThan(1);
    expect(calls).toEqual(['read 1', 'set 1 104']);
  });
});
