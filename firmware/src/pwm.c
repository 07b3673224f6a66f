#include "pwm.h"

#include <avr/io.h>

#include "config.h"
#include "pins.h"

/*
 * 0% and 100% disconnect the compare unit and drive the pin as plain GPIO, so both ends are
 * clean DC levels (fast PWM would leave a one-count spike at OCR=0).
 */

static uint16_t quantize(uint16_t duty, uint16_t steps) {
  return (uint16_t)(((uint32_t)duty * steps + DUTY_FULL / 2) / DUTY_FULL);
}

static uint16_t to_duty(uint16_t counts, uint16_t steps) {
  return (uint16_t)(((uint32_t)counts * DUTY_FULL + steps / 2) / steps);
}

void pwm_init(void) {
  /* Pins high before they become outputs: no low glitch on the fans. */
  FAN0_PWM_PORT |= _BV(FAN0_PWM_BIT);
  FAN1_PWM_PORT |= _BV(FAN1_PWM_BIT);
  FAN2_PWM_PORT |= _BV(FAN2_PWM_BIT);
  FAN3_PWM_PORT |= _BV(FAN3_PWM_BIT);
  FAN0_PWM_DDR |= _BV(FAN0_PWM_BIT);
  FAN1_PWM_DDR |= _BV(FAN1_PWM_BIT);
  FAN2_PWM_DDR |= _BV(FAN2_PWM_BIT);
  FAN3_PWM_DDR |= _BV(FAN3_PWM_BIT);

  /* Timer1: mode 10, phase-correct PWM, TOP = ICR1, no prescaler: 16 MHz / (2 * 320) = 25 kHz. */
  TCCR1A = _BV(WGM11);
  TCCR1B = _BV(WGM13) | _BV(CS10);
  ICR1 = PWM_T1_TOP;
  OCR1A = PWM_T1_TOP;
  OCR1B = PWM_T1_TOP;
  TCNT1 = 0;

  /* Timer2: mode 7, fast PWM, TOP = OCR2A, /8: 16 MHz / (8 * 80) = 25 kHz. */
  TCCR2A = _BV(WGM21) | _BV(WGM20);
  TCCR2B = _BV(WGM22) | _BV(CS21);
  OCR2A = PWM_T02_TOP;
  OCR2B = PWM_T02_TOP;

  /* Timer0: same as Timer2. */
  TCCR0A = _BV(WGM01) | _BV(WGM00);
  TCCR0B = _BV(WGM02) | _BV(CS01);
  OCR0A = PWM_T02_TOP;
  OCR0B = PWM_T02_TOP;
  TIMSK0 = 0;
}

/* Connects (PWM) or disconnects (static level) one compare output. */
static void output(volatile uint8_t *tccra, uint8_t com_bit, volatile uint8_t *port, uint8_t pin, uint8_t mode) {
  if (mode == 1) {
    *tccra |= _BV(com_bit);
  } else {
    *tccra &= (uint8_t)~_BV(com_bit);
    if (mode == 2) *port |= _BV(pin);
    else *port &= (uint8_t)~_BV(pin);
  }
}

uint16_t pwm_set(uint8_t channel, uint16_t duty) {
  if (duty > DUTY_FULL) duty = DUTY_FULL;
  uint16_t steps = channel < 2 ? PWM_T1_TOP : PWM_T02_TOP + 1;
  uint16_t counts = quantize(duty, steps);
  /* mode: 0 static low, 1 PWM, 2 static high */
  uint8_t mode = counts == 0 ? 0 : counts >= steps ? 2 : 1;
  switch (channel) {
    case 0:
      if (mode == 1) OCR1A = counts; /* phase correct: duty = OCR / TOP */
      output(&TCCR1A, COM1A1, &FAN0_PWM_PORT, FAN0_PWM_BIT, mode);
      break;
    case 1:
      if (mode == 1) OCR1B = counts;
      output(&TCCR1A, COM1B1, &FAN1_PWM_PORT, FAN1_PWM_BIT, mode);
      break;
    case 2:
      if (mode == 1) OCR2B = (uint8_t)(counts - 1); /* fast PWM: duty = (OCR + 1) / (TOP + 1) */
      output(&TCCR2A, COM2B1, &FAN2_PWM_PORT, FAN2_PWM_BIT, mode);
      break;
    case 3:
      if (mode == 1) OCR0B = (uint8_t)(counts - 1);
      output(&TCCR0A, COM0B1, &FAN3_PWM_PORT, FAN3_PWM_BIT, mode);
      break;
    default:
      return 0;
  }
  return to_duty(counts, steps);
}
