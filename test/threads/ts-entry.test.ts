import { spawnSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { processExecArgv, threadEntry } from '../../src/threads/ts-entry.ts';

const entry = new URL('../synthesis/pool/fixtures/echo-entry.ts', import.meta.url);

describe('starting TypeScript modules off the main thread', () => {
  it('runs a .ts module as a worker thread', async () => {
    const { script, options } = threadEntry(entry);
    const worker = new Worker(script, options);
    const reply = await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    expect(reply).toEqual({ from: 'thread', sum: 7.5 });
  });

  it('runs a .ts module as a child process, from any working directory', () => {
    const r = spawnSync(process.execPath, [...processExecArgv(entry), fileURLToPath(entry)], { cwd: '/', encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ from: 'process', sum: 7.5 });
  });

  it('adds nothing for plain JavaScript entries', () => {
    const js = new URL('file:///opt/gance/worker.mjs');
    expect(processExecArgv(js)).toEqual([]);
    expect(threadEntry(js)).toEqual({ script: js, options: { execArgv: [] } });
  });
});
