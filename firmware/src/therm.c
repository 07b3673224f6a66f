#include "therm.h"

#include <avr/io.h>
#include <math.h>

#include "config.h"
#include "pins.h"

/*
 * Divider: AVCC - R_SERIES - ADC - NTC - GND, ratiometric, so
 *   R_ntc = R_SERIES * S / (FULL - S)     with S the sum of 16 samples and FULL = 16 * 1024
 *   1/T   = 1/T0 + ln(R_ntc / R0) / B     (B-parameter equation, T in kelvin)
 */

static const uint8_t adc_channel[THERM_COUNT] = {THERM0_ADC, THERM1_ADC};

static uint8_t current;
static uint8_t count; /* conversions done on `current`; the first after a mux switch is discarded */
static uint16_t sum;
static uint16_t raw[THERM_COUNT] = {0xFFFF, 0xFFFF};
static int16_t centi[THERM_COUNT] = {THERM_INVALID, THERM_INVALID};

static void start(void) {
  ADMUX = _BV(REFS0) | adc_channel[current];
  ADCSRA = _BV(ADEN) | _BV(ADSC) | _BV(ADPS2) | _BV(ADPS1) | _BV(ADPS0); /* 125 kHz ADC clock */
}

void therm_init(void) {
  DIDR0 = THERM_DIDR;
  current = 0;
  count = 0;
  sum = 0;
  start();
}

int16_t therm_convert(uint16_t s) {
  const uint16_t full = THERM_SAMPLES * 1024U;
  if (s == 0 || s >= full) return THERM_INVALID;
  float r = (float)THERM_R_SERIES * (float)s / (float)(full - s);
  float inv_t = 1.0f / (float)THERM_T_NOMINAL_K + logf(r / (float)THERM_R_NOMINAL) / (float)THERM_BETA;
  float c = 1.0f / inv_t - 273.15f;
  float centi_f = c * 100.0f;
  if (centi_f < THERM_MIN_CENTI || centi_f > THERM_MAX_CENTI) return THERM_INVALID;
  return (int16_t)lroundf(centi_f);
}

void therm_poll(void) {
  if (ADCSRA & _BV(ADSC)) return; /* conversion still running */
  uint16_t v = ADC;
  if (count > 0) sum += v;
  if (++count > THERM_SAMPLES) {
    raw[current] = sum;
    centi[current] = therm_convert(sum);
    current = (uint8_t)((current + 1) % THERM_COUNT);
    count = 0;
    sum = 0;
  }
  start();
}

uint16_t therm_raw(uint8_t input) { return input < THERM_COUNT ? raw[input] : 0xFFFF; }

int16_t therm_centi(uint8_t input) { return input < THERM_COUNT ? centi[input] : THERM_INVALID; }
