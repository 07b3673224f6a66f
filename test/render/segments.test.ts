/** The work folder's lock on real files and real processes: who holds it and when it is taken over. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LOCK_FILE, lockWorkDir } from '../../src/render/segments.ts';
import { tempDir } from './job-helpers.ts';

/** /proc's view of a process, read here on its own: boot id and start time (field 22 of stat) */
function identity(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return `${readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()} ${fields[19]}`;
}

describe('work folder lock', () => {
  it('records this process with its identity and removes the lock on release', async () => {
    const dir = tempDir();
    const release = await lockWorkDir(dir);
    // the lines older gances read, then the lock's own id
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toMatch(new RegExp(`^${process.pid}\\n${identity(process.pid)}\\n[0-9a-f-]{36}\\n$`));
    await release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  });

  it('is refused while the process that wrote it runs (this test\'s parent), by its identity or, from an older gance, by its pid alone', async () => {
    for (const content of [`${process.ppid}\n${identity(process.ppid)}\n`, `${process.ppid}\n`]) {
      const dir = tempDir();
      writeFileSync(join(dir, LOCK_FILE), content);
      await expect(lockWorkDir(dir)).rejects.toThrow(`work folder ${dir}: in use by another render (process ${process.ppid})`);
    }
  });

  it('is taken over when its pid is alive but another process has it now (the machine restarted since, or the pid was reused)', async () => {
    const dir = tempDir();
    // the killed daemon's pid, now some live process's: its boot or its start time differ
    writeFileSync(join(dir, LOCK_FILE), `${process.ppid}\n00000000-0000-0000-0000-000000000000 12345\n`);
    const release = await lockWorkDir(dir);
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8').split('\n').slice(0, 2)).toEqual([`${process.pid}`, identity(process.pid)]);
    await release();
  });

  it('two renders of this process starting at once on one folder, however spelled: the second is refused', async () => {
    const dir = tempDir();
    const [a, b] = await Promise.allSettled([lockWorkDir(dir), lockWorkDir(`${dir}/.`)]);
    expect(a.status).toBe('fulfilled');
    expect(b.status === 'rejected' && (b.reason as Error).message).toBe(`work folder ${dir}/.: another render of this process is using it`);
    await (a as PromiseFulfilledResult<() => Promise<void>>).value();
  });

  it('the release leaves alone a lock that is no longer this render\'s', async () => {
    const dir = tempDir();
    const release = await lockWorkDir(dir);
    const other = `${process.ppid}\n${identity(process.ppid)}\n`;
    writeFileSync(join(dir, LOCK_FILE), other);
    await release();
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe(other);
  });
});
