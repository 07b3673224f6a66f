/**
 * The daemon's log reaches its destination, complete and in order, before the process exits:
 * pino writes asynchronously, and exiting with lines still buffered (or one write in flight) lost
 * or reordered the last lines (a crash's failsafe line showed after the stop's). In-process:
 * runDaemon with a buffering destination and an injected exit.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config/load.ts';
import { runDaemon } from '../../src/lifecycle/run.ts';
import { testConfigYaml, writeTempConfig } from '../helpers/daemon-process.ts';

describe('daemon exit', () => {
  it('flushes the log before exiting on SIGTERM', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'gance-log-')), 'daemon.log');
    // minLength: nothing is written until 16 kB are buffered or the log is flushed
    const dest = pino.destination({ dest: file, sync: false, minLength: 16_000 });
    const log = pino({ level: 'info' }, dest);
    const config = loadConfigFile(writeTempConfig(testConfigYaml('synthesis: { enabled: false }\n')));
    let onExit!: (written: string) => void;
    const exited = new Promise<string>((r) => (onExit = r));
    await runDaemon({ config, log, env: {}, exit: () => onExit(readFileSync(file, 'utf8')) });
    process.emit('SIGTERM', 'SIGTERM');
    const written = await exited;
    const msgs = written.trim().split('\n').map((l) => (JSON.parse(l) as { msg: string }).msg);
    expect(msgs).toContain('stopping');
    expect(msgs.at(-1)).toBe('stopped');
    dest.destroy();
  });
});
