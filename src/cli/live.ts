/**
 * `gance live --audio DEVICE|FILE --network ID`: one live session in this process (or on a daemon with --daemon URL),
 * built on the same in-process dependencies as `gance render`, with a status line (fps, drops,
 * latency), optionally the MJPEG stream and projector page on a port and ffmpeg outputs (--out).
 * Ctrl-C stops it.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { ApiPlugin } from '../api/app.ts';
import { DEFAULT_CONFIG_PATH } from '../config/paths.ts';
import { call as daemonCall, daemonAddress } from './daemon-api.ts';

interface LiveFlags {
  audio: string;
  network?: string[];
  fps?: number;
  mjpeg?: number;
  host: string;
  config: string;
  lookahead?: 0 | 3;
  for?: number;
  out?: string[];
  daemon?: string;
  projection?: string;
}

function collect(v: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), v];
}

function integer(flag: string, min: number, max: number) {
  return (v: string) => {
    const x = Number(v);
    if (v.trim() === '' || !Number.isInteger(x) || x < min || x > max) throw new InvalidArgumentError(`${flag} must be an integer in ${min}..${max}, got "${v}"`);
    return x;
  };
}

/** An existing file plays looped at real time; anything else names an ALSA capture device. */
export function audioFromFlag(v: string): { kind: 'file'; path: string } | { kind: 'alsa'; device: string } {
  if (existsSync(v) && statSync(v).isFile()) return { kind: 'file', path: resolve(v) };
  if (v.includes('/') || /\.(wav|flac|mp3|ogg|m4a|aac|aiff?)$/i.test(v)) return { kind: 'file', path: resolve(v) }; // refused with the file's own error
  return { kind: 'alsa', device: v.replace(/^alsa:/, '') };
}

type View = ReturnType<import('../live/session.ts').LiveSession['view']>;
// loaded when a session starts, not for --help (test/cli/startup.test.ts)
type SynthesisRecordModule = typeof import('../render/synthesis-record.ts');

export function statusLine(v: View): string {
  const drops = Object.entries(v.frames.dropped).filter(([, n]) => n > 0);
  const total = drops.reduce((s, [, n]) => s + n, 0);
  const ms = (k: keyof View['latencyMs']) => (v.latencyMs[k].p50 === null ? '-' : `${Math.round(v.latencyMs[k].p50)}/${Math.round(v.latencyMs[k].p99!)}`);
  const clients = v.clients.mjpeg + v.clients.ws;
  return (
    `${v.state} ${v.networks.join(',')}${v.pendingNetworks ? ` (loading ${v.pendingNetworks.join(',')})` : ''}: ${v.measuredFps.toFixed(1)}/${v.fps} fps, ` +
    `${v.frames.shown} shown, ${total} dropped${total ? ` (${drops.map(([c, n]) => `${c} ${n}`).join(', ')})` : ''}, ` +
    `latency p50/p99 ms: publish ${ms('publish')}, mjpeg ${ms('mjpeg')}, paint ${ms('paint')}; ${clients} client${clients === 1 ? '' : 's'}` +
    (v.error ? `; ${v.error}` : '')
  );
}

/**
 * What synthesizes the session, on stderr as `gance render` says it (`synthesis:`, `warning:`
 * lines): at the start, and again whenever it changes (a worker that died, came back, fell back
 * to the CPU), so a performer sees that frames now come from the CPU.
 */
export function synthesisTeller(write: (line: string) => void, describeWorker: SynthesisRecordModule['describeWorker']): (v: View) => void {
  let last = '';
  return (v) => {
    const s = v.synthesis;
    if (s === null) return;
    const lines = [`synthesis: ${s.workers.length === 0 ? 'no worker serves the showing networks' : s.workers.map(describeWorker).join('; ')}`, ...s.warnings.map((w) => `warning: ${w}`)];
    const text = lines.join('\n');
    if (text === last) return;
    last = text;
    write(`${text}\n`);
  };
}

/**
 * The session's body. In this process paths are taken from here; for a daemon they go as given:
 * names under its render.mediaRoot (audio, projection) and render.outputRoot (--out files).
 */
