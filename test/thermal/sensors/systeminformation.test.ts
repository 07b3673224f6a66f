/** systeminformation: GPU discovery and the fallback readings while nvidia-smi is down (fake nvidia-smi + fake lspci on PATH). */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NvidiaSmiSource } from '../../../src/thermal/sensors/nvidia-smi.ts';
import { SystemInformationFallback, querySystemInformation, toGpuInfo } from '../../../src/thermal/sensors/systeminformation.ts';
import { quietLog, until } from './helpers.ts';

const FIXTURES = fileURLToPath(new URL('../../fixtures/fake-nvidia-smi', import.meta.url));
const gpus = [
  { index: 0, temperature: 51, power: 120.5, utilization: 80 },
  { index: 1, temperature: 44, power: 31, utilization: 2 },
];
const env = { ...process.env, PATH: `${FIXTURES}:${process.env.PATH}`, FAKE_NVIDIA_SMI_GPUS: JSON.stringify(gpus) };

let sources: NvidiaSmiSource[] = [];
afterEach(async () => {
  await Promise.all(sources.map((s) => s.stop()));
  sources = [];
});

describe('systeminformation', () => {
  it('discovers the GPUs with names, driver and PCI bus, in nvidia-smi index order', async () => {
    const found = await querySystemInformation({ env });
    expect(found).toHaveLength(2);
    expect(found[0]).toMatchObject({ name: 'Tesla K80', driverVersion: '550.54.15', pciBus: '00000000:1E:00.0', temperatureC: 51, powerW: 120.5, utilization: 0.8 });
    expect(toGpuInfo(found, (i) => `GPU-${i}`)).toEqual([
      { index: 0, uuid: 'GPU-0', name: 'Tesla K80', driverVersion: '550.54.15', pciBus: '00000000:1E:00.0' },
      { index: 1, uuid: 'GPU-1', name: 'Tesla K80', driverVersion: '550.54.15', pciBus: '00000000:1F:00.0' },
    ]);
  });

  it('holds its readings to the ranges nvidia-smi lines are held to: out of range is no reading', async () => {
    const wild = [{ index: 0, temperature: 999, power: 9000, utilization: 80 }];
    const [g] = await querySystemInformation({ env: { ...env, FAKE_NVIDIA_SMI_GPUS: JSON.stringify(wild) } });
    expect(g).toMatchObject({ temperatureC: null, powerW: null, utilization: 0.8 });
  });

  it('gives up on a query that hangs, with a clear error', async () => {
    await expect(querySystemInformation({ env: { ...env, FAKE_NVIDIA_SMI_DELAY_MS: '2000' }, timeoutMs: 400 })).rejects.toThrow('systeminformation query did not finish within 400 ms');
  });

  it('reads through systeminformation while nvidia-smi is down, and steps aside when it is back', async () => {
    // nvidia-smi at a path that does not exist yet: the stream keeps failing
    const dir = mkdtempSync(join(tmpdir(), 'gance-smi-'));
    const smi = join(dir, 'nvidia-smi');
    const source = new NvidiaSmiSource({ command: smi, env, intervalMs: 100, silentAfterMs: 1000, restartMinMs: 100, restartMaxMs: 300, log: quietLog });
    sources.push(source);
    const fallback = new SystemInformationFallback({ source, log: quietLog, intervalMs: 300, env });
    await source.start();
    const s0 = await until('fallback sample', () => source.latest().get(0), 10_000);
    expect(s0).toMatchObject({ source: 'systeminformation', temperatureC: 51, powerW: 120.5, throttleMask: null });
    expect(source.latest().get(1)?.temperatureC).toBe(44);
    expect(source.stats().running).toBe(false);
    // nvidia-smi appears: the stream takes over and the polling stops
    symlinkSync(join(FIXTURES, 'nvidia-smi'), smi);
    await until('stream', () => source.stats().running && source.latest().get(0)?.source === 'nvidia-smi', 10_000);
    const polls = fallback.polls;
    await new Promise((r) => setTimeout(r, 700));
    expect(fallback.polls).toBe(polls);
    expect(source.latest().get(0)!.uuid).toMatch(/^GPU-/);
  });
});
