/**
 * `gance renders ...`: a running daemon's render jobs.
 *
 *   gance renders list [--state S] [--limit N] [--json] [--url URL | --config FILE]
 *   gance renders show ID [--json]
 *   gance renders cancel ID
 *   gance renders gpus [--json]
 *   gance renders pause [--gpu N]... [--reason TEXT]
 *   gance renders resume [--gpu N]...
 *   gance renders max-fps FPS|none [--gpu N]... [--reason TEXT]
 *
 * pause, resume and max-fps set the operator's pause and rate limit on the renders of a GPU, or of
 * the CPU workers (--gpu cpu; PATCH /v1/renders/gpus/{gpu}); without --gpu, on everything renders
 * run on (the embedded default's CPU worker included).
 *
 * The daemon's address comes from the config's server.host/port (default: the embedded config).
 */
import { InvalidArgumentError, type Command } from 'commander';
import { DEFAULT_CONFIG_PATH } from '../config/paths.ts';
import { JOB_STATES } from '../render/states.ts';
import type { RenderGpuPatch, RenderGpuView } from '../render/gpus.ts';
import type { RenderDevice } from '../render/throttle.ts';

/** "GPU 0", "the CPU workers" (as the daemon's gpus.ts says it; not imported: the CLI loads no render code for --help) */
const name = (d: RenderDevice): string => (d === 'cpu' ? 'the CPU workers' : `GPU ${d}`);
import type { RenderJobView } from '../render/view.ts';
import { call, daemonAddress, daemonUrl } from './daemon-api.ts';

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

const fpsText = (fps: number | null) => (fps === null ? '-' : String(fps));

export async function gpusText(gpus: RenderGpuView[]): Promise<string> {
  const { table } = await import('./thermal.ts');
  if (gpus.length === 0) return 'renders run on no synthesis worker';
  return table(
    ['GPU', 'STATE', 'MAX FPS', 'FROM', 'OPERATOR', 'YIELD', 'REASON'],
    gpus.map((g) => [
      String(g.gpu),
      g.paused ? 'paused' : 'running',
      fpsText(g.maxFps),
      g.maxFpsFrom ?? '-',
      g.operator.paused ? 'paused' : g.operator.maxFps === null ? '-' : `${g.operator.maxFps} fps`,
      g.yield === null ? '-' : g.yield.paused ? 'paused' : `${fpsText(g.yield.maxFps)} fps`,
      g.reason ?? '',
    ]),
  );
}

/** what the operator asked for that yielding keeps from applying yet, per GPU */
export function heldBack(g: RenderGpuView): string | null {
  if (g.yield === null) return null;
  if (g.yield.paused && !g.operator.paused) return `GPU ${g.gpu}: thermal yielding pauses its renders; your settings apply once it lets go`;
  if (g.maxFpsFrom === 'yield' && g.maxFps !== g.operator.maxFps) return `GPU ${g.gpu}: thermal yielding holds its renders to ${g.maxFps} fps; your settings apply once it lets go`;
  return null;
}

function gpuIndex(v: string, prev: RenderDevice[] = []): RenderDevice[] {
  if (v === 'cpu') return [...prev, 'cpu'];
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`--gpu must be a GPU index (an integer >= 0) or "cpu" (the workers without a gpu), got "${v}"`);
  return [...prev, n];
}

/** FPS or none; the range is the daemon's to check (its 400 names body/maxFps) */
function maxFps(v: string): number | null {
  if (v === 'none') return null;
  const n = Number(v);
  // Infinity and NaN would go out as JSON null, which lifts the limit
  if (v.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`FPS must be a number of frames per second or "none", got "${v}"`);
  return n;
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
  const renders = program.command('renders').description("a running daemon's render jobs: list, show, cancel; pause or limit the renders of a GPU");
  const where = (c: Command) =>
    c.option('--url <url>', "daemon API address (default: the config's server.host and server.port)", daemonAddress('--url')).option('-c, --config <file>', 'YAML config naming the daemon\'s address', DEFAULT_CONFIG_PATH);

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

  where(renders.command('gpus').description('the GPUs renders run on: paused or held to a rate, by the operator or by thermal yielding'))
    .option('--json', 'print the raw API answer')
    .action(async (o: Where & { json?: boolean }) => {
      const r = await call<{ gpus: RenderGpuView[] }>(await base(o), '/v1/renders/gpus');
      process.stdout.write(o.json ? `${JSON.stringify(r, null, 2)}\n` : `${await gpusText(r.gpus)}\n`);
    });

  /** PATCHes each GPU (or cpu) named (everything renders run on when none is), then prints what is in force */
  const patch = async (o: Where & { gpu?: RenderDevice[]; json?: boolean }, body: RenderGpuPatch) => {
    const url = await base(o);
    const gpus = o.gpu ?? (await call<{ gpus: RenderGpuView[] }>(url, '/v1/renders/gpus')).gpus.map((g) => g.gpu);
    if (gpus.length === 0) throw new Error('renders run on no synthesis worker on this daemon: nothing to change');
    const done: RenderGpuView[] = [];
    for (const gpu of [...new Set(gpus)]) {
      done.push(await call<RenderGpuView>(url, `/v1/renders/gpus/${gpu}`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }));
    }
    if (o.json) process.stdout.write(`${JSON.stringify({ gpus: done }, null, 2)}\n`);
    else process.stdout.write(`${await gpusText(done)}\n`);
    for (const note of done.map(heldBack).filter((n) => n !== null)) process.stderr.write(`note: ${note}\n`);
    const unsaved = done.filter((g) => g.persisted === false).map((g) => g.gpu);
    if (unsaved.length > 0) {
      // as gance thermal mode: applied, but the next start goes back to what was saved
      process.stderr.write(`warning: ${unsaved.map(name).join(', ')}: applied, but NOT saved in the daemon's state directory (see its log); a restart goes back to the last saved settings\n`);
      process.exitCode = 4;
    }
  };
  const gpuOption = (c: Command) =>
    where(c).option('--gpu <n>', 'this GPU, or "cpu" for the workers without a gpu (repeat for several; default: everything renders run on)', gpuIndex).option('--json', 'print the raw API answers');
  const reason = (o: { reason?: string }) => (o.reason === undefined ? {} : { reason: o.reason });

  gpuOption(renders.command('pause').description("hold the renders on a GPU before their next batch (they stay running; resume lets them go on)"))
    .option('--reason <text>', "why (the daemon's log and the GPU's reason)")
    .action(async (o: Where & { gpu?: RenderDevice[]; json?: boolean; reason?: string }) => patch(o, { paused: true, ...reason(o) }));

  gpuOption(renders.command('resume').description("lift the operator's pause on a GPU (a pause by thermal yielding stays until it lets go)")).action(
    async (o: Where & { gpu?: RenderDevice[]; json?: boolean }) => patch(o, { paused: false }),
  );

  gpuOption(renders.command('max-fps').description('limit the frames per second of the renders on a GPU, or lift the limit ("none")').argument('<fps>', 'frames per second, or "none"', maxFps))
    .option('--reason <text>', "why (the daemon's log and the GPU's reason)")
    .action(async (fps: number | null, o: Where & { gpu?: RenderDevice[]; json?: boolean; reason?: string }) => patch(o, { maxFps: fps, ...reason(o) }));
}