function startBody(flags: LiveFlags, networks: string[], here: boolean) {
  const audio = audioFromFlag(flags.audio);
  const path = (p: string) => (here ? resolve(p) : p);
  return {
    audio: audio.kind === 'file' && !here ? { kind: 'file' as const, path: flags.audio } : audio,
    networks,
    ...(flags.fps !== undefined ? { fps: flags.fps } : {}),
    ...(flags.lookahead !== undefined ? { lookaheadFrames: flags.lookahead } : {}),
    ...(flags.projection !== undefined ? { projectionFile: path(flags.projection) } : {}),
    ...(flags.out ? { outputs: flags.out.map((o) => ({ target: /^[a-z]+:\/\//i.test(o) ? o : path(o) })) } : {}),
  };
}

/** Until Ctrl-C/SIGTERM or --for. */
function untilStopped(flags: LiveFlags): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve();
    };
    process.on('SIGINT', done);
    process.on('SIGTERM', done);
    if (flags.for !== undefined) setTimeout(done, flags.for * 1000).unref();
  });
}

/** The same session on a running daemon: its API starts, shows and stops it (the audio is the daemon's). */
async function againstDaemon(flags: LiveFlags, base: string): Promise<void> {
  const url = base.replace(/\/+$/, '');
  // the request path every daemon command takes (daemon-api.ts call): the token (GANCE_TOKEN, its
  // file, /etc/gance/token), the hint where it was looked for on a 401, --daemon named when unreachable
  const call = async <T = View>(method: string, path: string, body?: unknown): Promise<T> => {
    const init: RequestInit = { method, ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}) };
    // a start or stop may wait on the daemon loading a network or closing outputs; a status poll should not hang
    return daemonCall<T>(url, path, init, method === 'GET' ? 10_000 : 60_000, '--daemon');
  };
  // no --network: the daemon's active one
  const active = flags.network ? null : (await call<{ active: string | null }>('GET', '/v1/networks')).active;
  const networks = flags.network ?? (active ? [active] : []);
  if (networks.length === 0) throw new Error(`daemon ${url} has no active network: name one with --network`);
  const started = await call('POST', '/v1/live', startBody(flags, networks, false));
  process.stdout.write(`live session ${started.id} on ${url}: ${flags.audio} -> ${started.networks.join(', ')} at ${started.fps} fps\nmjpeg ${url}/v1/live/${started.id}/mjpeg\npage ${url}/v1/live/${started.id}/page\n`);
  const tty = process.stdout.isTTY === true;
  const { describeWorker } = await import('../render/synthesis-record.ts');
  // on a terminal the lines go above the status line being rewritten in place
  const tell = synthesisTeller((t) => process.stderr.write(tty ? `\r\x1b[K${t}` : t), describeWorker);
  tell(started);
  const timer = setInterval(() => {
    call('GET', `/v1/live/${started.id}`).then(
      (v) => {
        tell(v);
        process.stdout.write(tty ? `\r\x1b[K${statusLine(v)}` : `${statusLine(v)}\n`);
      },
      (e: Error) => process.stderr.write(`${e.message}\n`),
    );
  }, 1000);
  try {
    await untilStopped(flags);
  } finally {
    clearInterval(timer);
  }
  const last = await call('DELETE', `/v1/live/${started.id}`);
  process.stdout.write(`${tty ? '\n' : ''}stopped: ${statusLine(last)}\n`);
}

