import type { Logger } from 'pino';
import { startOrder, type Unit } from './unit.ts';

export type UnitStatus = 'pending' | 'starting' | 'started' | 'failed' | 'stopping' | 'stopped';

/** Starts units in dependency order, stops the started ones in reverse, each stop bounded in time. */
export class Supervisor {
  private readonly ordered: Unit[];
  private readonly status = new Map<string, UnitStatus>();
  private stopping: Promise<void> | undefined;

  constructor(
    units: readonly Unit[],
    private readonly log: Logger,
  ) {
    this.ordered = startOrder(units);
    for (const u of this.ordered) this.status.set(u.name, 'pending');
  }

  get units(): readonly Unit[] {
    return this.ordered;
  }

  unitStatus(name: string): UnitStatus | undefined {
    return this.status.get(name);
  }

  /** Starts everything; if one unit fails, the ones already started are stopped and the error rethrown. */
  async start(): Promise<void> {
    for (const unit of this.ordered) {
      this.status.set(unit.name, 'starting');
      try {
        await unit.start();
      } catch (err) {
        this.status.set(unit.name, 'failed');
        this.log.error({ unit: unit.name, err }, 'unit failed to start');
        await this.stop();
        throw new Error(`${unit.name}: ${(err as Error).message}`, { cause: err });
      }
      this.status.set(unit.name, 'started');
      this.log.debug({ unit: unit.name }, 'unit started');
    }
  }

  /** Idempotent: concurrent and repeated calls share one stop. */
  stop(timeoutPerUnitMs = 3000): Promise<void> {
    this.stopping ??= this.stopAll(timeoutPerUnitMs);
    return this.stopping;
  }

  private async stopAll(timeoutPerUnitMs: number): Promise<void> {
    for (const unit of [...this.ordered].reverse()) {
      const st = this.status.get(unit.name);
      if (st !== 'started' && st !== 'starting') continue;
      this.status.set(unit.name, 'stopping');
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          unit.stop(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`did not stop within ${timeoutPerUnitMs} ms`)), timeoutPerUnitMs);
          }),
        ]);
      } catch (err) {
        this.log.error({ unit: unit.name, err }, 'unit stop failed');
      } finally {
        clearTimeout(timer);
      }
      this.status.set(unit.name, 'stopped');
      this.log.debug({ unit: unit.name }, 'unit stopped');
    }
  }

  /** Names of units not (yet) able to do their job. */
  notReady(): string[] {
    return this.ordered
      .filter((u) => this.status.get(u.name) !== 'started' || (u.ready ? !u.ready() : false))
      .map((u) => u.name);
  }

  allAlive(): boolean {
    return this.ordered.every((u) => this.status.get(u.name) === 'started' && (u.alive ? u.alive() : true));
  }
}
