/**
 * `gance install [--dry-run] [--root DIR] [--config FILE]`: puts what the systemd service needs in
 * place under DIR (default /): the user and its groups (sysusers.d), the unit, the cooler's udev
 * rule (pinned to cooler.usbSerialNumber when the config gives one), the config (never over an
 * existing one), an API token when the config names a tokenFile that does not exist yet, and the
 * state directory (tmpfiles.d, and created now). Idempotent: a second run changes nothing and says
 * so. The application itself stays where it is (the unit runs /opt/gance).
 */
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfigText } from '../config/load.ts';
import { pinnedUdevRule } from './udev.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const EXAMPLE_CONFIG = join(REPO, 'config/rig.example.yaml');
export const CONFIG_PATH = '/etc/gance/config.yaml';
export const STATE_DIR = '/var/lib/gance';

export const SYSUSERS = `# gance install: the daemon's system user and the groups that open its devices
# (dialout: the cooler's USB serial port; video, render: /dev/dri and the NVIDIA nodes)
u gance - "gance rig daemon" ${STATE_DIR}
m gance dialout
m gance video
m gance render
`;

/**
 * The state directory, and the group of the files the daemon (user gance, not root) reads at start:
 * `gance install` runs as root, so what it writes is root:root, and at 0640 the daemon could not
 * read its own config. `z` sets the group when tmpfiles runs (the install, every boot), also on a
 * file the operator put there later.
 */
export function tmpfilesConf(tokenFile: string | undefined): string {
  const lines = [
    '# gance install: the state directory (tuning, render jobs, networks), and the files the daemon',
    '# reads as user gance: its config and API token (root-owned, group gance, 0640)',
    `d ${STATE_DIR} 0750 gance gance -`,
    `z ${CONFIG_PATH} 0640 root gance -`,
  ];
  if (tokenFile !== undefined && isAbsolute(tokenFile)) lines.push(`z ${tmpfilesPath(tokenFile)} 0640 root gance -`);
  return `${lines.join('\n')}\n`;
}

/** tmpfiles.d splits fields on whitespace and expands %-specifiers: quoted, % doubled, a path with either is taken as it is */
function tmpfilesPath(p: string): string {
  if (/^[A-Za-z0-9._/+@:-]+$/.test(p)) return p;
  return `"${p.replace(/[\\"]/g, (c) => `\\${c}`).replace(/%/g, '%%')}"`;
}

interface Item {
  /** absolute path on the target system (without the root prefix) */
  path: string;
  kind: 'file' | 'dir';
  /** file content; for a secret, made only when the file is created and never printed */
  content?: string | (() => string);
  mode: number;
  /** keep: an existing file is the operator's and is left as it is */
  existing: 'replace' | 'keep';
  why: string;
}

export interface InstallOptions {
  root: string;
  config?: string;
  dryRun: boolean;
  /** whether to run systemd-sysusers, systemd-tmpfiles, udevadm and systemctl afterwards (the live root only) */
  activate?: boolean;
  out?: (line: string) => void;
}

export interface InstallResult {
  changed: string[];
  lines: string[];
}

const under = (root: string, p: string) => join(root, p);

/** The effective config: the installed one when it exists (it is never replaced), else --config, else the example. */
function chooseConfig(root: string, config: string | undefined): { source: string; text: string; installed: boolean } {
  const installed = under(root, CONFIG_PATH);
  if (existsSync(installed)) return { source: installed, text: readFileSync(installed, 'utf8'), installed: true };
  const source = resolve(config ?? EXAMPLE_CONFIG);
  return { source, text: readFileSync(source, 'utf8'), installed: false };
}

