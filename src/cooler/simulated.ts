import { EventEmitter } from 'node:events';
import type { Cooler, CoolerInfo, CoolerState } from './cooler.ts';
import type { CoolerConfig } from './config.ts';

/**
 * A cooler with no hardware: duties are remembered, rpm follows duty with a first-order lag.
 * The thermal plant model reads the duties from here, so the simulated daemon closes the loop.
 */
export class SimulatedCooler extends EventEmitter implements Cooler {
  readonly info: CoolerInfo;
  private readonly duties = new Map<string, number>();
  private readonly rpm = new Map<string, number>();
  private readonly maxRpm = new Map<string, number>();
  private lastUpdate = Date.now();
  private open_ = false;
  private inFailsafe = true;
  /** log of failsafe reasons, newest last (observability and tests) */
  readonly failsafeLog: string[] = [];

  constructor(
    config: Pick<CoolerConfig, 'fans' | 'thermistors'>,
    private readonly rpmTimeConstantS = 1.5,
  ) {
    super();
    this.info = { kind: 'simulated', version: 'sim-1', fans: config.fans.map((f) => f.id), thermistors: config.thermistors.map((t) => t.id) };
    for (const f of config.fans) {
      // Like the firmware: full speed until the host speaks.
      this.duties.set(f.id, 1);
      this.rpm.set(f.id, 0);
      this.maxRpm.set(f.id, f.maxRpm);
    }
  }

  get linkUp(): boolean {
    return this.open_;
  }

  async open(): Promise<void> {
    this.open_ = true;
    this.lastUpdate = Date.now();
    this.emit('link', true);
  }

  async setDuties(duties: Readonly<Record<string, number>>): Promise<void> {
    if (!this.open_) throw new Error('simulated cooler is not open');
    for (const [id, duty] of Object.entries(duties)) {
      if (!this.duties.has(id)) throw new Error(`unknown fan "${id}"`);
      if (!(duty >= 0 && duty <= 1)) throw new Error(`fan "${id}": duty must be within 0..1, got ${duty}`);
    }
    this.advance();
    this.inFailsafe = false;
    for (const [id, duty] of Object.entries(duties)) this.duties.set(id, duty);
  }

  async read(): Promise<CoolerState> {
    if (!this.open_) throw new Error('simulated cooler is not open');
    this.advance();
    return {
      fans: [...this.duties].map(([id, duty]) => ({ id, duty, rpm: Math.round(this.rpm.get(id) ?? 0) })),
      thermistors: this.info.thermistors.map((id) => ({ id, celsius: null })),
      failsafe: this.inFailsafe,
      at: Date.now(),
    };
  }

  async failsafe(reason: string): Promise<void> {
    this.advance();
    for (const id of this.duties.keys()) this.duties.set(id, 1);
    this.inFailsafe = true;
    this.failsafeLog.push(reason);
  }

  async close(): Promise<void> {
    if (!this.open_) return;
    this.open_ = false;
    this.emit('link', false);
  }

  /** duty commanded now, for the plant model */
  dutyOf(id: string): number {
    return this.duties.get(id) ?? 1;
  }

  private advance(): void {
    const now = Date.now();
    const dt = (now - this.lastUpdate) / 1000;
    this.lastUpdate = now;
    const k = 1 - Math.exp(-dt / this.rpmTimeConstantS);
    for (const [id, duty] of this.duties) {
      const target = duty * (this.maxRpm.get(id) ?? 0);
      const cur = this.rpm.get(id) ?? 0;
      this.rpm.set(id, cur + (target - cur) * k);
    }
  }
}
