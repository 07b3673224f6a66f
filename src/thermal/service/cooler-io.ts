/**
 * The control loop's side of the cooler: commands are fire-and-forget with a timeout, reads keep
 * the latest state. Nothing here is awaited inside a tick, so a wedged serial link cannot stall
 * the loop; it shows up as a lost link instead (and the loop sends the fans to full).
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { LinkTimeoutError, type Cooler, type CoolerState } from '../../cooler/cooler.ts';
import { stallTolerantTimeout, type Timeout } from '../../cooler/timeout.ts';
import { commandFailsafe } from '../../cooler/unit.ts';

/** consecutive failed or unanswered writes that count as a lost link */
const FAILED_WRITES_LOST = 2;
/** abandoned (never answered) commands allowed in flight before we stop adding more */
const MAX_ABANDONED = 3;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      // a stalled loop is not a silent device: the answer may be waiting unread (timeout.ts)
      timer = stallTolerantTimeout(ms, () => reject(new LinkTimeoutError(`${what}: no answer within ${ms} ms`)));
    }),
  ]).finally(() => timer?.cancel());
}

export class CoolerIo {
  /** when the latest state was read (monotonic ms) */
  stateAt = -Infinity;
  private lastRead: CoolerState | null = null;
  writeFailures = 0;
  /** the failure of the latest command, null once one is answered again (each failure episode is logged once) */
  lastError: string | null = null;
  private consecutiveFailures = 0;
  private writing = false;
  private reading = false;
  private abandoned = 0;
  private lastProbe = -Infinity;
  private lastFailureTimedOut = false;
  private failsafeSent = false;
  private inFlight: Promise<void> | null = null;
  /**
   * Bumped when the link goes up or down and when we command the device's failsafe: duties
   * answered in an earlier epoch say nothing about what the device runs now.
   */
  private epoch = 0;
  /** duties we sent were answered in this epoch */
  private dutiesLanded = false;
  /**
   * The latest read was sent after duties we sent had been answered, in the same epoch: a
   * failsafe it reports came after the device took our duties (its watchdog, a restart), not its
   * power-on mode or our own failsafe command, which the loop's next duties end anyway.
   */
  readAfterDuties = false;

  constructor(
    readonly cooler: Cooler,
    private readonly timeoutMs: number,
    private readonly log: Logger,
  ) {
    cooler.on('link', () => this.newEpoch());
  }

  private newEpoch(): void {
    this.epoch += 1;
    this.dutiesLanded = false;
    this.readAfterDuties = false;
  }

  /**
   * The latest state read from the device. While the link is not usable its failsafe flag is not
   * the last reading (which would say "running our targets" forever) but what the driver can tell:
   * unknown, then assumed once the device's watchdog must have taken the fans to full.
   */
  get state(): CoolerState | null {
    const s = this.lastRead;
    if (s === null || this.linkOk()) return s;
    const d = this.cooler.deviceFailsafe();
    return { ...s, failsafe: d.failsafe, failsafeAssumed: d.assumed };
  }

  /**
   * The link is usable: the driver says it is up and our commands get answers. A command still
   * out counts only once its stall-tolerant timeout has expired (a failure below), never by the
   * wall clock here: after our own loop stalled, the tick runs before the answer that arrived
   * meanwhile is read, and would call a working link lost and command a failsafe.
   */
  linkOk(): boolean {
    if (!this.cooler.linkUp) return false;
    if (this.consecutiveFailures >= FAILED_WRITES_LOST) return false;
    // one unanswered command is already a whole timeout of silence
    return !(this.consecutiveFailures > 0 && this.lastFailureTimedOut);
  }

  /** Send duties unless a command is still out (the next tick sends fresher ones). */
  write(duties: Record<string, number>): void {
    const now = performance.now();
    if (this.writing) return;
    // A device that swallows commands: only probe it now and then instead of piling up more.
    if (this.abandoned >= MAX_ABANDONED && now - this.lastProbe < 5 * this.timeoutMs) return;
    this.lastProbe = now;
    this.writing = true;
    const epoch = this.epoch;
    let settled = false;
    let driverDone = false; // the driver settled it (an answer, or its own timeout or error)
    const p = this.cooler.setDuties(duties);
    p.then(
      () => {
        driverDone = true;
        if (!settled) return;
        // a late answer: the link works after all
        this.abandoned = Math.max(0, this.abandoned - 1);
      },
      () => {
        driverDone = true;
        if (settled) this.abandoned = Math.max(0, this.abandoned - 1);
      },
    );
    this.inFlight = withTimeout(p, this.timeoutMs, 'cooler.setDuties').then(
      () => {
        settled = true;
        this.writing = false;
        this.consecutiveFailures = 0;
        this.lastFailureTimedOut = false;
        this.abandoned = 0;
        this.failsafeSent = false;
        if (epoch === this.epoch) this.dutiesLanded = true;
        // the failure is over: the next one is news even when it says the same (a flapping link
        // repeating one error was logged once, then never again across its recoveries)
        if (this.lastError !== null) this.log.info({ after: this.lastError }, 'cooler commands answered again');
        this.lastError = null;
      },
      (err: Error) => {
        settled = true;
        this.writing = false;
        // the driver's own timeout (after its retries) usually comes first; either is silence
        this.lastFailureTimedOut = err instanceof LinkTimeoutError;
        // only a command we stopped waiting for is still out there; one the driver gave up on is not
        if (!driverDone) this.abandoned += 1;
        this.consecutiveFailures += 1;
        this.writeFailures += 1;
        if (this.lastError !== err.message) this.log.warn({ err: err.message }, 'cooler command failed');
        this.lastError = err.message;
      },
    );
  }

  /** Resolves once the command in flight (if any) has been answered or given up on: for tests and shutdown. */
  whenSettled(): Promise<void> {
    return this.inFlight ?? Promise.resolve();
  }

  /** Refresh the state unless a read is out. */
  read(): void {
    if (this.reading || !this.cooler.linkUp) return;
    this.reading = true;
    const epoch = this.epoch;
    const afterDuties = this.dutiesLanded;
    withTimeout(this.cooler.read(), this.timeoutMs, 'cooler.read').then(
      (s) => {
        this.reading = false;
        this.lastRead = s;
        this.stateAt = performance.now();
        this.readAfterDuties = afterDuties && epoch === this.epoch;
      },
      () => {
        this.reading = false;
      },
    );
  }

  /** Fans to full by the device's own failsafe command, once per episode, bounded, never awaited by the loop. */
  failsafe(reason: string): void {
    if (this.failsafeSent) return;
    this.failsafeSent = true;
    this.newEpoch();
    void commandFailsafe(this.cooler, this.log, reason);
  }

  /** The same, awaited (daemon stop). */
  async failsafeNow(reason: string): Promise<boolean> {
    this.failsafeSent = true;
    this.newEpoch();
    return commandFailsafe(this.cooler, this.log, reason);
  }
}
