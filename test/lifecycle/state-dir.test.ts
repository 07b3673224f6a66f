/**
 * A state directory the daemon cannot use (a file, a folder under a file) stops it at start with
 * one line naming stateDir, the path and why, before any subsystem is built. It was the render
 * queue's mkdir or SQLite error ("EEXIST: file already exists, mkdir ..."; as a user without write
 * access "unable to open database file", no path at all).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnCli, testConfigYaml, writeTempConfig, type DaemonProcess } from '../helpers/daemon-process.ts';

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
});
