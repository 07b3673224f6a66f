/**
 * Paces a CoolerSim against the wall clock on the Node event loop: it runs the CPU in short
 * slices and yields between them, so serial I/O (pty, serialport) and timers keep flowing.
 *
 * Simulated time follows wall time while the host CPU can keep up (the firmware simulates at
 * several times real time here). If it falls behind by more than `maxLagMs` (a loaded machine,
 * a long GC), the debt is dropped ("slip") instead of bursting: the sim then runs slower than the
 * wall clock for that moment, never faster. `stats` says how close it stayed.
 */
import type { CoolerSim } from './sim.ts';
import { F_CPU } from './sim.ts';

export interface RealtimeStats {
  wallSeconds: number;
  simSeconds: number;
  /** simulated seconds per wall second over the whole run (1 = real time) */
  ratio: number;
  /** largest lag seen behind the wall clock, ms */
  maxLagMs: number;
  /** simulated time given up to stay near the wall clock, ms */
  slippedMs: number;
}

export class RealtimeRunner {
  private running = false;
  private timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  private anchorWall = 0;
  private anchorCycles = 0;
  private startWall = 0;
  private startCycles = 0;
  private maxLag = 0;
  private slipped = 0;
  private idle: Promise<void> = Promise.resolve();
  private release: () => void = () => {};
  /** simTimeout()s not yet due, by the cycle they are due at */
  private simTimers: { due: number; fire: () => void; cancelled: boolean }[] = [];

  constructor(
    readonly sim: CoolerSim,
    private readonly opts: { sliceMs?: number; maxLagMs?: number; speed?: number } = {},
  ) {}

  get active(): boolean {
    return this.running;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.anchorWall = this.startWall = performance.now();
    this.anchorCycles = this.startCycles = this.sim.cycles;
    this.idle = new Promise((r) => (this.release = r));
    this.loop();
  }

  /** Stops after the current slice. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.timer) {
      clearTimeout(this.timer as NodeJS.Timeout);
      clearImmediate(this.timer as NodeJS.Immediate);
    }
    this.release();
    await this.idle;
  }

  get stats(): RealtimeStats {
    const wallSeconds = (performance.now() - this.startWall) / 1000;
    const simSeconds = (this.sim.cycles - this.startCycles) / F_CPU;
    return { wallSeconds, simSeconds, ratio: wallSeconds > 0 ? simSeconds / wallSeconds : 0, maxLagMs: this.maxLag, slippedMs: this.slipped };
  }

  /** Resolves once `ms` of simulated time has passed (the runner must be started). */
  async simDelay(ms: number): Promise<void> {
    const end = this.sim.cycles + (ms * F_CPU) / 1000;
    while (this.sim.cycles < end) await new Promise((r) => setTimeout(r, 2));
  }

  /**
   * Calls `onExpire` once `ms` of simulated time has passed: a host-side wait measured on the
   * board's clock, so that a board the loaded machine runs slower than real time is not timed out
   * for answering in its own few milliseconds. Checked before each slice, so the event loop reads
   * what the board sent between them; never fires while the runner is stopped. The shape of the
   * product's stallTolerantTimeout (src/cooler/timeout.ts), which a test can route here.
   */
  simTimeout(ms: number, onExpire: () => void): { cancel(): void } {
    const t = { due: this.sim.cycles + (ms * F_CPU) / 1000, fire: onExpire, cancelled: false };
    this.simTimers.push(t);
    return {
      cancel: () => {
        t.cancelled = true;
        this.simTimers = this.simTimers.filter((x) => x !== t);
      },
    };
  }

  private fireSimTimers(): void {
    const now = this.sim.cycles;
    const due = this.simTimers.filter((t) => t.due <= now).sort((a, b) => a.due - b.due);
    if (due.length === 0) return;
    this.simTimers = this.simTimers.filter((t) => t.due > now);
    for (const t of due) if (!t.cancelled) t.fire(); // one may cancel another due with it
  }

  private loop = (): void => {
    this.timer = undefined;
    if (!this.running) return;
    // due waits first: what the last slice sent has had an event-loop turn to be read
    this.fireSimTimers();
    const speed = this.opts.speed ?? 1;
    const sliceCycles = ((this.opts.sliceMs ?? 5) * F_CPU) / 1000;
    const maxLagCycles = ((this.opts.maxLagMs ?? 100) * F_CPU) / 1000;
    const now = performance.now();
    const target = this.anchorCycles + ((now - this.anchorWall) * F_CPU * speed) / 1000;
    let behind = target - this.sim.cycles;
    this.maxLag = Math.max(this.maxLag, (behind / F_CPU) * 1000);
    if (behind > maxLagCycles) {
      // re-anchor: give up the debt beyond maxLag
      const drop = behind - maxLagCycles;
      this.anchorCycles -= drop;
      this.slipped += (drop / F_CPU) * 1000;
      behind = maxLagCycles;
    }
    if (behind > 0) this.sim.runCycles(Math.ceil(Math.min(behind, sliceCycles)));
    const stillBehind = behind > sliceCycles;
    this.timer = stillBehind ? setImmediate(this.loop) : setTimeout(this.loop, 1);
  };
}
