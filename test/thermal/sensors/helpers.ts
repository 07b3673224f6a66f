import type { ChildProcess } from 'node:child_process';
import pino from 'pino';
import { NvidiaSmiSource, type NvidiaSmiOptions } from '../../../src/thermal/sensors/nvidia-smi.ts';
import { FAKE_NVIDIA_SMI, fakeMessage, type FakeCommand, type FakeGpu } from '../../../src/thermal/sim/fake-nvidia-smi.ts';

export const quietLog = pino({ level: 'silent' });

/** An NvidiaSmiSource running the fake nvidia-smi, with a handle on the current child's stdin. */
export function fakeSource(gpus: FakeGpu[], opts: Partial<NvidiaSmiOptions> & { driver?: string } = {}) {
  const children: ChildProcess[] = [];
  const source = new NvidiaSmiSource({
    command: process.execPath,
    argsPrefix: [FAKE_NVIDIA_SMI],
    env: { ...process.env, FAKE_NVIDIA_SMI_GPUS: JSON.stringify(gpus), FAKE_NVIDIA_SMI_DRIVER: opts.driver ?? '550.54.15' },
    intervalMs: 50,
    silentAfterMs: 600,
    restartMinMs: 100,
    restartMaxMs: 2000,
    log: quietLog,
    onSpawn: (c) => children.push(c),
    ...opts,
  });
  return {
    source,
    children,
    send(msg: { gpus?: FakeGpu[] } | FakeCommand) {
      children.at(-1)?.stdin?.write(fakeMessage(msg));
    },
  };
}

export async function until<T>(what: string, f: () => T | undefined | false | null, timeoutMs = 10_000, stepMs = 20): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

export const alive = (pid: number | undefined) => {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
