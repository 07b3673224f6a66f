import { describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { loadConfigFile } from '../../../src/config/load.ts';
import { ATMEGA328P_PWM_PINS, planPins } from '../../../src/cooler/firmata/pins.ts';

const FILE = fileURLToPath(new URL('../../../config/rig.firmata.example.yaml', import.meta.url));
// mock-firmata's Uno: the capability report a real Uno running StandardFirmata gives
const { Pins } = createRequire(import.meta.url)('mock-firmata') as { Pins: { UNO: Array<{ supportedModes: number[]; analogChannel: number }> } };

describe('config/rig.firmata.example.yaml', () => {
  it('validates against the config schema', () => {
    const config = loadConfigFile(FILE);
    expect(config.cooler.driver).toBe('firmata');
    expect(config.cooler.baudRate).toBe(57600);
    expect(config.cooler.fans).toHaveLength(6);
  });

  it('puts every fan on a PWM pin and every thermistor on an analog input of an Uno', () => {
    const config = loadConfigFile(FILE);
    expect(config.cooler.fans.map((f) => f.channel).sort((a, b) => a - b)).toEqual([...ATMEGA328P_PWM_PINS]);
    const analogPins = Pins.UNO.map((p, i) => (p.analogChannel !== 127 ? i : -1)).filter((i) => i >= 0);
    const { issues } = planPins(config.cooler, {}, { pins: Pins.UNO, analogPins });
    expect(issues).toEqual([]);
  });
});
