import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Cooler } from './cooler.ts';
import type { CoolerConfig } from './config.ts';
import { SimulatedCooler } from './simulated.ts';

/** What hardware drivers log to and count on (the daemon's logger and registry). */
export interface CoolerDeps {
  log?: Logger;
  registry?: Registry;
}

/** The cooler driver named by config. */
export async function createCooler(config: CoolerConfig, deps: CoolerDeps = {}): Promise<Cooler> {
  switch (config.driver) {
    case 'simulated':
      return new SimulatedCooler(config);
    case 'serial': {
      const { createSerialCooler } = await import('./serial/driver.ts');
      const log = deps.log ?? (await import('pino')).pino();
      return createSerialCooler(config, { log, registry: deps.registry ?? new (await import('prom-client')).Registry() });
    }
    case 'firmata': {
      // loaded on demand: johnny-five and serialport are heavy and only a Firmata rig needs them
      const { FirmataCooler } = await import('./firmata/driver.ts');
      const log = deps.log ?? (await import('pino')).pino();
      return new FirmataCooler(config, { log, registry: deps.registry });
    }
    default:
      throw new Error(`cooler.driver: "${config.driver}" is not available in this build`);
  }
}
