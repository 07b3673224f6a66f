/** `gance install` into scratch roots: what it puts where, idempotence, --dry-run, kept configs, the pinned udev rule. */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, REPO } from '../helpers/daemon-process.ts';
import { install } from '../../src/install/install.ts';
import { evaluate, parseRules } from '../helpers/udev.ts';

const scratch = () => mkdtempSync(join(tmpdir(), 'gance-root-'));
const quiet = { out: () => {} };
const gance = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { cwd: REPO, encoding: 'utf8' });
const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);

describe('gance install', () => {
  it('--dry-run prints the plan and writes nothing', () => {
    const root = join(scratch(), 'target');
    const r = gance(['install', '--dry-run', '--root', root]);
    expect(r.status, r.stderr).toBe(0);
    for (const p of ['/etc/sysusers.d/gance.conf', '/etc/tmpfiles.d/gance.conf', '/etc/systemd/system/gance.service', '/etc/udev/rules.d/99-gance-cooler.rules', '/etc/gance/config.yaml', '/etc/gance/token', '/var/lib/gance/']) {
      expect(r.stdout).toContain(`would create ${p}`);
    }
    expect(r.stdout).toMatch(/dry run: nothing written \(8 changes planned\)/);
    expect(existsSync(root)).toBe(false);
  });

  it('puts user, groups, unit, rule, config, token and state directory in place; a second run changes nothing and says so', () => {
    const root = scratch();
    const first = gance(['install', '--root', root]);
    expect(first.status, first.stderr).toBe(0);
    expect(readFileSync(join(root, 'etc/systemd/system/gance.service'), 'utf8')).toBe(readFileSync(join(REPO, 'systemd/gance.service'), 'utf8'));
    expect(readFileSync(join(root, 'etc/gance/config.yaml'), 'utf8')).toBe(readFileSync(join(REPO, 'config/rig.example.yaml'), 'utf8'));
    expect(readFileSync(join(root, 'etc/udev/rules.d/99-gance-cooler.rules'), 'utf8')).toBe(readFileSync(join(REPO, 'systemd/99-gance-cooler.rules'), 'utf8'));
    const token = readFileSync(join(root, 'etc/gance/token'), 'utf8').trim();
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    expect(mode(join(root, 'etc/gance/token'))).toBe('640');
    expect(mode(join(root, 'etc/gance/config.yaml'))).toBe('640');
    expect(mode(join(root, 'var/lib/gance'))).toBe('750');
    expect(first.stdout + first.stderr).not.toContain(token);
    expect(readFileSync(join(root, 'etc/tmpfiles.d/gance.conf'), 'utf8')).toMatch(/^d \/var\/lib\/gance 0750 gance gance -$/m);

    // systemd's own tools accept what was written
    const users = spawnSync('systemd-sysusers', [`--root=${root}`, '--dry-run'], { encoding: 'utf8' });
    expect(users.status, users.stderr).toBe(0);
    expect(users.stdout + users.stderr).toMatch(/Creating user '?gance'?/);
    const verify = spawnSync('systemd-analyze', ['verify', join(root, 'etc/systemd/system/gance.service')], { encoding: 'utf8' });
    expect(verify.stderr.split('\n').filter((l) => l.includes('gance.service'))).toEqual([]);

    const before = Object.fromEntries(['etc/gance/token', 'etc/systemd/system/gance.service', 'etc/gance/config.yaml'].map((p) => [p, statSync(join(root, p)).mtimeMs]));
    const second = gance(['install', '--root', root]);
    expect(second.status).toBe(0);
    expect(second.stdout).toContain(`nothing to do: everything is already in place under ${root}`);
    expect(second.stdout).not.toMatch(/^(create|update|chmod) /m);
    for (const [p, t] of Object.entries(before)) expect(statSync(join(root, p)).mtimeMs, p).toBe(t);
    expect(readFileSync(join(root, 'etc/gance/token'), 'utf8').trim()).toBe(token);
  });

  it('leaves the config and the token readable by the daemon user: group gance through tmpfiles.d, as systemd-tmpfiles applies it', () => {
    const root = scratch();
    const cfg = join(scratch(), 'rig.yaml');
    // a token somewhere else than the example's /etc/gance/token gets its own line
    writeFileSync(cfg, readFileSync(join(REPO, 'config/rig.example.yaml'), 'utf8').replace('tokenFile: /etc/gance/token', 'tokenFile: /etc/gance/api token%'));
    install({ root, dryRun: false, config: cfg, ...quiet });
    const conf = readFileSync(join(root, 'etc/tmpfiles.d/gance.conf'), 'utf8');
    expect(conf).toMatch(/^z \/etc\/gance\/config\.yaml 0640 root gance -$/m);
    expect(conf).toMatch(/^z "\/etc\/gance\/api token%%" 0640 root gance -$/m);
    expect(conf).not.toMatch(/^z \/etc\/gance\/token /m);
    if (process.getuid?.() !== 0) return; // chown on the scratch root needs root; the lines above are what the rig gets
    const users = spawnSync('systemd-sysusers', [`--root=${root}`], { encoding: 'utf8' });
    expect(users.status, users.stderr).toBe(0);
    const tmpfiles = spawnSync('systemd-tmpfiles', [`--root=${root}`, '--create'], { encoding: 'utf8' });
    expect(tmpfiles.status, tmpfiles.stderr).toBe(0);
    const gid = Number(/^gance:x:(\d+):/m.exec(readFileSync(join(root, 'etc/group'), 'utf8'))![1]);
    for (const p of ['etc/gance/config.yaml', 'etc/gance/api token%']) {
      expect(statSync(join(root, p)).gid, p).toBe(gid);
      expect(mode(join(root, p)), p).toBe('640');
    }
    expect(statSync(join(root, 'var/lib/gance')).gid).toBe(gid);
  });

  it('never replaces an existing config or token; puts back a unit someone changed, and a mode', () => {
    const root = scratch();
    install({ root, dryRun: false, ...quiet });
    writeFileSync(join(root, 'etc/gance/config.yaml'), readFileSync(join(root, 'etc/gance/config.yaml'), 'utf8').replace('port: 9840', 'port: 9841'));
    writeFileSync(join(root, 'etc/systemd/system/gance.service'), '[Service]\nExecStart=/bin/true\n');
    const other = join(scratch(), 'other.yaml');
    writeFileSync(other, readFileSync(join(REPO, 'config/default.yaml')));
    const r = install({ root, dryRun: false, config: other, ...quiet });
    expect(r.changed).toEqual(['/etc/systemd/system/gance.service']);
    expect(r.lines).toContain('update /etc/systemd/system/gance.service (the service)');
    expect(r.lines).toContain(`note: /etc/gance/config.yaml exists: kept as it is (${other} not copied over it)`);
    expect(readFileSync(join(root, 'etc/gance/config.yaml'), 'utf8')).toContain('port: 9841');
  });

  it('pins the udev rule to cooler.usbSerialNumber from the config it installs', () => {
    const root = scratch();
    const cfg = join(scratch(), 'rig.yaml');
    writeFileSync(cfg, readFileSync(join(REPO, 'config/rig.example.yaml'), 'utf8').replace('  driver: serial\n', '  driver: serial\n  usbSerialNumber: A50285BI\n'));
    const r = install({ root, dryRun: false, config: cfg, ...quiet });
    expect(r.lines).toContain('note: udev rule pinned to the cooler with USB serial number A50285BI');
    const rules = parseRules(readFileSync(join(root, 'etc/udev/rules.d/99-gance-cooler.rules'), 'utf8'));
    const tty = (serial?: string) => ({ action: 'add', subsystem: 'tty', attrs: { idVendor: '0403', idProduct: '6001', ...(serial ? { serial } : {}) } });
    expect(evaluate(rules, tty('A50285BI')).symlinks).toEqual(['gance-cooler']);
    expect(evaluate(rules, tty('B0000000')).symlinks).toEqual([]);
  });

  it('refuses a config that does not pass, naming the field, and writes nothing', () => {
    const root = join(scratch(), 'target');
    const cfg = join(scratch(), 'bad.yaml');
    writeFileSync(cfg, readFileSync(join(REPO, 'config/default.yaml'), 'utf8').replace('host: 127.0.0.1', 'host: 0.0.0.0'));
    const r = gance(['install', '--root', root, '--config', cfg]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('server.auth.tokenFile: required when server.host is 0.0.0.0');
    expect(existsSync(root) ? readdirSync(root) : []).toEqual([]);
  });
});
