/**
 * One long-lived `nvidia-smi --query-gpu=... -lms N` process per daemon, read line by line.
 * Spawning nvidia-smi many times a minute hangs some older GPUs and costs ~30 ms of CPU a call,
 * so it is started once and only restarted (with exponential backoff) when it dies or goes silent.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import type { Logger } from 'pino';
import { EVENT_REASONS_FIELD, THROTTLE_REASONS_FIELD, parseLine, queryFields, rejectedField } from './parse.ts';
import type { GpuSample, GpuSensorSource, SensorStats } from './types.ts';

export interface NvidiaSmiOptions {
  /** executable: nvidia-smi, or node for the fake */
  command: string;
  /** arguments before nvidia-smi's own (the fake's script path) */
  argsPrefix?: string[];
  env?: NodeJS.ProcessEnv;
  intervalMs: number;
  /** no output this long: the process is killed and restarted */
  silentAfterMs: number;
  /** allowance for the first line (nvidia-smi can take seconds to initialise without persistence mode) */
  startupGraceMs?: number;
  restartMinMs: number;
  restartMaxMs: number;
  log: Logger;
  /** called with each new process (the simulated plant feeds the fake through its stdin) */
  onSpawn?: (child: ChildProcess) => void;
  /** node's spawn unless given (tests inject one that fails like EMFILE does) */
  spawn?: typeof spawn;
}

/** Consecutive complete output cycles a GPU may be absent from before it counts as missing. */
const MISSED_CYCLES = 2;
const TAIL_CHARS = 2000;

export class NvidiaSmiSource extends EventEmitter implements GpuSensorSource {
  readonly kind: string = 'nvidia-smi';
  private child: ChildProcess | null = null;
  private stopping = false;
  private reasonsField: string | null = EVENT_REASONS_FIELD;
  private fields = queryFields(this.reasonsField);
  private readonly samples = new Map<number, GpuSample>();
  private readonly missedCycles = new Map<number, number>();
  private cycle = new Set<number>();
  private lastIndex = -1;
  private lastOutputAt = 0;
  private gotOutput = false;
  private running = false;
  private restarts = 0;
  private failedSamples = 0;
  private consecutiveFailures = 0;
  private lastError: string | null = null;
  /** why the watchdog killed the current process, if it did */
  private killedFor: string | null = null;
  private samplesThisProcess = 0;
  private outputTail = '';
  private restartTimer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private exited: Promise<void> = Promise.resolve();

  constructor(private readonly opts: NvidiaSmiOptions) {
    super();
  }

