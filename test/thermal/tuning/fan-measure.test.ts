/** Fan characterisation and end-of-line test on the simulated rig, in simulated time. */
import { chmodSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { ZoneConfig } from '../../../src/thermal/config.ts';
import { FAN_40MM } from '../../../src/thermal/plant/index.ts';
import { FAN_FILE, effectiveFans, loadFanReport, measureFans, saveFanReport, type FanReport } from '../../../src/thermal/tuning/fan-measure.ts';
import { simulatedFanRig } from '../../../src/thermal/tuning/fan-rig.ts';
import { TuningAbortedError } from '../../../src/thermal/tuning/zone-io.ts';

const fans = ['gpu0-a', 'gpu0-b', 'gpu0-c'].map((id, channel) => ({ id, channel, maxRpm: 9000, minDuty: 0.2, startDuty: 0.5, maxDba: 40 }));
const cooler = { fans, thermistors: [{ id: 'sink0', channel: 0 }] };
const zones = [Value.Default(ZoneConfig, { id: 'gpu0', gpus: [0], fans: fans.map((f) => f.id), pid: { setpoint: 75 } }) as ZoneConfig];

describe('gance fans measure on the simulator', () => {
  it("finds each fan's start duty, minimum running duty, maximum rpm and curve; passes the end-of-line test", async () => {
    const rig = await simulatedFanRig(cooler, zones);
    const report = await measureFans(rig);
    await rig.close();
    expect(report.pass).toBe(true);
    for (const f of report.fans) {
      // the plant: stalls below 12 %, starts at 30 % (k80.ts)
      expect(f.minDuty).toBeCloseTo(FAN_40MM.stallDuty, 2);
      expect(f.startDuty).toBeCloseTo(FAN_40MM.startDuty, 2);
      expect(Math.abs(f.maxRpm! - FAN_40MM.maxRpm)).toBeLessThanOrEqual(60);
      const half = f.curve.find((p) => p.duty === 0.5)!.rpm!;
      expect(Math.abs(half - 4500)).toBeLessThanOrEqual(60);
    }
    expect(report.thermistors).toEqual([{ id: 'sink0', celsius: expect.any(Number), pass: true, problem: null }]);
    for (const f of fans) expect(rig.plant.fan(f.id).duty).toBe(1);

    const dir = mkdtempSync(join(tmpdir(), 'gance-fans-'));
    await saveFanReport(dir, report);
    const loaded = await loadFanReport(dir);
    const eff = effectiveFans(fans, loaded, ['gpu0-c']);
    expect(eff.fans[0]).toMatchObject({ minDuty: 0.17, startDuty: 0.4, maxRpm: report.fans[0]!.maxRpm });
    // pinned by the config: as configured
    expect(eff.fans[2]).toEqual(fans[2]);
    expect(eff.changes).toHaveLength(2);
  });

  it('fails a fan whose tach is cut and one whose PWM does not reach it', async () => {
    const rig = await simulatedFanRig(cooler, zones);
    rig.plant.setFanFault('gpu0-a', 'no-tach');
    rig.plant.setFanFault('gpu0-b', 'stalled');
    const report = await measureFans(rig);
    await rig.close();
    expect(report.pass).toBe(false);
    expect(report.fans.map((f) => [f.id, f.pass])).toEqual([['gpu0-a', false], ['gpu0-b', false], ['gpu0-c', true]]);
    expect(report.fans[0]!.problems[0]).toMatch(/^tach:/);
    expect(report.fans[1]!.problems[0]).toMatch(/^pwm:/);
    // a failed fan keeps its configured figures
    expect(effectiveFans(fans, report).fans[0]).toEqual(fans[0]);
  });

  it('stops with every fan at full when a GPU passes its setpoint + 5 C', async () => {
    const rig = await simulatedFanRig(cooler, zones, { watts: 150 });
    // 150 W with one fan slowing down and the GPU already hot
    rig.plant.setDuty('gpu0-a', 0);
    rig.plant.setDuty('gpu0-b', 0);
    rig.plant.setDuty('gpu0-c', 0);
    rig.plant.step(600);
    const err = await measureFans(rig).catch((e: unknown) => e);
    await rig.close();
    expect(err).toBeInstanceOf(TuningAbortedError);
    expect((err as Error).message).toMatch(/over its zone setpoint 75 C \+ 5 C/);
    for (const f of fans) expect(rig.plant.fan(f.id).duty).toBe(1);
  });

  it('concurrent saves each leave a whole, valid report with every fan saved, and no temp file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gance-fans-'));
    const one = (id: string, minDuty: number): FanReport => ({
      measuredAt: new Date(0).toISOString(),
      pass: true,
      // a long curve: a write that is not whole, or two interleaved, shows as broken JSON
      fans: [{ id, pass: true, problems: [], maxRpm: 9000, minDuty, startDuty: 0.3, curve: Array.from({ length: 101 }, (_, k) => ({ duty: (100 - k) / 100, rpm: 90 * (100 - k) })) }],
      thermistors: [],
    });
    for (let round = 0; round < 10; round++) {
      const saved = await Promise.allSettled(fans.map((f, k) => saveFanReport(dir, one(f.id, 0.1 + round / 100 + k / 1000))));
      expect(saved.map((r) => r.status), `round ${round}`).toEqual(fans.map(() => 'fulfilled'));
      const loaded = await loadFanReport(dir);
      // each save merges into the last: none loses another's fan
      expect(loaded!.fans.map((f) => [f.id, f.minDuty]).sort()).toEqual(fans.map((f, k) => [f.id, 0.1 + round / 100 + k / 1000]).sort());
      expect(readdirSync(dir)).toEqual([FAN_FILE]);
    }
  });

  it('a stored report that does not read is moved aside whole, not overwritten: the other fans\' figures stay on disk', async () => {
    const fan = (id: string): FanReport['fans'][number] => ({ id, pass: true, problems: [], maxRpm: 9000, minDuty: 0.1, startDuty: 0.3, curve: [{ duty: 1, rpm: 9000 }] });
    const report = (ids: string[]): FanReport => ({ measuredAt: new Date(0).toISOString(), pass: true, fans: ids.map(fan), thermistors: [] });
    const many = JSON.stringify(report(Array.from({ length: 65 }, (_, k) => `f${k}`)));
    const edited = JSON.stringify({ ...report(['a', 'b']), fans: [{ ...fan('a'), minDuty: -0.1 }, fan('b')] });
    for (const [stored, problem] of [
      [many, 'not a fan characterisation (fans: must have at most 64 item(s))'],
      [edited, 'not a fan characterisation (fans[0].minDuty: must be null, or must be >= 0)'],
      ['{"fans": [', 'not JSON ('],
    ] as const) {
      const dir = mkdtempSync(join(tmpdir(), 'gance-fans-'));
      const path = join(dir, FAN_FILE);
      writeFileSync(path, stored);
      const saved = await saveFanReport(dir, report(['gpu0-a']));
      expect(saved.path).toBe(path);
      expect(saved.setAside?.problem, problem).toContain(`${path}: ${problem}`);
      expect(saved.setAside?.to).toMatch(new RegExp(`^${path.replace(/[.]/g, '\\.')}\\.bad-\\d+$`));
      // kept byte for byte where it says; the new file holds this measurement alone
      expect(readFileSync(saved.setAside!.to, 'utf8')).toBe(stored);
      expect((await loadFanReport(dir))!.fans.map((f) => f.id)).toEqual(['gpu0-a']);
      expect(readdirSync(dir).sort()).toEqual([FAN_FILE, saved.setAside!.to.slice(dir.length + 1)].sort());
    }
  });

  it('refuses the save, naming the file, when the stored report cannot be read at all or the merge would not pass', async () => {
    const fan = (id: string): FanReport['fans'][number] => ({ id, pass: true, problems: [], maxRpm: 9000, minDuty: 0.1, startDuty: 0.3, curve: [{ duty: 1, rpm: 9000 }] });
    const report = (ids: string[]): FanReport => ({ measuredAt: new Date(0).toISOString(), pass: true, fans: ids.map(fan), thermistors: [] });
    const dir = mkdtempSync(join(tmpdir(), 'gance-fans-'));
    const path = join(dir, FAN_FILE);
    // 60 stored, 5 new: 65 would be written, and the next load refuse them all
    const stored = `${JSON.stringify(report(Array.from({ length: 60 }, (_, k) => `f${k}`)), null, 2)}\n`;
    writeFileSync(path, stored);
    await expect(saveFanReport(dir, report(['n0', 'n1', 'n2', 'n3', 'n4']))).rejects.toThrow(`${path}: nothing saved: this measurement merged with the stored figures does not pass (fans: must have at most 64 item(s)); move ${path} aside to start anew`);
    expect(readFileSync(path, 'utf8')).toBe(stored);
    if (process.getuid?.() !== 0) {
      chmodSync(path, 0o000);
      await expect(saveFanReport(dir, report(['n0']))).rejects.toThrow(`${path}: cannot read the stored fan characterisation (EACCES); nothing saved`);
      chmodSync(path, 0o644);
      expect(readFileSync(path, 'utf8')).toBe(stored);
    }
    expect(readdirSync(dir)).toEqual([FAN_FILE]);
  });
});
