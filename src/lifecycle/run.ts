import pino, { type Logger } from 'pino';
import type { Config } from '../config/schema.ts';
import { createDaemon, type Daemon, type DaemonOptions } from '../daemon.ts';
import { commandFailsafe } from '../cooler/unit.ts';
import { createNotifier, type Notifier } from './sd-notify.ts';

export interface RunOptions {
  config: Config;
  env?: NodeJS.ProcessEnv;
  log?: Logger;
  subsystems?: DaemonOptions['subsystems'];
  /** called instead of process.exit (tests) */
  exit?: (code: number) => void;
  /** the same signal again within this many ms is the same request (default DUPLICATE_SIGNAL_MS; tests on a loaded machine widen it) */
  duplicateSignalMs?: number;
}

const READY_POLL_MS = 100;
/** longest an exit waits for the log to drain */
const FLUSH_BOUND_MS = 1000;
/**
 * The same signal again this soon after the first is the same request delivered twice, not an
 * operator who wants out now: Ctrl-C under npx or npm reaches node from the terminal and again
 * forwarded by npm, milliseconds apart, and took the daemon straight to the exit-at-once path.
 */
const DUPLICATE_SIGNAL_MS = 1000;
/** what a stop gets past lifecycle.stopTimeoutMs before the daemon gives up on it */
const STOP_GRACE_MS = 500;

/**
 * Longest from SIGTERM to the process's exit: the stop's own bound, its grace, then the log's
 * drain. systemd's TimeoutStopSec must be above this for the largest stopTimeoutMs the schema
 * takes, or it SIGKILLs a stop still under way (test/systemd/unit.test.ts holds them together).
 */
export function stopExitBoundMs(stopTimeoutMs: number): number {
  return stopTimeoutMs + STOP_GRACE_MS + FLUSH_BOUND_MS;
}

/**
 * Runs the daemon as the process: signals, crash handlers, systemd notify. Every way out commands
 * the cooler's failsafe first and says so in the log.
 */
export async function runDaemon(opts: RunOptions): Promise<Daemon> {
  const env = opts.env ?? process.env;
  // Synchronous writes: a daemon logs little, and the lines of a crash (the failsafe first) must
  // all get out, in order; pino's async default reordered them at exit under load.
  const log = opts.log ?? pino({ level: opts.config.log.level, base: { name: 'gance', pid: process.pid } }, pino.destination({ fd: 1, sync: true }));
  const rawExit = opts.exit ?? ((code: number) => process.exit(code));
  // pino writes asynchronously: exiting with lines buffered or a write in flight loses them or,
  // through pino's flush at exit, writes them out of order. Drain first (bounded: a stuck stdout
  // must not keep a crashed daemon alive).
  const exit = (code: number) => {
    let done = false;
    const go = () => {
      if (done) return;
      done = true;
      clearTimeout(bound);
      rawExit(code);
    };
    const bound = setTimeout(go, FLUSH_BOUND_MS);
    try {
      log.flush(go);
    } catch {
      go();
    }
  };
  const notifier: Notifier = createNotifier(env, (err) => log.warn({ err }, 'sd_notify failed'));

  let daemon: Daemon;
  try {
    daemon = await createDaemon({ config: opts.config, log, subsystems: opts.subsystems });
  } catch (err) {
    log.fatal({ err }, `cannot create daemon: ${(err as Error).message}`);
    throw err;
  }

  let exiting = false;
  let first: { signal: NodeJS.Signals; at: number } | null = null;
  const duplicateMs = opts.duplicateSignalMs ?? DUPLICATE_SIGNAL_MS;
  const timers: NodeJS.Timeout[] = [];
  const cleanup = () => {
    for (const t of timers) clearInterval(t);
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    process.off('SIGHUP', onSignal);
    process.off('uncaughtException', onCrash);
    process.off('unhandledRejection', onRejection);
    notifier.close();
  };

  const onSignal = (signal: NodeJS.Signals) => {
    if (first && first.signal === signal && performance.now() - first.at < duplicateMs) {
      log.info({ signal }, `${signal} again within ${duplicateMs} ms (npm or npx passes the terminal's on): still stopping; another one quits at once`);
      return;
    }
    if (exiting) {
      // Second signal: the operator wants out now. One bounded failsafe attempt, then exit.
      log.warn({ signal }, 'second signal: exiting at once');
      void commandFailsafe(daemon.cooler, log, `second ${signal}`, 200).finally(() => {
        cleanup();
        exit(130);
      });
      return;
    }
    exiting = true;
    first = { signal, at: performance.now() };
    if (signal === 'SIGHUP') {
      log.warn({ signal }, 'SIGHUP: the config is not reloaded in place; stopping (under systemd, Restart=always starts the daemon again on the config file as it is now)');
    }
    log.info({ signal }, 'stopping');
    notifier.send('STOPPING=1');
    const bound = setTimeout(() => {
      log.error({ boundMs: opts.config.lifecycle.stopTimeoutMs }, 'stop took too long: exiting');
      cleanup();
      exit(1);
    }, opts.config.lifecycle.stopTimeoutMs + STOP_GRACE_MS);
    daemon.stop().then(
      () => {
        clearTimeout(bound);
        log.info('stopped');
        cleanup();
        exit(0);
      },
      (err) => {
        clearTimeout(bound);
        log.error({ err }, 'stop failed');
        cleanup();
        exit(1);
      },
    );
  };

  let crashing = false;
  const crash = (kind: string, err: unknown) => {
    log.fatal({ err, kind }, `${kind}: ${(err as Error)?.message ?? String(err)}`);
    if (crashing) return;
    crashing = true;
    exiting = true;
    notifier.send('STOPPING=1');
    const hardExit = setTimeout(() => exit(1), 2000);
    daemon.emergency(kind).finally(() => {
      clearTimeout(hardExit);
      cleanup();
      exit(1);
    });
  };
  const onCrash = (err: Error) => crash('uncaughtException', err);
  const onRejection = (reason: unknown) => crash('unhandledRejection', reason);

  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // node's default for SIGHUP (a closed terminal, `systemctl kill -s HUP`, an operator's reload
  // habit) ends the process at once, without the fans' failsafe: it takes the stop path instead
  process.on('SIGHUP', onSignal);
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onRejection);

  try {
    await daemon.start();
  } catch (err) {
    log.fatal({ err }, `cannot start: ${(err as Error).message}`);
    cleanup();
    throw err;
  }

  if (notifier.enabled) {
    const readyPoll = setInterval(() => {
      if (daemon.supervisor.notReady().length === 0) {
        clearInterval(readyPoll);
        notifier.send('READY=1');
        log.info('ready');
      }
    }, READY_POLL_MS);
    timers.push(readyPoll);
    if (notifier.watchdogMs !== undefined) {
      // Fed only while every unit's loop is alive: a stalled control loop lets systemd restart us.
      const feed = setInterval(() => {
        if (daemon.supervisor.allAlive()) notifier.send('WATCHDOG=1');
        else log.warn({ notReady: daemon.supervisor.notReady() }, 'a unit is not alive: withholding the systemd watchdog');
      }, notifier.watchdogMs / 2);
      timers.push(feed);
    }
  }
  return daemon;
}
