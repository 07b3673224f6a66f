/**
 * ffmpeg as a child process for the render: an encoder fed raw frames on stdin with back-pressure,
 * and whole runs (join, mux). Every failure becomes a RenderFailure: a full disk is 'no-space'
 * (ffmpeg says "No space left on device"), anything else 'encoder' with ffmpeg's last words.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { RenderFailure } from './types.ts';

const STDERR_TAIL = 4000;

function lastLines(stderr: string, n = 2): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
  return lines.slice(-n).join(' / ') || 'no diagnostic output';
}

/** Why an ffmpeg run failed, as the render's failure. */
export function ffmpegFailure(bin: string, what: string, code: number | null, signal: NodeJS.Signals | null, stderr: string): RenderFailure {
  if (/No space left on device/i.test(stderr)) return new RenderFailure('no-space', `${what}: no space left on the device (ffmpeg: ${lastLines(stderr)})`);
  const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
  return new RenderFailure('encoder', `${what}: ffmpeg (${bin}) ${how}: ${lastLines(stderr)}`);
}

function spawnError(bin: string, what: string, err: NodeJS.ErrnoException): RenderFailure {
  if (err.code === 'ENOENT' || err.code === 'EACCES') return new RenderFailure('encoder', `${what}: ffmpeg not found or not executable at "${bin}" (${err.code})`, { cause: err });
  return new RenderFailure('encoder', `${what}: could not start ffmpeg (${bin}): ${err.message}`, { cause: err });
}

interface Running {
  child: ChildProcess;
  stderr: () => string;
  /** settles once the process has exited (or failed to start) */
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; spawnError?: NodeJS.ErrnoException }>;
}

function start(bin: string, args: string[], stdin: 'pipe' | 'ignore'): Running {
  // its own process group: a Ctrl-C at the terminal reaches only gance, which stops ffmpeg itself
  // (ffmpeg would otherwise close its output early and look like a finished encode)
  const child = spawn(bin, ['-hide_banner', '-nostats', '-loglevel', 'error', ...args], { stdio: [stdin, 'ignore', 'pipe'], detached: true });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString('utf8')).slice(-STDERR_TAIL);
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; spawnError?: NodeJS.ErrnoException }>((resolve) => {
    child.once('error', (err: NodeJS.ErrnoException) => resolve({ code: null, signal: null, spawnError: err }));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  // a write into a pipe whose reader has gone (EPIPE) is reported through the exit status instead
  child.stdin?.on('error', () => {});
  return { child, stderr: () => stderr, exit };
}

/** Runs ffmpeg to completion (no stdin); rejects with a RenderFailure. Aborting kills it. */
export async function runFfmpeg(bin: string, args: string[], what: string, signal?: AbortSignal): Promise<void> {
  const run = start(bin, ['-nostdin', ...args], 'ignore');
  const onAbort = () => run.child.kill('SIGKILL');
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const r = await run.exit;
    if (r.spawnError) throw spawnError(bin, what, r.spawnError);
    if (signal?.aborted) throw new RenderFailure('cancelled', `${what}: cancelled`);
    if (r.code !== 0) throw ffmpegFailure(bin, what, r.code, r.signal, run.stderr());
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

/** `ffmpeg -version`'s first line; a missing binary is an 'encoder' failure before any work starts. */
export async function ffmpegVersion(bin: string): Promise<string> {
  // its own process group, as the encoders': a Ctrl-C at a render's start must not fail it as 'encoder'
  const child = spawn(bin, ['-version'], { stdio: ['ignore', 'pipe', 'ignore'], detached: true });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
  const r = await new Promise<{ code: number | null; err?: NodeJS.ErrnoException }>((resolve) => {
    child.once('error', (err: NodeJS.ErrnoException) => resolve({ code: null, err }));
    child.once('close', (code) => resolve({ code }));
  });
  if (r.err) throw spawnError(bin, 'checking the encoder', r.err);
  const first = out.split('\n')[0]?.trim() ?? '';
  if (r.code !== 0 || !first.startsWith('ffmpeg version')) throw new RenderFailure('encoder', `checking the encoder: "${bin} -version" did not answer like ffmpeg (exit code ${r.code})`);
  return first;
}

/** An ffmpeg process reading raw frames on stdin. */
export class FfmpegInput {
  private readonly run: Running;
  private exited = false;
  private ending = false;
  /**
   * Settles, with the reason, if ffmpeg exits before finish() or kill() was called: it stopped
   * reading, and frames would be missing. Never settles otherwise. Lets a writer that waits on
   * another encoder learn of it at once rather than at this one's next write.
   */
  readonly stopped: Promise<RenderFailure>;

  constructor(
    private readonly bin: string,
    args: string[],
    private readonly what: string,
  ) {
    this.run = start(bin, args, 'pipe');
    void this.run.exit.then(() => (this.exited = true));
    this.stopped = new Promise((resolve) => {
      void this.run.exit.then(async () => {
        if (!this.ending) resolve(await this.failure());
      });
    });
  }

  /** Resolves once ffmpeg has taken the chunk into its pipe (waits for it to drain: back-pressure). */
  async write(chunk: Uint8Array): Promise<void> {
    const stdin = this.run.child.stdin!;
    if (this.exited || stdin.destroyed) throw await this.failure();
    if (stdin.write(chunk)) return;
    // not events.once: it rejects on the pipe's EPIPE, which the exit status explains better
    const drained = new Promise<boolean>((resolve) => stdin.once('drain', () => resolve(true)));
    const ended = this.run.exit.then(() => false);
    if (!(await Promise.race([drained, ended]))) throw await this.failure();
  }

  /** Closes stdin and waits for a clean exit. */
  async finish(): Promise<void> {
    this.ending = true;
    this.run.child.stdin!.end();
    const r = await this.run.exit;
    if (r.spawnError) throw spawnError(this.bin, this.what, r.spawnError);
    if (r.code !== 0) throw ffmpegFailure(this.bin, this.what, r.code, r.signal, this.run.stderr());
  }

  async kill(): Promise<void> {
    this.ending = true;
    if (!this.exited) this.run.child.kill('SIGKILL');
    await this.run.exit;
  }

  private async failure(): Promise<RenderFailure> {
    const r = await this.run.exit;
    if (r.spawnError) return spawnError(this.bin, this.what, r.spawnError);
    // exited with 0 before its input ended is still a failure: frames would be missing
    return ffmpegFailure(this.bin, this.what, r.code, r.signal, this.run.stderr() || 'it stopped reading its input');
  }
}
