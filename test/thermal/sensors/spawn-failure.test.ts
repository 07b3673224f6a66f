/**
 * A spawn that fails (descriptor exhaustion: EMFILE, ENFILE, EAGAIN) is a sensor outage with a
 * restart after backoff, never a crash: Node returns a ChildProcess without stdio for those and
 * emits 'error' on the next tick.
 */
import { ChildProcess, execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import type { NvidiaSmiSource, NvidiaSmiOptions } from '../../../src/thermal/sensors/nvidia-smi.ts';
import { fakeSource, until } from './helpers.ts';

const gpus = [{ index: 0, temperature: 60 }];

let running: NvidiaSmiSource[] = [];
afterEach(async () => {
  await Promise.all(running.map((s) => s.stop()));
  running = [];
});

/** What node's spawn returns when the pipes cannot be made: no stdio, no pid, 'error' next tick. */
function failingSpawn(code: string): ChildProcess {
  const child = new ChildProcess();
  process.nextTick(() => child.emit('error', Object.assign(new Error(`spawn nvidia-smi ${code}`), { code, errno: -24, syscall: 'spawn nvidia-smi' })));
  return child;
}

describe('nvidia-smi source: spawn failures', () => {
  it('EMFILE on spawn: down, restart with backoff, back up once spawning works again', async () => {
    let failures = 3;
    const flaky = ((...args: Parameters<typeof spawn>) => (failures-- > 0 ? failingSpawn('EMFILE') : spawn(...args))) as typeof spawn;
    const { source } = fakeSource(gpus, { restartMinMs: 10, restartMaxMs: 40, spawn: flaky });
    running.push(source);
    const restarts: Array<{ reason: string; delayMs: number }> = [];
    source.on('restart', (r: { reason: string; delayMs: number }) => restarts.push(r));
    await source.start();
    await until('streaming after the failures', () => source.stats().running);
    expect(restarts.map((r) => r.delayMs)).toEqual([10, 20, 40]);
    expect(restarts[0]!.reason).toContain('EMFILE');
    expect(source.stats().restarts).toBe(3);
  });

  it('a spawn that throws synchronously is an outage too', async () => {
    const { source } = fakeSource(gpus, {
      restartMinMs: 10,
      restartMaxMs: 10,
      spawn: (() => {
        throw Object.assign(new Error('spawn EMFILE'), { code: 'EMFILE' });
      }) as unknown as NvidiaSmiOptions['spawn'],
    });
    running.push(source);
    const ups: boolean[] = [];
    source.on('running', (up: boolean) => ups.push(up));
    await source.start();
    await until('3 attempts', () => source.stats().restarts >= 3);
    expect(source.stats()).toMatchObject({ running: false, lastError: 'spawn EMFILE' });
    expect(ups).toEqual([]);
  });

  it('real descriptor exhaustion under a low ulimit -n: no crash, recovers when descriptors free up', async () => {
    const script = fileURLToPath(new URL('../../fixtures/emfile/sensor-emfile.ts', import.meta.url));
    const { stdout } = await promisify(execFile)('bash', ['-c', `ulimit -n 128 && exec "${process.execPath}" --import tsx "${script}"`], { timeout: 15_000 });
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as { reasons: string[]; recovered: boolean; restarts: number };
    expect(result.recovered).toBe(true);
    expect(result.reasons[0]).toMatch(/EMFILE/);
    expect(result.restarts).toBeGreaterThanOrEqual(2);
  });
});
