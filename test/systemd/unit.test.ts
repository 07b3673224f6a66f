import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { REPO } from '../helpers/daemon-process.ts';
import { ServerConfig } from '../../src/config/schema.ts';

const unitPath = join(REPO, 'systemd/gance.service');
const text = readFileSync(unitPath, 'utf8');
const directives = (key: string) => [...text.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1]);

describe('systemd/gance.service', () => {
  it('passes systemd-analyze verify without a warning', () => {
    const r = spawnSync('systemd-analyze', ['verify', unitPath], { encoding: 'utf8' });
    expect(r.error).toBeUndefined();
    // verify exits 0 on many problems and only prints them, so any output is a failure
    expect(r.stderr.split('\n').filter((l) => l.includes('gance.service'))).toEqual([]);
    expect(r.status).toBe(0);
  });

  it('is a notify unit with a watchdog, restarting, and never MemoryDenyWriteExecute (node JITs)', () => {
    expect(directives('Type')).toEqual(['notify']);
    expect(Number(directives('WatchdogSec')[0])).toBeGreaterThan(0);
    expect(directives('Restart')).toEqual(['always']);
    expect(directives('MemoryDenyWriteExecute')).toEqual([]);
    expect(directives('ExecStart')[0]).toMatch(/bin\/gance\.js daemon --config /);
    expect(directives('SupplementaryGroups')[0]).toContain('dialout');
  });

  it('raises the descriptor limit well above the API connection limit (nvidia-smi, serial and workers need theirs)', () => {
    const [limit] = directives('LimitNOFILE');
    expect(limit).toMatch(/^\d+$/);
    const { maxConnections } = Value.Default(ServerConfig, {}) as { maxConnections: number };
    expect(Number(limit)).toBeGreaterThanOrEqual(maxConnections * 16);
  });
});