async function liveCommand(flags: LiveFlags): Promise<void> {
  if (flags.daemon) return againstDaemon(flags, flags.daemon);
  // before any network loads: a recording that cannot be written is said at once, not warned about each second
  const { checkOutputFolder } = await import('../live/targets.ts');
  for (const o of flags.out ?? []) await checkOutputFolder(o, '--out');
  const [{ loadConfigFile }, { createLocalRenderer }, { createLiveService }, { liveApi }, { buildApp }, pinoModule, { Registry }, { describeWorker }] = await Promise.all([
    import('../config/load.ts'),
    import('../render/local.ts'),
    import('../live/service.ts'),
    import('../live/api.ts'),
    import('../api/app.ts'),
    import('pino'),
    import('prom-client'),
    import('../render/synthesis-record.ts'),
  ]);
  const config = loadConfigFile(flags.config);
  const refs = flags.network ?? [config.synthesis.networks.default];
  // an ONNX file names its folder as one more place to find networks
  const files = refs.filter((r) => r.endsWith('.onnx')).map((r) => resolve(r));
  const networks = refs.map((r) => (r.endsWith('.onnx') ? basename(r, '.onnx') : r));
  const level = ['info', 'debug', 'trace'].includes(config.log.level) ? 'warn' : config.log.level;
  const log = pinoModule.pino({ level }, pinoModule.destination(2));
  const local = createLocalRenderer({ config, log, extraDirs: [...new Set(files.map((f) => dirname(f)))], firstNetwork: networks[0]! });
  const registry = new Registry();
  const service = createLiveService({ networks: local.deps.networks, latents: local.deps.latents, log, registry });
  let app: Awaited<ReturnType<typeof buildApp>> | null = null;
  const done = new AbortController();
  const onSignal = () => done.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const tty = process.stdout.isTTY === true;
  let timer: NodeJS.Timeout | undefined;
  try {
    const session = await service.start(startBody(flags, networks, true));
    process.stdout.write(`live session ${session.id}: ${flags.audio} -> ${networks.join(', ')} at ${session.fps} fps\n`);
    if (flags.mjpeg !== undefined) {
      const page = `/v1/live/${session.id}/page`;
      // the projector's browser is pointed at host:port by hand: its root leads to the one session's page
      const root: ApiPlugin = {
        prefix: '',
        plugin: async (a) => {
          a.get('/', { schema: { hide: true } }, (_req, reply) => reply.redirect(page, 302));
        },
      };
      app = await buildApp({ registry, plugins: [liveApi(service), root], notReady: () => [] });
      const base = await app.listen({ host: flags.host, port: flags.mjpeg });
      process.stdout.write(`mjpeg ${base}/v1/live/${session.id}/mjpeg\npage ${base}/v1/live/${session.id}/page\nmetrics ${base}/metrics\n`);
    }
    // on a terminal the lines go above the status line being rewritten in place
    const tell = synthesisTeller((t) => process.stderr.write(tty ? `\r\x1b[K${t}` : t), describeWorker);
    tell(session.view());
    timer = setInterval(() => {
      const v = session.view();
      tell(v);
      process.stdout.write(tty ? `\r\x1b[K${statusLine(v)}` : `${statusLine(v)}\n`);
    }, 1000);
    const stop = new Promise<void>((r) => done.signal.addEventListener('abort', () => r(), { once: true }));
    const limit = flags.for !== undefined ? new Promise<void>((r) => setTimeout(r, flags.for! * 1000).unref()) : new Promise<void>(() => {});
    await Promise.race([stop, limit]);
    clearInterval(timer);
    const last = await service.stop(session.id);
    process.stdout.write(`${tty ? '\n' : ''}stopped: ${statusLine(last)}\n`);
  } finally {
    clearInterval(timer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await service.stopAll();
    await app?.close();
    await local.close();
  }
}

export function register(program: Command): void {
  program
    .command('live')
    .description('one live session in this process: audio in, frames paced to it, status line; --mjpeg serves the stream and the projector page')
    .requiredOption('--audio <device|file>', 'ALSA capture device (e.g. hw:1,0, default) or an audio file played looped at real time (with --daemon a name under its render.mediaRoot)')
    .option('-n, --network <id|file.onnx>', 'network (repeat for a set the music switches between; default synthesis.networks.default)', collect)
    .option('--fps <n>', 'target frames per second (1..120, default 30)', integer('--fps', 1, 120))
    .option('--mjpeg <port>', 'serve /v1/live/ID/mjpeg and /v1/live/ID/page on this port (0: any free port)', integer('--mjpeg', 0, 65535))
    .option('--host <address>', 'address for --mjpeg', '127.0.0.1')
    .option('--out <file|url>', 'also send the frames to a file (.mkv, .ts, .mp4; with --daemon a name under its render.outputRoot) or a stream URL (udp://, srt://, tcp://, rtmp://, rtmps://): H.264 with the audio, AAC (repeatable)', collect)
    .option('--lookahead <frames>', 'analysis look-ahead: 3 (GANce smoothing) or 0 (lowest latency)', (v) => {
      if (v !== '0' && v !== '3') throw new InvalidArgumentError('--lookahead must be 0 or 3');
      return Number(v) as 0 | 3;
    })
    .option('--projection <file.h5>', 'a GANce projection file: its w latents blended with the music, for networks with a w input')
    .option('--for <seconds>', 'stop after this long (default: until Ctrl-C)', integer('--for', 1, 31_536_000))
    .option('--daemon <url>', 'run the session on this daemon (e.g. http://rig:9840) instead of in this process; the audio is the daemon machine\'s', daemonAddress('--daemon'))
    .option('-c, --config <file>', 'YAML config file (synthesis workers, latents)', DEFAULT_CONFIG_PATH)
    .action(async (flags: LiveFlags) => liveCommand(flags));
}
