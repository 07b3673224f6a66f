/**
 * A state directory the daemon cannot use (a file, a folder under a file) stops it at start with
 * one line naming stateDir, the path and why, before any subsystem is built. It was the render
 * queue's mkdir or SQLite error ("EEXIST: file already exists, mkdir ..."; as a user without write
 * access "unable to open database file", no path at all).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnCli, testConfigYaml, writeTempConfig, type DaemonProcess } from '../helpers/daemon-process.ts';
import { processStart } from '../../src/lifecycle/file-lock.ts';
import { LOCK_FILE, lockStateDir } from '../../src/lifecycle/state-dir.ts';

const running: DaemonProcess[] = [];
afterEach(() => {
  for (const d of running.splice(0)) d.child.kill('SIGKILL');
});

describe('daemon state directory', () => {
  it('one it cannot use is refused at start naming stateDir and why, before anything runs', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'gance-statefile-')), 'state');
    writeFileSync(file, 'not a folder');
    for (const [dir, why] of [
      [file, 'is a file, not a directory'],
      [join(file, 'sub'), 'a part of the path is a file, not a directory'],
    ] as const) {
      const yaml = testConfigYaml('synthesis: { enabled: false }\n').replace(/^stateDir: .*$/m, `stateDir: ${dir}`);
      const d = spawnCli(['daemon', '--config', writeTempConfig(yaml)]);
      running.push(d);
      const { code } = await d.exited;
      expect(code, dir).not.toBe(0);
      expect(d.stderr.trim(), dir).toBe(`gance: stateDir: cannot use ${dir}: ${why}`);
      // refused before the cooler opened or thermal started: the one log line is the refusal itself
      expect(d.lines.map((l) => l.msg), dir).toEqual([expect.stringContaining(`stateDir: cannot use ${dir}`)]);
    }
  });

  it('a second daemon on the same state directory is refused before it touches anything; the first keeps serving and keeps its saved tuning', { timeout: 120_000 }, async () => {
    const yaml = testConfigYaml('synthesis: { enabled: false }\n');
    const dir = /^stateDir: (.*)$/m.exec(yaml)![1]!;
    const a = spawnCli(['daemon', '--config', writeTempConfig(yaml)]);
    running.push(a);
    const address = await a.address();
    // the zone's tuning endpoint answers 409 until thermal control has loaded the saved tunings
    let patched: Response;
    while ((patched = await fetch(`${address}/v1/thermal/zones/z0`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: '{"pid":{"setpoint":70}}' })).status === 409) await new Promise((r) => setTimeout(r, 100));
    expect(patched.status).toBe(200);
    expect(((await patched.json()) as { persisted: boolean }).persisted).toBe(true);
    const saved = readFileSync(join(dir, 'thermal-tuning.json'), 'utf8');

    // another port (0), the same state directory: it used to start and overwrite the first's files from its own memory
    const b = spawnCli(['daemon', '--config', writeTempConfig(yaml)]);
    running.push(b);
    const { code } = await b.exited;
    expect(code).not.toBe(0);
    expect(b.stderr.trim()).toBe(`gance: stateDir: ${dir} is in use by another gance daemon (pid ${a.child.pid}); stop it first, or give this one a stateDir of its own (no such daemon running: remove ${join(dir, LOCK_FILE)})`);
    expect(b.lines.map((l) => l.msg)).toEqual([expect.stringContaining('is in use by another gance daemon')]);

    expect((await fetch(`${address}/healthz`)).status).toBe(200);
    expect(readFileSync(join(dir, 'thermal-tuning.json'), 'utf8')).toBe(saved);
    a.child.kill('SIGTERM');
    expect((await a.exited).code).toBe(0);
    // a clean stop leaves no lock behind
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  });

  it('a lock whose process is gone is taken over: a dead pid, a reused pid, another boot, a file cut short; a live holder is named', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gance-lock-'));
    const path = join(dir, LOCK_FILE);
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    for (const stale of [
      JSON.stringify({ pid: dead, start: '1', boot }),
      JSON.stringify({ pid: 1, start: 'not-its-start', boot }),
      JSON.stringify({ pid: process.ppid, start: processStart(process.ppid), boot: 'another-boot' }),
      '{"pid": 4',
    ]) {
      writeFileSync(path, stale);
      const lock = await lockStateDir(dir);
      expect(JSON.parse(readFileSync(path, 'utf8')), stale).toMatchObject({ pid: process.pid });
      lock.release();
      expect(existsSync(path), stale).toBe(false);
    }

    // the process that runs this test is alive, with this start time, in this boot
    const live = JSON.stringify({ pid: process.ppid, start: processStart(process.ppid), boot });
    writeFileSync(path, live);
    await expect(lockStateDir(dir)).rejects.toThrow(`stateDir: ${dir} is in use by another gance daemon (pid ${process.ppid}); stop it first, or give this one a stateDir of its own (no such daemon running: remove ${path})`);
    expect(readFileSync(path, 'utf8')).toBe(live);
  });

  it('a claim a daemon that crashed while this one held the lock left beside it is removed at the release; a live one stays', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gance-lock-'));
    const lock = await lockStateDir(dir);
    const claim = (n: number) => `${LOCK_FILE}.${String(n).repeat(8)}-1111-4111-8111-${String(n).repeat(12)}.tmp`;
    writeFileSync(join(dir, claim(1)), JSON.stringify({ pid: spawnSync(process.execPath, ['-e', '']).pid, start: 'gone' }));
    writeFileSync(join(dir, claim(2)), JSON.stringify({ pid: process.ppid, start: processStart(process.ppid) }));
    lock.release();
    expect(readdirSync(dir)).toEqual([claim(2)]);
  });

  it('the same process takes its own lock again (a daemon made anew), and an earlier release leaves the newer lock alone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gance-lock-'));
    const first = await lockStateDir(dir);
    const second = await lockStateDir(dir);
    first.release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(true);
    second.release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  });

  it('many daemons starting at the same instant: exactly one takes the lock each round, the others are refused naming it', { timeout: 120_000 }, async () => {
    // The lock was created first and written after: caught empty, it read as a crash's leftover
    // and was taken by another starter as well. Real processes, as two daemons would be.
    const dir = mkdtempSync(join(tmpdir(), 'gance-lock-'));
    const contenders = Array.from({ length: 8 }, () => {
      const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'lock-contender.ts'), dir], { stdio: ['pipe', 'pipe', 'inherit'] });
      const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
      const next = async () => ((await lines.next()).value as string | undefined) ?? 'exited';
      return { child, next, say: (l: string) => child.stdin.write(`${l}\n`) };
    });
    try {
      expect(await Promise.all(contenders.map((c) => c.next()))).toEqual(contenders.map(() => 'ready'));
      for (let round = 0; round < 15; round++) {
        // all at one moment a little ahead: each contender spins until then
        const at = Date.now() + 100;
        for (const c of contenders) c.say(`go ${at}`);
        const answers = await Promise.all(contenders.map((c) => c.next()));
        const winners = contenders.filter((_, i) => answers[i] === 'won');
        expect(winners.length, `round ${round}: ${answers.join(' | ')}`).toBe(1);
        const lost = answers.filter((a) => a !== 'won');
        expect(lost, `round ${round}`).toEqual(lost.map(() => `lost stateDir: ${dir} is in use by another gance daemon (pid ${winners[0]!.child.pid}); stop it first, or give this one a stateDir of its own (no such daemon running: remove ${join(dir, LOCK_FILE)})`));
        winners[0]!.say('release');
        expect(await winners[0]!.next()).toBe('released');
        expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
      }
    } finally {
      for (const c of contenders) c.child.kill();
    }
  });
});
