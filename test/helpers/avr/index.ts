/**
 * The simulated cooler for integration tests: the real firmware image in avr8js, paced against
 * the wall clock, reachable through a socat pty at `path` exactly like a USB-serial device.
 *
 *   const cooler = await startSimulatedCooler({ fans: 4 });
 *   // configure the daemon with cooler.driver: serial, path: cooler.path
 *   cooler.sim.pwm(0).duty;            // what the firmware drives on fan 0
 *   await cooler.unplug(); await cooler.replug();
 *   await cooler.stop();
 *
 * Time: the sim runs in this process's event loop, following the wall clock (see realtime.ts);
 * `runner.stats.ratio` reports simulated seconds per wall second (1.0 when it keeps up).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UartBridge } from './bridge.ts';
import { PtyPair } from './pty.ts';
import { RealtimeRunner } from './realtime.ts';
import { SimClient } from './sim-client.ts';
import { CoolerSim, type CoolerSimOptions, type SimFan } from './sim.ts';

export { CoolerSim, DEFAULT_FAN, F_CPU, FIRMWARE_HEX, RESET, readPinMap, thermistorVolts } from './sim.ts';
export type { CoolerSimOptions, PinMap, PwmState, SimFan } from './sim.ts';
export { RealtimeRunner, type RealtimeStats } from './realtime.ts';
export { PtyPair } from './pty.ts';
export { UartBridge, type FrameTamper } from './bridge.ts';
export { SimClient } from './sim-client.ts';

export interface SimulatedCoolerOptions extends Omit<CoolerSimOptions, 'fans'> {
  /** number of fans on channels 0..n-1 (default 4), or their models */
  fans?: number | Partial<SimFan>[];
  /** directory for the pty links (default: a fresh temp dir, removed by stop()) */
  dir?: string;
  /** link name of the host end (default "cooler") */
  name?: string;
  /** realtime pacing: slice length and the lag beyond which time slips */
  sliceMs?: number;
  maxLagMs?: number;
}

export interface SimulatedCooler {
  /** serial device path for the host (a symlink to a pty, like /dev/serial/by-id/...) */
  readonly path: string;
  readonly sim: CoolerSim;
  readonly runner: RealtimeRunner;
  readonly bridge: UartBridge;
  /** the USB link goes away: the path disappears; the board keeps running (its watchdog trips) */
  unplug(): Promise<void>;
  /** the path comes back; `powerCycle` reboots the board as a USB-powered Nano would */
  replug(opts?: { powerCycle?: boolean }): Promise<void>;
  stop(): Promise<void>;
}

let warm = false;
/**
 * V8 needs about a second of running avr8js before it is fast; doing that on a throwaway chip
 * keeps the real one's first second (power-on, handshake) near real time.
 */
export function warmUpSimulator(): void {
  if (warm) return;
  const sim = new CoolerSim();
  const client = new SimClient(sim);
  sim.runMs(20);
  for (let i = 0; i < 30; i++) {
    client.send(i % 3 === 0 ? 0x02 : 0x03, i % 3 === 0 ? Buffer.from([0, 0x13, 0x88]) : undefined); // SET_DUTY 50% / GET_STATE
    sim.runMs(20);
  }
  warm = true;
}

export async function startSimulatedCooler(opts: SimulatedCoolerOptions = {}): Promise<SimulatedCooler> {
  warmUpSimulator();
  const fans = typeof opts.fans === 'number' ? Array.from({ length: opts.fans }, () => ({})) : opts.fans;
  const sim = new CoolerSim({ ...opts, fans });
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'gance-cooler-'));
  const name = opts.name ?? 'cooler';
  const runner = new RealtimeRunner(sim, { sliceMs: opts.sliceMs, maxLagMs: opts.maxLagMs });
  const bridge = new UartBridge(sim);
  let pair: PtyPair | null = await PtyPair.open(dir, name);
  await bridge.attach(pair.devicePath);
  runner.start();

  return {
    path: pair.hostPath,
    sim,
    runner,
    bridge,
    async unplug() {
      await bridge.detach();
      await pair?.close();
      pair = null;
    },
    async replug({ powerCycle = false } = {}) {
      if (pair) return;
      if (powerCycle) sim.powerCycle();
      pair = await PtyPair.open(dir, name);
      await bridge.attach(pair.devicePath);
    },
    async stop() {
      await runner.stop();
      await bridge.dispose();
      await pair?.close();
      pair = null;
      if (ownDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
