/**
 * NTC thermistor in a divider read by a 10-bit ADC, converted on the host (StandardFirmata only
 * reports raw ADC counts). Wiring as in hardware/pinout.md and firmware/src/pins.h: the NTC from the
 * ADC pin to GND, the series resistor from AVCC to the ADC pin, so
 *   adc = 1024 * R_ntc / (R_ntc + R_series)   (ratiometric: AVCC drift cancels out)
 *   R_ntc = R_series * adc / (1024 - adc)
 * and the Beta form of Steinhart-Hart:
 *   1/T = 1/T0 + ln(R_ntc / R0) / B
 */

export interface ThermistorModel {
  /** fixed resistor between AVCC and the ADC pin, ohm */
  seriesOhms: number;
  /** NTC resistance at nominalCelsius, ohm */
  nominalOhms: number;
  nominalCelsius: number;
  /** B constant, K (B25/50 of the part) */
  beta: number;
  /** full scale of the ADC: 1024 for the AVR's 10-bit converter */
  adcSpan: number;
}

/** 10K B3950 NTC with a 10K 1% series resistor on an ATmega328P: the cooler's standard part. */
export const B3950_10K: ThermistorModel = { seriesOhms: 10_000, nominalOhms: 10_000, nominalCelsius: 25, beta: 3950, adcSpan: 1024 };

const KELVIN = 273.15;

/** Temperatures outside this range are not a real reading but an open or shorted input. */
export const PLAUSIBLE_CELSIUS = { min: -40, max: 150 } as const;

/** NTC resistance from an ADC count; null for a rail reading (open input reads full scale, a short reads 0). */
export function adcToOhms(adc: number, model: ThermistorModel = B3950_10K): number | null {
  if (!Number.isFinite(adc) || adc <= 0 || adc >= model.adcSpan - 1) return null;
  return (model.seriesOhms * adc) / (model.adcSpan - adc);
}

export function ohmsToCelsius(ohms: number, model: ThermistorModel = B3950_10K): number {
  const invT = 1 / (model.nominalCelsius + KELVIN) + Math.log(ohms / model.nominalOhms) / model.beta;
  return 1 / invT - KELVIN;
}

/** Celsius from an ADC count (fractional counts from averaging are fine); null when open, shorted or implausible. */
export function adcToCelsius(adc: number, model: ThermistorModel = B3950_10K): number | null {
  const ohms = adcToOhms(adc, model);
  if (ohms === null) return null;
  const c = ohmsToCelsius(ohms, model);
  return c >= PLAUSIBLE_CELSIUS.min && c <= PLAUSIBLE_CELSIUS.max ? c : null;
}

/** The ADC count expected at a temperature: the inverse, for tests and the wiring docs' table. */
export function celsiusToAdc(celsius: number, model: ThermistorModel = B3950_10K): number {
  const ohms = model.nominalOhms * Math.exp(model.beta * (1 / (celsius + KELVIN) - 1 / (model.nominalCelsius + KELVIN)));
  return (model.adcSpan * ohms) / (ohms + model.seriesOhms);
}
