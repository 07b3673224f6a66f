/**
 * `gance renders ...`: a running daemon's render jobs.
 *
 *   gance renders list [--state S] [--limit N] [--json] [--url URL | --config FILE]
 *   gance renders show ID [--json]
 *   gance renders cancel ID
 *
 * The daemon's address comes from the config's server.host/port (default: the embedded config).
 */
import { InvalidArgumentError, type Command } from 'commander';
import { DEFAULT_CONFIG_PATH } from '../config/paths.ts';
import { JOB_STATES } from '../render/states.ts';
import type { RenderJobView } from '../render/view.ts';
import { call, daemonUrl } from './daemon-api.ts';

interface Where {
  url?: string;
  config: string;
}

// the config is read only when no --url is given, and only by the action that needs it
const base = async (o: Where) => o.url ?? daemonUrl((await import('../config/load.ts')).loadConfigFile(o.config));

const clock = (s: number | null) => {
  if (s === null || !Number.isFinite(s)) return '-';
  const t = Math.round(s);
  return `${Math.floor(t / 60)}:${String(t % 60).padStart(2, '0')}`;
};

function frames(j: RenderJobView): string {
  return j.framesTotal === null ? `${j.framesDone}` : `${j.framesDone}/${j.framesTotal} (${Math.floor((j.progress ?? 0) * 100)}%)`;
}

export async function listText(jobs: RenderJobView[]): Promise<string> {
  // the thermal CLI's table, loaded with the action that prints one
  const { table } = await import('./thermal.ts');
  if (jobs.length === 0) return 'no renders';
  return table(
    ['ID', 'STATE', 'STAGE', 'FRAMES', 'FPS', 'ETA', 'PRIO', 'CREATED', 'OUTPUT / REASON'],
    jobs.map((j) => [
      j.id,
      j.state,
      j.stage,
      frames(j),
      j.fps === null ? '-' : j.fps.toFixed(1),
      j.state === 'running' ? clock(j.etaSeconds) : '-',
      String(j.priority),
      j.createdAt.replace('T', ' ').slice(0, 19),
      j.state === 'done' ? (j.output ?? '') : j.reason ? `${j.reason}: ${j.error ?? ''}` : '',
    ]),
  );
}

export function showText(j: RenderJobView): string {
  const lines: Array<[string, string]> = [
    ['id', j.id],
    ['state', j.reason ? `${j.state} (${j.reason}: ${j.error ?? ''})` : j.state],
    ['stage', j.stage],
    ['frames', frames(j)],
    ['fps', j.fps === null ? '-' : j.fps.toFixed(1)],
    ['eta', clock(j.etaSeconds)],
    ['priority', String(j.priority)],
    ['audio', j.spec.audio.join(', ')],
    ['networks', j.spec.networks.join(', ')],
    ['output', j.output ?? j.spec.output.path],
    ['created', j.createdAt],
    ['started', j.startedAt ?? '-'],
    ['finished', j.finishedAt ?? '-'],
    ['attempts', String(j.attempts)],
  ];
  if (j.outputUrl) lines.push(['download', j.outputUrl]);
  if (j.spec.output.debugPath) lines.push(['debug', j.debugUrl ?? j.spec.output.debugPath]);
  return lines.map(([k, v]) => `${k.padEnd(9)} ${v}`).join('\n');
}

function limit(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 500) throw new InvalidArgumentError(`--limit must be an integer in 1..500, got "${v}"`);
  return n;
}

function state(v: string): string {
  if (!(JOB_STATES as readonly string[]).includes(v)) throw new InvalidArgumentError(`--state must be one of ${JOB_STATES.join(', ')}, got "${v}"`);
  return v;
}

export function register(program: Command): void {
  const renders = program.command('renders').description("a running daemon's render jobs: list, show, cancel");
  const where = (c: Command) =>
    c.option('--url <url>', "daemon API address (default: the config's server.host and server.port)").option('-c, --config <file>', 'YAML config naming the daemon\'s address', DEFAULT_CONFIG_PATH);

  where(renders.command('list').description('render jobs, newest first'))
    .option('--state <state>', `only these: ${JOB_STATES.join(', ')}`, state)
    .option('--limit <n>', 'at most this many (1..500)', limit, 50)
    .option('--json', 'print the raw API answer')
    .action(async (o: Where & { state?: string; limit: number; json?: boolean }) => {
      const q = new URLSearchParams({ limit: String(o.limit), ...(o.state ? { state: o.state } : {}) });
      const r = await call<{ renders: RenderJobView[] }>(await base(o), `/v1/renders?${q}`);
      process.stdout.write(o.json ? `${JSON.stringify(r, null, 2)}\n` : `${await listText(r.renders)}\n`);
    });

  where(renders.command('show').description('one render: state, stage, frames, fps, ETA, reason').argument('<id>', 'render id'))
    .option('--json', 'print the raw API answer')
    .action(async (id: string, o: Where & { json?: boolean }) => {
      const j = await call<RenderJobView>(await base(o), `/v1/renders/${encodeURIComponent(id)}`);
      process.stdout.write(o.json ? `${JSON.stringify(j, null, 2)}\n` : `${showText(j)}\n`);
      if (j.state === 'failed') process.exitCode = 3;
    });

  where(renders.command('cancel').description('cancel a queued or running render').argument('<id>', 'render id')).action(async (id: string, o: Where) => {
    const j = await call<RenderJobView>(await base(o), `/v1/renders/${encodeURIComponent(id)}`, { method: 'DELETE' });
    process.stdout.write(`render ${j.id}: ${j.state}\n`);
  });
}
