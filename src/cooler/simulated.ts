import { EventEmitter } from 'node:events';
import type { Cooler, CoolerInfo, CoolerState, DeviceFailsafe, FailsafeResult } from './cooler.ts';
import type { CoolerConfig } from './config.ts';

/**
 * What the simulated cooler drives once thermal control attaches the simulated rig: the plant's
 * fans (duty in, tach out) and its heatsinks (thermistors). Kept structural so the cooler does not
 * depend on the thermal folder.
 */
export interface SimulatedPlantLink {
  advance(): void;
  readonly plant: {
    setDuty(fanId: string, duty: number): void;
    fan(id: string): { rpm: number | null };
  };
  /** heatsink temperature of the GPU a thermistor channel sits on; null if none */
  heatsinkC(channel: number): number | null;
}

/** Faults a test can inject; they behave like the serial driver's failure modes. */
export type SimulatedCoolerFault =
  /** the cable is pulled: 'link' false, every command rejects, the device's watchdog takes over */
  | 'link-lost'
  /** commands reach nothing and never get an answer (a wedged USB-serial adapter) */
  | 'unresponsive'
  | null;

type Options = Pick<CoolerConfig, 'fans' | 'thermistors'> & Partial<Pick<CoolerConfig, 'watchdogSeconds' | 'failsafeDuty'>>;

/**
 * A cooler with no hardware. Alone, rpm follows duty with a first-order lag; with the simulated
 * rig attached, duties drive the plant's fans and rpm/thermistors are read from the plant, so the
 * simulated daemon closes the loop through the real control code. Like the firmware it starts at
 * full duty and falls back to its failsafe duty when the host has been silent for watchdogSeconds.
 */
export class SimulatedCooler extends EventEmitter implements Cooler {
  readonly info: CoolerInfo;
  private readonly duties = new Map<string, number>();
  private readonly rpm = new Map<string, number>();
  private readonly maxRpm = new Map<string, number>();
  private readonly thermistorChannel = new Map<string, number>();
  private readonly watchdogMs: number;
  private readonly failsafeDuty: number;
  private lastUpdate = Date.now();
  private lastHostMessage = Date.now();
  private open_ = false;
  private inFailsafe = true;
  private fault: SimulatedCoolerFault = null;
  private rig: SimulatedPlantLink | null = null;
  private watchdog: NodeJS.Timeout | undefined;
  /** log of failsafe reasons, newest last (observability and tests) */
  readonly failsafeLog: string[] = [];
  /** setDuties calls that reached the device (tests) */
  writes = 0;
  /** times its watchdog took the fans to failsafe duty (tests: a host stalled past watchdogSeconds trips it, as it would the firmware) */
  watchdogTrips = 0;

  constructor(
    config: Options,
    private readonly rpmTimeConstantS = 1.5,
  ) {
    super();
    this.info = { kind: 'simulated', version: 'sim-2', fans: config.fans.map((f) => f.id), thermistors: config.thermistors.map((t) => t.id) };
    this.watchdogMs = (config.watchdogSeconds ?? 3) * 1000;
    this.failsafeDuty = config.failsafeDuty ?? 1;
    for (const f of config.fans) {
      // Like the firmware: full speed until the host speaks.
      this.duties.set(f.id, 1);
      this.rpm.set(f.id, 0);
      this.maxRpm.set(f.id, f.maxRpm);
    }
    for (const t of config.thermistors) this.thermistorChannel.set(t.id, t.channel);
  }

  /** Drive the simulated rig's fans and read its tach and heatsinks from now on. */
  attachPlant(rig: SimulatedPlantLink): void {
    this.rig = rig;
    for (const [id, duty] of this.duties) rig.plant.setDuty(id, duty);
  }

  get plantAttached(): boolean {
    return this.rig !== null;
  }

  get linkUp(): boolean {
    return this.open_ && this.fault !== 'link-lost';
  }

  async open(): Promise<void> {
    this.open_ = true;
    this.lastUpdate = Date.now();
    this.lastHostMessage = Date.now();
    this.watchdog = setInterval(() => this.checkWatchdog(), Math.max(50, Math.min(500, this.watchdogMs / 4)));
    this.watchdog.unref();
    if (this.fault !== 'link-lost') this.emit('link', true);
  }