  async start(): Promise<void> {
    this.stopping = false;
    this.spawnReader();
    const check = Math.max(20, Math.min(250, Math.floor(this.opts.silentAfterMs / 5)));
    this.watchdog = setInterval(() => this.checkSilence(), check);
    this.watchdog.unref();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.watchdog);
    clearTimeout(this.restartTimer);
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const kill = setTimeout(() => child.kill('SIGKILL'), 1000);
      await this.exited;
      clearTimeout(kill);
    }
    this.setRunning(false);
    this.emit('stopped');
  }

  /**
   * A reading from the fallback source (systeminformation) while this stream is down. Kept only
   * when no fresher nvidia-smi sample exists; the service keeps the fans at full regardless, as
   * long as the stream itself is down.
   */
  acceptFallback(sample: GpuSample): void {
    const cur = this.samples.get(sample.index);
    if (this.running || (cur && cur.receivedAt >= sample.receivedAt)) return;
    this.samples.set(sample.index, sample);
    this.emit('sample', sample);
  }

  latest(): ReadonlyMap<number, GpuSample> {
    return this.samples;
  }

  missing(): ReadonlySet<number> {
    return new Set([...this.missedCycles].filter(([, n]) => n >= MISSED_CYCLES).map(([i]) => i));
  }

  stats(): SensorStats {
    return { running: this.running, restarts: this.restarts, failedSamples: this.failedSamples, reasonsField: this.reasonsField, lastError: this.lastError };
  }

  /** pid of the current process (tests, diagnostics) */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  private spawnReader(): void {
    this.fields = queryFields(this.reasonsField);
    const args = [...(this.opts.argsPrefix ?? []), `--query-gpu=${this.fields.join(',')}`, '--format=csv,noheader,nounits', '-lms', String(this.opts.intervalMs)];
    this.outputTail = '';
    this.gotOutput = false;
    this.killedFor = null;
    this.samplesThisProcess = 0;
    this.lastOutputAt = performance.now();
    this.cycle = new Set();
    this.lastIndex = -1;
    let child: ChildProcess;
    try {
      // detached: its own session and process group. Ctrl-C at a terminal (or a kill of the group)
      // reaches the daemon alone, which stops this process itself once the units above it have
      // stopped; sharing the group, it died first and the reader logged a restart mid-stop. Nothing
      // signals it when the daemon dies outright, so the pipes end it: a daemon gone closes them, the
      // fake exits on its stdin's end and nvidia-smi dies of SIGPIPE at its next -lms print (node's
      // spawn resets SIGPIPE to its default in the child). Under systemd, KillMode=mixed kills the
      // whole cgroup, this included, once the main process has gone.
      child = (this.opts.spawn ?? spawn)(this.opts.command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: this.opts.env ?? process.env, detached: true });
    } catch (err) {
      // spawn throws synchronously for bad arguments (and an injected one may for anything): a dead process
      this.onExit(null, null, (err as Error).message);
      return;
    }
    this.child = child;
    let resolveExited!: () => void;
    this.exited = new Promise((r) => (resolveExited = r));
    let spawnError: string | null = null;
    let ended = false;
    const end = (code: number | null, signal: NodeJS.Signals | null) => {
      resolveExited();
      if (ended) return;
      ended = true;
      if (this.child === child) this.onExit(code, signal, spawnError);
    };
    // Registered before anything else can throw: an 'error' nobody listens to would crash the daemon.
    child.on('error', (err) => {
      spawnError = (err as NodeJS.ErrnoException).code === 'ENOENT' ? `${this.opts.command}: not found` : err.message;
      // a process that never started gets no 'close' we can count on
      if (child.pid === undefined) end(null, null);
    });
    if (!child.stdout || !child.stderr || !child.stdin) {
      // EMFILE/ENFILE (descriptors exhausted): node returns a process without pipes and emits 'error'
      // on the next tick, which ends it above; this is a fallback should no error come.
      if (child.pid !== undefined) child.kill('SIGKILL');
      setImmediate(() => {
        spawnError ??= 'spawn failed: no stdio pipes (descriptors exhausted?)';
        end(null, null);
      });
      return;
    }
    child.on('close', end);
    child.stdin.on('error', () => {
      /* the fake or nvidia-smi exited while we wrote to it: the exit handler deals with it */
    });
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => this.onLine(line));
    child.stderr.on('data', (chunk: Buffer) => this.keepTail(chunk.toString()));
    this.opts.onSpawn?.(child);
  }

  private keepTail(text: string): void {
    this.outputTail = (this.outputTail + text).slice(-TAIL_CHARS);
  }

  private onLine(raw: string): void {
    this.lastOutputAt = performance.now();
    this.gotOutput = true;
    const line = raw.trim();
    if (!line) return;
    const parsed = parseLine(line, this.fields);
    if (!parsed.ok) {
      this.keepTail(`${line}\n`);
      // An unknown-field message is handled when the process exits; it is not a sample.
      if (rejectedField(line)) return;
      this.failedSamples += 1;
      this.emit('failed-sample', { line, reason: parsed.reason });
      return;
    }
    const sample: GpuSample = { ...parsed.sample, receivedAt: this.lastOutputAt, source: 'nvidia-smi' };
    if (sample.index <= this.lastIndex) this.closeCycle();
    this.lastIndex = sample.index;
    this.cycle.add(sample.index);
    this.samples.set(sample.index, sample);
    if (!this.missedCycles.has(sample.index)) this.missedCycles.set(sample.index, 0);
    this.consecutiveFailures = 0;
    this.samplesThisProcess += 1;
    this.setRunning(true);
    this.emit('sample', sample);
  }

  /** nvidia-smi prints every GPU in index order each loop; a GPU absent from a loop is counted. */
  private closeCycle(): void {
    for (const [index, n] of this.missedCycles) this.missedCycles.set(index, this.cycle.has(index) ? 0 : n + 1);
    this.cycle = new Set();
  }

  private checkSilence(): void {
    const child = this.child;
    if (this.stopping || !child || child.exitCode !== null || child.signalCode !== null) return;
    const allowance = this.gotOutput ? this.opts.silentAfterMs : Math.max(this.opts.silentAfterMs, this.opts.startupGraceMs ?? 10_000);
    const silentFor = performance.now() - this.lastOutputAt;
    if (silentFor > allowance) {
      this.killedFor = `no output for ${Math.round(silentFor)} ms`;
      this.opts.log.warn({ pid: child.pid, silentMs: Math.round(silentFor) }, 'nvidia-smi went silent: killing it');
      this.setRunning(false);
      child.kill('SIGKILL');
    }
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null, spawnError: string | null): void {
    this.child = null;
    if (this.stopping) return;
    const rejected = rejectedField(this.outputTail);
    if (rejected && rejected === this.reasonsField && this.samplesThisProcess === 0) {
      // Older drivers only know clocks_throttle_reasons.*; drivers without either get no reasons column.
      const next = rejected === EVENT_REASONS_FIELD ? THROTTLE_REASONS_FIELD : null;
      this.opts.log.info({ rejected, next }, `nvidia-smi does not know ${rejected}; using ${next ?? 'no throttle reasons'}`);
      this.reasonsField = next;
      this.spawnReader();
      return;
    }
    const why = spawnError ?? this.killedFor ?? (signal ? `killed by ${signal}` : `exited with code ${code}`);
    const tail = this.outputTail.trim().split('\n').slice(-2).join(' | ');
    this.lastError = tail && !spawnError && !this.killedFor ? `${why}: ${tail}` : why;
    this.setRunning(false);
    const delayMs = Math.min(this.opts.restartMaxMs, this.opts.restartMinMs * 2 ** this.consecutiveFailures);
    this.consecutiveFailures += 1;
    this.restarts += 1;
    this.opts.log.warn({ reason: this.lastError, delayMs, restarts: this.restarts }, `nvidia-smi stopped (${this.lastError}); restarting in ${delayMs} ms`);
    this.emit('restart', { reason: this.lastError, delayMs });
    this.restartTimer = setTimeout(() => {
      if (!this.stopping) this.spawnReader();
    }, delayMs);
  }

  private setRunning(up: boolean): void {
    if (this.running === up) return;
    this.running = up;
    // childPid, not pid: the daemon's log already carries its own pid on every line
    if (up) this.opts.log.info({ childPid: this.child?.pid, reasonsField: this.reasonsField }, 'nvidia-smi streaming');
    this.emit('running', up);
  }
}
