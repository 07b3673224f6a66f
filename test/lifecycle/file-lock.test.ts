import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { withFileLock } from '../../src/lifecycle/file-lock.ts';
import { processStart } from '../../src/lifecycle/file-lock.ts';

describe('withFileLock', () => {
  it('takes over a lock whose process is gone, or that is not a lock at all, and leaves nothing behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gance-lock-'));
    const path = join(dir, 'x.lock');
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    for (const left of [JSON.stringify({ pid: dead, start: 'gone' }), '{"pid":']) {
      writeFileSync(path, left);
      expect(await withFileLock(path, async () => readdirSync(dir))).toEqual(['x.lock']);
      expect(readdirSync(dir)).toEqual([]);
    }
  });

  it("waits on a live holder, then gives up naming the file and the holder's pid", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gance-lock-'));
    const path = join(dir, 'x.lock');
    writeFileSync(path, JSON.stringify({ pid: process.pid, start: processStart(process.pid) }));
    let ran = false;
    const err = await withFileLock(path, async () => (ran = true), { waitMs: 50 }).catch((e: unknown) => e as Error);
    expect(ran).toBe(false);
    expect((err as Error).message).toBe(`cannot lock ${path}: held by pid ${process.pid} for over 0.05 s (if that process is no gance, remove the file)`);
    expect(existsSync(path)).toBe(true);
    expect(readdirSync(dir)).toEqual(['x.lock']);
  });
});
