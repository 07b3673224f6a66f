/**
 * Opt-in (GANCE_GPU=1, on a machine with an NVIDIA driver): the reader and systeminformation
 * against the real nvidia-smi. Checks what the fake assumes: column order, number formats,
 * one process streaming every GPU each interval, the reasons field the driver accepts.
 */
import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { NvidiaSmiSource } from '../../../src/thermal/sensors/nvidia-smi.ts';
import { querySystemInformation } from '../../../src/thermal/sensors/systeminformation.ts';
import type { GpuSample } from '../../../src/thermal/sensors/types.ts';
import { quietLog, until } from './helpers.ts';

const gpu = process.env.GANCE_GPU === '1';
let source: NvidiaSmiSource | undefined;
afterEach(async () => {
  await source?.stop();
  source = undefined;
});

describe.skipIf(!gpu)('real nvidia-smi (GANCE_GPU=1)', () => {
  it('streams every GPU from one long-lived process', async () => {
    const list = execFileSync('nvidia-smi', ['-L'], { encoding: 'utf8' }).trim().split('\n');
    const uuids = list.map((l) => /UUID: (GPU-[0-9a-f-]+)/.exec(l)![1]);
    source = new NvidiaSmiSource({ command: 'nvidia-smi', intervalMs: 200, silentAfterMs: 5000, restartMinMs: 250, restartMaxMs: 2000, log: quietLog });
    const seen: GpuSample[] = [];
    source.on('sample', (s: GpuSample) => seen.push(s));
    await source.start();
    await until('10 rounds', () => seen.length >= 10 * list.length, 20_000);
    expect(source.stats()).toMatchObject({ running: true, restarts: 0, failedSamples: 0 });
    expect(source.stats().reasonsField).toMatch(/^clocks_(event|throttle)_reasons\.active$/);
    for (const [k, uuid] of uuids.entries()) {
      const s = source.latest().get(k)!;
      expect(s.uuid).toBe(uuid);
      expect(Number.isInteger(s.temperatureC)).toBe(true);
      expect(s.temperatureC).toBeGreaterThan(10);
      expect(s.throttleMask).not.toBeNull();
    }
    // one line per GPU per interval
    const span = (seen.at(-1)!.receivedAt - seen[0]!.receivedAt) / 1000;
    expect(seen.length / list.length / span).toBeGreaterThan(3);
    console.log(JSON.stringify({ gpus: list.length, reasonsField: source.stats().reasonsField, sample: source.latest().get(0), linesPerGpuPerSecond: seen.length / list.length / span }));
  });

  it('systeminformation discovers the same GPUs', async () => {
    const found = await querySystemInformation();
    console.log(JSON.stringify(found));
    expect(found.length).toBeGreaterThan(0);
    expect(found[0]!.name).toMatch(/NVIDIA|Tesla|H100|H200/i);
    // driver, temperatures and power need lspci (pciutils) to match nvidia-smi's bus ids
  });
});
