import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { startThread, type WorkerLink } from '../../../src/synthesis/pool/link.ts';
import type { FromWorker } from '../../../src/synthesis/pool/protocol.ts';

const DEMO = fileURLToPath(new URL('../../../config/networks/demo-64.onnx', import.meta.url));
const FIXTURE = fileURLToPath(new URL('./fixtures/stop-while-loading.ts', import.meta.url));

async function started(onMessage: (m: FromWorker) => void, opts: Parameters<typeof startThread>[1] = {}): Promise<{ link: WorkerLink; exits: string[] }> {
  let hello!: () => void;
  const ready = new Promise<void>((r) => (hello = r));
  const exits: string[] = [];
  const link = startThread(
    {
      message: (m) => {
        if (m.t === 'hello') hello();
        onMessage(m);
      },
      exit: (reason) => exits.push(reason),
    },
    opts,
  );
  await ready;
  return { link, exits };
}

describe('worker thread link: stopping', () => {
  it('stops a thread in the middle of loading a network without taking the process down', () => {
    // in a process of its own: the failure is a SIGABRT of the whole process
    const r = spawnSync(process.execPath, ['--import', 'tsx', FIXTURE, DEMO], { encoding: 'utf8', timeout: 240_000 });
    expect(r.stderr).not.toMatch(/terminate called/);
    expect({ status: r.status, signal: r.signal }).toEqual({ status: 0, signal: null });
    expect(r.stdout.trim().split('\n')).toHaveLength(8);
    expect(r.stdout).toMatch(/done\s*$/);
  }, 250_000);

  it('terminates a thread that does not finish within the grace period', async () => {
    const { link } = await started(() => {}, { testHooks: true, closeGraceMs: 100 });
    // a worker that sleeps 10 minutes before its next run: the close waits behind it
    link.send({ t: 'slow', ms: 600_000 });
    link.send({ t: 'run', id: 1, key: 'none', feeds: [], fetch: [] });
    const t0 = performance.now();
    await link.terminate();
    expect(performance.now() - t0).toBeLessThan(300_000);
  });
});
