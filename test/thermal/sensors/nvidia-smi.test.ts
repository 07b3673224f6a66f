import { afterEach, describe, expect, it } from 'vitest';
import { performance } from 'node:perf_hooks';
import { THROTTLE_REASONS_FIELD, EVENT_REASONS_FIELD } from '../../../src/thermal/sensors/parse.ts';
import type { NvidiaSmiSource } from '../../../src/thermal/sensors/nvidia-smi.ts';
import type { GpuSample } from '../../../src/thermal/sensors/types.ts';
import { alive, fakeSource, until } from './helpers.ts';

const two = [
  { index: 0, temperature: 61, power: 120.5, utilization: 88, reasons: 0x20 },
  { index: 1, temperature: 55, power: null, utilization: 'unsupported' as const, reasons: 0 },
];

let running: NvidiaSmiSource[] = [];
afterEach(async () => {
  await Promise.all(running.map((s) => s.stop()));
  running = [];
});
function track<T extends { source: NvidiaSmiSource }>(x: T): T {
  running.push(x.source);
  return x;
}

describe('nvidia-smi source (against the fake nvidia-smi)', () => {
  it('streams every GPU from one process at the -lms interval', async () => {
    const { source, children } = track(fakeSource(two));
    const seen: GpuSample[] = [];
    source.on('sample', (s: GpuSample) => seen.push(s));
    await source.start();
    await until('10 samples', () => seen.length >= 10);
    expect(children).toHaveLength(1);
    const g0 = source.latest().get(0)!;
    expect(g0).toMatchObject({ index: 0, temperatureC: 61, powerW: 120.5, utilization: 0.88, throttleReasons: ['sw_thermal_slowdown'], source: 'nvidia-smi' });
    expect(source.latest().get(1)).toMatchObject({ temperatureC: 55, powerW: null, utilization: null, throttleMask: 0 });
    expect(performance.now() - g0.receivedAt).toBeLessThan(1500);
    expect(source.stats()).toMatchObject({ running: true, restarts: 0, failedSamples: 0, reasonsField: EVENT_REASONS_FIELD });
    expect(children[0]!.spawnargs).toContain('--format=csv,noheader,nounits');
    expect(children[0]!.spawnargs.join(' ')).toContain('-lms 50');
  });

  it('falls back to clocks_throttle_reasons when the driver rejects clocks_event_reasons', async () => {
    const { source, children } = track(fakeSource(two, { driver: '470.256.02' }));
    await source.start();
    await until('a sample', () => source.latest().get(0));
    expect(source.stats()).toMatchObject({ reasonsField: THROTTLE_REASONS_FIELD, restarts: 0, running: true });
    expect(children).toHaveLength(2);
    expect(children[1]!.spawnargs.join(' ')).toContain(THROTTLE_REASONS_FIELD);
    expect(source.latest().get(0)!.throttleReasons).toEqual(['sw_thermal_slowdown']);
  });

  it('restarts a process that dies after a backoff and counts the restarts', async () => {
    const { source, children, send } = track(fakeSource(two, { restartMinMs: 150 }));
    const delays: number[] = [];
    source.on('restart', (r: { delayMs: number }) => delays.push(r.delayMs));
    await source.start();
    await until('first sample', () => source.stats().running);
    send({ cmd: 'exit', code: 3 });
    await until('restart 1', () => children.length === 2);
    send({ cmd: 'exit', code: 3 });
    await until('restart 2', () => children.length === 3);
    expect(delays.slice(0, 1)).toEqual([150]);
    await until('running again', () => source.stats().running);
    expect(source.stats().restarts).toBe(2);
    expect(source.stats().lastError).toContain('exited with code 3');
  });

  it('kills and restarts a process that goes silent', async () => {
    const { source, children, send } = track(fakeSource(two, { silentAfterMs: 300 }));
    const restarts: string[] = [];
    source.on('restart', (r: { reason: string }) => restarts.push(r.reason));
    await source.start();
    await until('first sample', () => source.stats().running);
    const firstPid = children[0]!.pid;
    send({ cmd: 'hang' });
    await until('killed', () => !alive(firstPid), 3000);
    expect(restarts[0]).toMatch(/no output for \d+ ms/);
    await until('second process streaming', () => children.length === 2 && source.stats().running);
    expect(source.stats().restarts).toBe(1);
  });

  it('counts lines it cannot parse as failed samples and keeps going', async () => {
    const { source, send } = track(fakeSource(two));
    const failed: string[] = [];
    source.on('failed-sample', (f: { reason: string }) => failed.push(f.reason));
    await source.start();
    await until('first sample', () => source.stats().running);
    send({ cmd: 'line', text: 'Unable to determine the device handle for GPU0000:1F:00.0: Unknown Error' });
    await until('failed sample', () => source.stats().failedSamples === 1);
    expect(failed[0]).toContain('expected 6 columns');
    expect(source.stats().running).toBe(true);
  });

  it('notices a GPU that drops out of the output', async () => {
    const { source, send } = track(fakeSource(two));
    await source.start();
    await until('both GPUs', () => source.latest().size === 2);
    expect(source.missing().size).toBe(0);
    send({ gpus: [two[0]!] });
    await until('gpu 1 missing', () => source.missing().has(1));
    expect(source.missing().has(0)).toBe(false);
    send({ gpus: two });
    await until('gpu 1 back', () => !source.missing().has(1));
  });

  it('keeps retrying with backoff when nvidia-smi is not installed', async () => {
    const { source } = track(fakeSource(two, { command: '/nonexistent/nvidia-smi', argsPrefix: [], restartMinMs: 50, restartMaxMs: 200 }));
    const delays: number[] = [];
    source.on('restart', (r: { delayMs: number }) => delays.push(r.delayMs));
    await source.start();
    await until('4 attempts', () => delays.length >= 4);
    expect(delays.slice(0, 4)).toEqual([50, 100, 200, 200]);
    expect(source.stats()).toMatchObject({ running: false, lastError: '/nonexistent/nvidia-smi: not found' });
  });

  it('stop ends the process', async () => {
    const { source, children } = track(fakeSource(two));
    await source.start();
    await until('first sample', () => source.stats().running);
    await source.stop();
    expect(alive(children[0]!.pid)).toBe(false);
    expect(source.stats().running).toBe(false);
  });
});