  async setDuties(duties: Readonly<Record<string, number>>): Promise<void> {
    await this.reachDevice();
    for (const [id, duty] of Object.entries(duties)) {
      if (!this.duties.has(id)) throw new Error(`unknown fan "${id}"`);
      if (!(duty >= 0 && duty <= 1)) throw new Error(`fan "${id}": duty must be within 0..1, got ${duty}`);
    }
    this.advance();
    this.lastHostMessage = Date.now();
    this.inFailsafe = false;
    this.writes += 1;
    for (const [id, duty] of Object.entries(duties)) this.setDuty(id, duty);
  }

  async read(): Promise<CoolerState> {
    await this.reachDevice();
    this.advance();
    this.lastHostMessage = Date.now();
    return {
      fans: [...this.duties].map(([id, duty]) => ({ id, duty, rpm: this.rpmOf(id) })),
      thermistors: this.info.thermistors.map((id) => {
        const c = this.rig?.heatsinkC(this.thermistorChannel.get(id) ?? -1) ?? null;
        return { id, celsius: c === null ? null : Math.round(c * 10) / 10 };
      }),
      failsafe: this.inFailsafe,
      at: Date.now(),
    };
  }

  async failsafe(reason: string): Promise<FailsafeResult> {
    this.failsafeLog.push(reason);
    // A pulled cable cannot carry the command; the device's own watchdog gets there instead.
    if (this.fault === 'link-lost') throw new Error('simulated cooler: link lost');
    if (this.fault === 'unresponsive') await new Promise<never>(() => {});
    this.advance();
    for (const id of this.duties.keys()) this.setDuty(id, 1);
    this.inFailsafe = true;
    return { sent: true };
  }

  get deviceWatchdogMs(): number {
    return this.watchdogMs;
  }

  /** As the serial driver tells it: read while the link works, assumed after the watchdog without. */
  deviceFailsafe(): DeviceFailsafe {
    if (this.open_ && this.fault === null) return { failsafe: this.inFailsafe, assumed: false };
    if (Date.now() - this.lastHostMessage >= this.watchdogMs) return { failsafe: true, assumed: true };
    return { failsafe: null, assumed: false };
  }

  async close(): Promise<void> {
    clearInterval(this.watchdog);
    if (!this.open_) return;
    this.open_ = false;
    this.emit('link', false);
  }

  /** Inject a link fault (tests); null restores the link. */
  simulateFault(fault: SimulatedCoolerFault): void {
    const wasUp = this.linkUp;
    this.fault = fault;
    if (wasUp !== this.linkUp) this.emit('link', this.linkUp);
  }

  /** duty commanded now, for the plant model */
  dutyOf(id: string): number {
    return this.duties.get(id) ?? 1;
  }

  private async reachDevice(): Promise<void> {
    if (!this.open_) throw new Error('simulated cooler is not open');
    if (this.fault === 'link-lost') throw new Error('simulated cooler: link lost');
    if (this.fault === 'unresponsive') await new Promise<never>(() => {});
  }

  private setDuty(id: string, duty: number): void {
    this.duties.set(id, duty);
    this.rig?.plant.setDuty(id, duty);
  }

  private rpmOf(id: string): number | null {
    if (this.rig) return this.rig.plant.fan(id).rpm;
    return Math.round(this.rpm.get(id) ?? 0);
  }

  /** The firmware's watchdog: host silent for watchdogSeconds -> failsafe duty on every fan. */
  private checkWatchdog(): void {
    if (this.inFailsafe && [...this.duties.values()].every((d) => d >= this.failsafeDuty)) return;
    if (Date.now() - this.lastHostMessage < this.watchdogMs) return;
    this.advance();
    for (const id of this.duties.keys()) this.setDuty(id, Math.max(this.failsafeDuty, this.duties.get(id) ?? 0));
    if (!this.inFailsafe) this.watchdogTrips += 1;
    this.inFailsafe = true;
  }

  private advance(): void {
    if (this.rig) {
      this.rig.advance();
      return;
    }
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
