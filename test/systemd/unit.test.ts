import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { REPO } from '../helpers/daemon-process.ts';
import { LifecycleConfig, ServerConfig } from '../../src/config/schema.ts';
import { stopExitBoundMs } from '../../src/lifecycle/run.ts';
import { parseConfigText } from '../../src/config/load.ts';

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

  it('scores 3.0 or lower in systemd-analyze security --offline (it was 7.5 EXPOSED)', () => {
    const r = spawnSync('systemd-analyze', ['security', '--offline=true', unitPath], { encoding: 'utf8' });
    expect(r.error).toBeUndefined();
    const m = /Overall exposure level for gance\.service: (\d+\.\d+)/.exec(r.stdout);
    expect(m, r.stdout + r.stderr).not.toBeNull();
    expect(Number(m![1])).toBeLessThanOrEqual(3.0);
  });

  it('hardening that node and the GPU tolerate: a syscall filter, closed devices with the GPU, DRI and serial nodes allowed, no capabilities', () => {
    expect(directives('SystemCallFilter')).toContain('@system-service');
    expect(directives('RestrictAddressFamilies')).toEqual(['AF_UNIX AF_INET AF_INET6 AF_NETLINK']);
    expect(directives('CapabilityBoundingSet')).toEqual(['']);
    expect(directives('DevicePolicy')).toEqual(['closed']);
    const devices = directives('DeviceAllow').join('\n');
    for (const d of ['char-nvidia-frontend rw', 'char-nvidia-uvm rw', '/dev/nvidiactl rw', 'char-drm rw', 'char-ttyUSB rw', 'char-ttyACM rw', 'char-usb_device rw']) expect(devices).toContain(d);
    for (const [k, v] of Object.entries({ NoNewPrivileges: 'yes', ProtectSystem: 'strict', StateDirectory: 'gance', ProtectProc: 'invisible', UMask: '0027', RestrictNamespaces: 'yes', ProtectClock: 'yes', ProtectKernelLogs: 'yes' })) {
      expect(directives(k), k).toEqual([v]);
    }
    expect(Number(directives('OOMScoreAdjust')[0])).toBeLessThan(0);
    expect(directives('MemoryMax')[0]).toMatch(/^\d+G$/);
    // these break the GPU or the groups that open the serial port and the GPU nodes (see the unit's comments)
    for (const k of ['PrivateDevices', 'PrivateUsers', 'ProcSubset', 'MemoryDenyWriteExecute', 'DynamicUser']) expect(directives(k), k).toEqual([]);
    expect(text).toMatch(/PrivateUsers: .*groups/);
    expect(text).toMatch(/ProcSubset=pid: hides \/proc\/driver\/nvidia/);
    expect(text).toMatch(/MemoryDenyWriteExecute: V8/);
  });

  it('KillMode=mixed: a stop signals node alone (it stops nvidia-smi itself), and what outlives node is SIGKILLed with the cgroup', () => {
    expect(directives('KillMode')).toEqual(['mixed']);
  });

  it('raises the descriptor limit well above the API connection limit (nvidia-smi, serial and workers need theirs)', () => {
    const [limit] = directives('LimitNOFILE');
    expect(limit).toMatch(/^\d+$/);
    const { maxConnections } = Value.Default(ServerConfig, {}) as { maxConnections: number };
    expect(Number(limit)).toBeGreaterThanOrEqual(maxConnections * 16);
  });

  it('gives a stop longer than the daemon may take with the largest lifecycle.stopTimeoutMs the schema takes: at 10 s systemd SIGKILLed a 60 s stop, fans-to-full included', () => {
    const spans = directives('TimeoutStopSec');
    expect(spans).toHaveLength(1);
    // systemd time spans: plain seconds, or "1min 15s", "75s", "500ms"
    const unitMs: Record<string, number> = { '': 1000, ms: 1, s: 1000, sec: 1000, m: 60_000, min: 60_000 };
    const parts = [...spans[0]!.matchAll(/(\d+)\s*([a-z]*)/g)];
    expect(parts.length, spans[0]).toBeGreaterThan(0);
    const timeoutMs = parts.reduce((sum, [, n, u = '']) => {
      expect(unitMs, `TimeoutStopSec unit "${u}"`).toHaveProperty(u);
      return sum + Number(n) * unitMs[u]!;
    }, 0);
    const maxStop = (LifecycleConfig.properties.stopTimeoutMs as { maximum?: number }).maximum;
    expect(maxStop, 'lifecycle.stopTimeoutMs has a maximum').toBeTypeOf('number');
    // margin: a loaded box runs the stop's timers late
    expect(timeoutMs).toBeGreaterThanOrEqual(stopExitBoundMs(maxStop!) + 5000);
  });

  // ProtectSystem=strict leaves the unit's own StateDirectory (and any ReadWritePaths) the only
  // writable places; a relative path resolves against WorkingDirectory (/opt/gance, read-only), so
  // render.outputRoot: ./renders refused every API render on the rig ("cannot be made").
  it.each(['config/rig.example.yaml', 'config/rig.firmata.example.yaml'])('%s writes only where the unit lets it write, and passes the config check', (file) => {
    const config = parseConfigText(readFileSync(join(REPO, file), 'utf8'), file);
    const cwd = directives('WorkingDirectory')[0]!;
    const writable = [...directives('StateDirectory').flatMap((d = '') => d.split(/\s+/).map((n) => `/var/lib/${n}`)), ...directives('ReadWritePaths').flatMap((d = '') => d.split(/\s+/))];
    expect(writable).toContain('/var/lib/gance');
    const inside = (p: string) => writable.some((w) => {
      const r = relative(w, resolve(cwd, p));
      return r === '' || (!r.startsWith('..') && !isAbsolute(r));
    });
    const written = {
      stateDir: config.stateDir,
      'render.outputRoot': config.render.outputRoot,
      ...(config.render.workDir === null ? {} : { 'render.workDir': config.render.workDir }),
    };
    for (const [key, p] of Object.entries(written)) expect(inside(p), `${key}: ${p} (from ${cwd})`).toBe(true);
    // read by the daemon only, but an operator (not root) puts the media and networks there
    expect(inside(config.render.mediaRoot), `render.mediaRoot: ${config.render.mediaRoot}`).toBe(true);
    for (const d of config.synthesis.networks.dirs) expect(inside(d), `synthesis.networks.dirs: ${d}`).toBe(true);
  });
});
