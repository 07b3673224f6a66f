/** NTC inputs: the firmware converts divider voltages (simulated ADC) to degrees on the device. */
import { describe, expect, it } from 'vitest';
import { CoolerSim, thermistorVolts } from '../../test/helpers/avr/sim.ts';
import { bootSim } from '../../test/helpers/avr/sim-client.ts';
import { Command, decodeState } from '../../src/cooler/protocol/messages.ts';

/** The B-equation on a 16-sample sum, as the firmware evaluates it. */
function celsiusFromRaw(raw: number): number {
  const r = (10_000 * raw) / (16 * 1024 - raw);
  return 1 / (1 / 298.15 + Math.log(r / 10_000) / 3950) - 273.15;
}

describe('firmware thermistors (10K B3950, 10K series to AVCC)', () => {
  it('converts temperatures across the range to within one ADC step', () => {
    const sim = new CoolerSim();
    const client = bootSim(sim);
    for (const [t0, t1] of [[-20, 0], [25, 40], [60, 85], [100, 130]] as const) {
      sim.setThermistorCelsius(0, t0);
      sim.setThermistorCelsius(1, t1);
      sim.runMs(120); // a few 16-sample rounds per input
      const th = decodeState(client.request(Command.getState)).thermistors;
      for (const [i, t] of [[0, t0], [1, t1]] as const) {
        // raw is the sum of 16 10-bit samples of the divider
        const adc = Math.floor((thermistorVolts(t, sim.pins) / 5) * 1024);
        expect(th[i]!.raw).toBe(16 * adc);
        // the device's float math agrees with the formula to 0.01 C ...
        expect(th[i]!.celsius!).toBeCloseTo(celsiusFromRaw(16 * adc), 2);
        // ... and the reading is within one ADC step of the true temperature (0.1 C at 25 C, 0.45 C at 100 C)
        const step = Math.abs(celsiusFromRaw(16 * adc) - celsiusFromRaw(16 * (adc + 1)));
        expect(Math.abs(th[i]!.celsius! - t), `input ${i} at ${t} C read ${th[i]!.celsius}`).toBeLessThanOrEqual(step + 0.01);
      }
    }
  });

  it('reports open and shorted inputs as no reading', () => {
    const sim = new CoolerSim();
    const client = bootSim(sim);
    sim.setThermistorCelsius(0, null); // open: the series resistor pulls the pin to AVCC
    sim.setThermistorVolts(1, 0); // shorted to ground
    sim.runMs(120);
    const th = decodeState(client.request(Command.getState)).thermistors;
    expect(th.map((t) => t.celsius)).toEqual([null, null]);
    expect(th[0]!.raw).toBe(16 * 1023);
    expect(th[1]!.raw).toBe(0);
  });
});
