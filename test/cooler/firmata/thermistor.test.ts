import { describe, expect, it } from 'vitest';
import { B3950_10K, adcToCelsius, adcToOhms, celsiusToAdc } from '../../../src/cooler/firmata/thermistor.ts';

describe('10K B3950 NTC divider (NTC to GND, 10K from AVCC, 10-bit ADC)', () => {
  // Expected values worked by hand from R = 10K * adc / (1024 - adc) and 1/T = 1/298.15 + ln(R/10K)/3950.
  it.each([
    [512, 25.0],
    [789, 0.03],
    [270, 50.06],
    [100, 85.13],
    [900, -13.8],
    [40, 120.06],
  ])('ADC %i reads %f C within 0.5 C', (adc, celsius) => {
    expect(Math.abs(adcToCelsius(adc)! - celsius)).toBeLessThan(0.5);
  });

  it('matches the part datasheet resistance at 50 C (3.588K) and 0 C (~32.6-33.6K)', () => {
    expect(adcToOhms(1024 * 3588 / 13588)).toBeCloseTo(3588, 0);
    const r0 = adcToOhms(celsiusToAdc(0))!;
    expect(r0).toBeGreaterThan(32_600);
    expect(r0).toBeLessThan(33_700);
  });

  it('round-trips through celsiusToAdc from -30 to 120 C', () => {
    for (let c = -30; c <= 120; c += 5) expect(adcToCelsius(celsiusToAdc(c))).toBeCloseTo(c, 6);
  });

  it('reads null for an open input (full scale), a short (0), garbage and implausible values', () => {
    expect(adcToCelsius(1023)).toBeNull();
    expect(adcToCelsius(1024)).toBeNull();
    expect(adcToCelsius(0)).toBeNull();
    expect(adcToCelsius(-3)).toBeNull();
    expect(adcToCelsius(Number.NaN)).toBeNull();
    expect(adcToCelsius(3)).toBeNull(); // ~29 ohm: far above 150 C, a near-short
    expect(adcToCelsius(1020)).toBeNull(); // ~2.5 Mohm: far below -40 C, a near-open
  });

  it('accepts another part through the model', () => {
    const b3435 = { ...B3950_10K, beta: 3435 };
    expect(adcToCelsius(512, b3435)).toBeCloseTo(25, 6);
    expect(Math.abs(adcToCelsius(270, b3435)! - 54.18)).toBeLessThan(0.5);
  });
});
