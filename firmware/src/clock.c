#include "clock.h"

#include <avr/interrupt.h>
#include <avr/io.h>
#include <util/atomic.h>

#include "pins.h"

#define TICK_US 40
#define TICKS_PER_MS 25

static volatile uint32_t ticks;
static volatile uint32_t millis;
static volatile uint8_t sub_ms;

ISR(TIMER2_OVF_vect) {
  ticks++;
  if (++sub_ms == TICKS_PER_MS) {
    sub_ms = 0;
    millis++;
  }
}

void clock_init(void) {
  /* Timer2 is set running by pwm_init(); we only need its overflow. */
  TIFR2 = _BV(TOV2);
  TIMSK2 = _BV(TOIE2);
}

uint32_t clock_ms(void) {
  uint32_t m;
  ATOMIC_BLOCK(ATOMIC_RESTORESTATE) { m = millis; }
  return m;
}

uint32_t clock_ms_isr(void) { return millis; }

uint32_t clock_us_isr(void) {
  uint8_t count = TCNT2;
  uint32_t t = ticks;
  /* An overflow that happened after interrupts were disabled has not been counted yet. */
  if ((TIFR2 & _BV(TOV2)) && count < (PWM_T02_TOP + 1) / 2) t++;
  return t * TICK_US + (count >> 1); /* Timer2 counts at F_CPU/8 = 0.5 us */
}
