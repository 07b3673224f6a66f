import type { Cooler } from './cooler.ts';
import type { CoolerConfig } from './config.ts';
import { SimulatedCooler } from './simulated.ts';

/** The cooler driver named by config. */
export async function createCooler(config: CoolerConfig): Promise<Cooler> {
  switch (config.driver) {
    case 'simulated':
      return new SimulatedCooler(config);
    default:
      throw new Error(`cooler.driver: "${config.driver}" is not available in this build`);
  }
}
