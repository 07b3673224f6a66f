#include "tach.h"

#include <avr/interrupt.h>
#include <avr/io.h>
#include <util/atomic.h>

#include "clock.h"
#include "config.h"
#include "pins.h"

/*
 * rpm = 60 s / (pulses per rev * mean pulse period), the mean taken over all falling edges of a
 * window: (last - first) / (edges - 1). Timestamps have 0.5 us resolution, so accuracy is limited
 * by the fan, not by us. Slow fans (< 2 edges per window) stretch the window up to TACH_STOP_MS.
 */

static volatile uint8_t last_pins;
static volatile uint16_t edges[FAN_COUNT];
static volatile uint32_t first_us[FAN_COUNT];
static volatile uint32_t last_us[FAN_COUNT];
static volatile uint8_t seen_mask;

static uint16_t rpm[FAN_COUNT];
static uint32_t window_start[FAN_COUNT];
static uint32_t next_poll;

/*
 * Only the pin read and the timestamp run with interrupts off. The bookkeeping after it runs with
 * interrupts on (this vector masked, so it cannot re-enter): several fans' edges arriving together
 * must not hold off Timer2's overflow for more than one 40 us period, or the clock loses a tick.
 * Edges during the bookkeeping latch the pin-change flag and are handled when it is unmasked.
 */
ISR(TACH_VECT) {
  uint8_t pins = TACH_PIN;
  uint8_t fell = (uint8_t)(last_pins & ~pins & TACH_MASK);
  last_pins = pins;
  if (!fell) return;
  uint32_t t = clock_us_isr();
  PCICR &= (uint8_t)~_BV(TACH_PCIE);
  sei();
  for (uint8_t i = 0; i < FAN_COUNT; i++) {
    if (!(fell & _BV(TACH_FIRST_BIT + i))) continue;
    if ((seen_mask & _BV(i)) && (uint32_t)(t - last_us[i]) < TACH_MIN_PERIOD_US) continue;
    seen_mask |= (uint8_t)_BV(i);
    if (edges[i] == 0) first_us[i] = t;
    last_us[i] = t;
    if (edges[i] != 0xFFFF) edges[i]++;
  }
  cli();
  PCICR |= _BV(TACH_PCIE);
}

void tach_init(void) {
  TACH_DDR &= (uint8_t)~TACH_MASK;
  TACH_PORT |= TACH_MASK; /* internal pull-ups on top of the board's 10 K */
  last_pins = TACH_PIN;
  TACH_PCMSK = TACH_MASK;
  PCIFR = _BV(TACH_PCIE);
  PCICR |= _BV(TACH_PCIE);
}

void tach_poll(uint32_t now_ms) {
  if (!clock_due(now_ms, next_poll)) return;
  next_poll = now_ms + TACH_WINDOW_MS;
  for (uint8_t i = 0; i < FAN_COUNT; i++) {
    uint16_t n;
    uint32_t first, last;
    ATOMIC_BLOCK(ATOMIC_RESTORESTATE) {
      n = edges[i];
      first = first_us[i];
      last = last_us[i];
    }
    if (n >= 2) {
      uint32_t span = last - first;
      /* period in 1/16 us keeps precision; spans are < TACH_STOP_MS so this cannot overflow */
      uint32_t period16 = (span << 4) / (uint32_t)(n - 1);
      uint32_t r = period16 ? (60000000UL * 16 / TACH_PULSES_PER_REV + period16 / 2) / period16 : 0; /* rounded */
      rpm[i] = r > 0xFFFE ? 0xFFFE : (uint16_t)r;
      ATOMIC_BLOCK(ATOMIC_RESTORESTATE) {
        /* restart the window at the last edge so no interval is lost */
        edges[i] = 1;
        first_us[i] = last_us[i];
      }
      window_start[i] = now_ms;
    } else if ((uint32_t)(now_ms - window_start[i]) >= TACH_STOP_MS) {
      rpm[i] = 0;
      ATOMIC_BLOCK(ATOMIC_RESTORESTATE) { edges[i] = 0; }
      window_start[i] = now_ms;
    }
  }
}

uint16_t tach_rpm(uint8_t fan) { return fan < FAN_COUNT ? rpm[fan] : RPM_UNKNOWN; }

uint8_t tach_seen(uint8_t fan) { return (seen_mask >> fan) & 1; }
