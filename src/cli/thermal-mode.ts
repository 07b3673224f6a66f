/**
 * `gance thermal mode [NAME] [--off]`: list the modes of a running daemon and the one applied
 * last, switch every zone to one, or clear it.
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { ModesView } from '../thermal/modes/api.ts';
import { daemonAddress } from './daemon-api.ts';
import { api, table } from './thermal.ts';

export function modesText(v: ModesView): string {
  if (v.modes.length === 0) return 'no modes (define them under thermal.modes in the config)';
  const rows = v.modes.map((m) => [
    v.active?.name === m.name ? '*' : '',
    m.name,
    Object.entries(m.zones)
      .map(([z, paths]) => `${z}: ${paths.join(', ')}`)
      .join('; ') || '-',
    m.description ?? '',
  ]);
  const active = v.active ? `active: ${v.active.name} (applied ${v.active.at})` : 'active: none';
  return `${table(['', 'MODE', 'SETS', 'DESCRIPTION'], rows)}\n\n${active}`;
}

export function registerMode(thermal: Command, defaultUrl: string): void {
  thermal
    .command('mode')
    .description('list the thermal modes (thermal.modes) and the active one, or switch every zone to one (saved like a tuning)')
    .argument('[name]', 'the mode to switch to')
    .option('--off', 'no mode: the last mode\'s settings go, the tunings under it show again')
    .option('--url <url>', 'daemon API address', daemonAddress('--url'), defaultUrl)
    .option('--json', 'print the raw API answer')
    .action(async (name: string | undefined, o: { url: string; off?: boolean; json?: boolean }) => {
      if (name !== undefined && o.off) throw new InvalidArgumentError('give a mode name or --off, not both');
      const switching = name !== undefined || o.off;
      const v = switching
        ? await api<ModesView>(o.url, '/v1/thermal/mode', { method: 'PUT', body: { name: o.off ? null : name } })
        : await api<ModesView>(o.url, '/v1/thermal/mode');
      if (o.json) process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
      else {
        if (switching) process.stdout.write(o.off ? 'mode cleared\n' : `mode ${name} applied\n`);
        process.stdout.write(`${modesText(v)}\n`);
      }
      if (v.persisted === false) {
        process.stderr.write("warning: applied, but NOT saved in the daemon's state directory (see its log and the tuning-not-saved alarm); a restart goes back to the last saved settings\n");
        process.exitCode = 4;
      }
    });
}