export function plan(opts: Pick<InstallOptions, 'root' | 'config'>): { items: Item[]; notes: string[] } {
  const notes: string[] = [];
  const chosen = chooseConfig(opts.root, opts.config);
  // refuse a broken config now rather than at the daemon's first start
  const config = parseConfigText(chosen.text, chosen.source);
  if (chosen.installed && opts.config !== undefined) notes.push(`${CONFIG_PATH} exists: kept as it is (${opts.config} not copied over it)`);
  const serial = config.cooler.usbSerialNumber;
  notes.push(serial ? `udev rule pinned to the cooler with USB serial number ${serial}` : 'udev rule matches any supported USB-serial bridge (set cooler.usbSerialNumber to pin it to one board)');

  const items: Item[] = [
    { path: '/etc/sysusers.d/gance.conf', kind: 'file', content: SYSUSERS, mode: 0o644, existing: 'replace', why: 'user gance, groups dialout video render' },
    { path: '/etc/tmpfiles.d/gance.conf', kind: 'file', content: tmpfilesConf(config.server.auth.tokenFile), mode: 0o644, existing: 'replace', why: 'state directory; config and token readable by group gance' },
    { path: '/etc/systemd/system/gance.service', kind: 'file', content: readFileSync(join(REPO, 'systemd/gance.service'), 'utf8'), mode: 0o644, existing: 'replace', why: 'the service' },
    { path: '/etc/udev/rules.d/99-gance-cooler.rules', kind: 'file', content: pinnedUdevRule(readFileSync(join(REPO, 'systemd/99-gance-cooler.rules'), 'utf8'), serial), mode: 0o644, existing: 'replace', why: 'the cooler as /dev/gance-cooler' },
    { path: '/etc/gance', kind: 'dir', mode: 0o755, existing: 'keep', why: 'config directory' },
    { path: CONFIG_PATH, kind: 'file', content: chosen.text, mode: 0o640, existing: 'keep', why: chosen.installed ? 'config' : `config from ${chosen.source}` },
    { path: STATE_DIR, kind: 'dir', mode: 0o750, existing: 'keep', why: 'state directory' },
  ];
  const tokenFile = config.server.auth.tokenFile;
  if (tokenFile !== undefined && isAbsolute(tokenFile)) {
    // 32 random bytes as hex: 64 characters, over the 32 the daemon asks for
    items.push({ path: tokenFile, kind: 'file', content: () => `${randomBytes(32).toString('hex')}\n`, mode: 0o640, existing: 'keep', why: 'API token (server.auth.tokenFile), generated' });
  }
  return { items, notes };
}

function modeOf(p: string): number {
  return statSync(p).mode & 0o777;
}

export function install(opts: InstallOptions): InstallResult {
  const out = opts.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  const lines: string[] = [];
  const say = (l: string) => (lines.push(l), out(l));
  const { items, notes } = plan(opts);
  const changed: string[] = [];
  const verb = (v: string) => (opts.dryRun ? `would ${v}` : v);
  const root = resolve(opts.root);
  if (!opts.dryRun) mkdirSync(root, { recursive: true });

  for (const item of items) {
    const target = under(root, item.path);
    const exists = existsSync(target);
    if (item.kind === 'dir') {
      if (!exists) {
        changed.push(item.path);
        say(`${verb('create')} ${item.path}/ (${item.why})`);
        if (!opts.dryRun) {
          mkdirSync(target, { recursive: true });
          chmodSync(target, item.mode);
        }
      }
      continue;
    }
    if (exists && item.existing === 'keep') {
      if (modeOf(target) & 0o004 && item.mode !== 0o644) say(`warning: ${item.path} is readable by every user; chmod o-r it`);
      continue;
    }
    const content = typeof item.content === 'function' ? null : (item.content ?? '');
    if (exists && content !== null && readFileSync(target, 'utf8') === content) {
      if (modeOf(target) !== item.mode) {
        changed.push(item.path);
        say(`${verb('chmod')} ${item.mode.toString(8).padStart(4, '0')} ${item.path}`);
        if (!opts.dryRun) chmodSync(target, item.mode);
      }
      continue;
    }
    changed.push(item.path);
    say(`${verb(exists ? 'update' : 'create')} ${item.path} (${item.why})`);
    if (!opts.dryRun) {
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, content ?? (item.content as () => string)(), { mode: item.mode });
      chmodSync(target, item.mode); // writeFileSync's mode is filtered by the umask
    }
  }
  for (const n of notes) say(`note: ${n}`);

  if (changed.length === 0) {
    say(`nothing to do: everything is already in place under ${root}`);
    return { changed, lines };
  }
  const next = ['systemd-sysusers /etc/sysusers.d/gance.conf', 'systemd-tmpfiles --create /etc/tmpfiles.d/gance.conf', 'udevadm control --reload', 'udevadm trigger --subsystem-match=tty', 'systemctl daemon-reload'];
  if (opts.dryRun) {
    say(`dry run: nothing written (${changed.length} change${changed.length === 1 ? '' : 's'} planned)`);
  } else if (opts.activate && root === '/') {
    for (const cmd of next) {
      const [bin, ...args] = cmd.split(' ') as [string, ...string[]];
      const r = spawnSync(bin, args, { encoding: 'utf8' });
      say(r.status === 0 ? `ran: ${cmd}` : `failed: ${cmd}: ${(r.stderr || r.error?.message || '').trim()}`);
    }
    say('then: systemctl enable --now gance');
  } else {
    say(`installed under ${root}; on that system run: ${next.join('; ')}; systemctl enable --now gance`);
  }
  return { changed, lines };
}
