/** Child-process helpers for ffprobe/ffmpeg: whole-output runs with a bounded stderr tail. */
import { spawn, type ChildProcess } from 'node:child_process';
import { AudioError } from './errors.ts';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderrTail: string;
}

const STDERR_TAIL = 4000;

/**
 * Runs `tool` to its end. Its stdout comes back whole, or, with `onStdout`, goes there piece by piece
 * as it arrives (a decoded track is not held as bytes as well); an error thrown there ends the tool
 * and the run with it.
 */
export function runTool(tool: string, args: string[], file: string, onStdout?: (chunk: Buffer) => void): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    // its own process group: a Ctrl-C reaches the daemon alone, whose stop pauses the render this
    // decode is for (killed with the daemon's group, it could fail the render's audio before the
    // stop paused it). A daemon gone outright: its next write to stdout finds the reader gone
    // (EPIPE) and it exits
    const child = spawn(tool, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const chunks: Buffer[] = [];
    let stderr = '';
    let failed: unknown = null;
    child.stdout.on('data', (c: Buffer) => {
      if (!onStdout) chunks.push(c);
      else if (failed === null) {
        try {
          onStdout(c);
        } catch (err) {
          failed = err;
          child.kill('SIGKILL');
        }
      }
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr = (stderr + c.toString('utf8')).slice(-STDERR_TAIL);
    });
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') {
        reject(new AudioError('AUDIO_FFMPEG_MISSING', `${tool} is not installed or not on PATH (needed to read audio)`, file, { cause: err }));
      } else reject(new AudioError('AUDIO_UNREADABLE', `could not start ${tool}: ${err.message}`, file, { cause: err }));
    });
    child.on('close', (code, signal) => {
      if (failed !== null) reject(failed as Error);
      else resolve({ code, signal, stdout: Buffer.concat(chunks), stderrTail: stderr.trim() });
    });
  });
}

/** Last meaningful line of ffmpeg's stderr, for error messages. */
export function lastLine(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
  return lines.at(-1) ?? 'no diagnostic output';
}

/**
 * SIGTERM, then SIGKILL if it is still there after `graceMs`: an ffmpeg blocked in a system call
 * (opening a FIFO nobody writes, writing to a pipe nobody reads) never acts on SIGTERM.
 */
export function terminate(child: ChildProcess, graceMs = 1500): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }, graceMs);
  timer.unref();
  child.once('exit', () => clearTimeout(timer));
}
