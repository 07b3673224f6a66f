#include "led.h"

#include <avr/io.h>

#include "fans.h"
#include "pins.h"

void led_init(void) { LED_DDR |= _BV(LED_BIT); }

void led_tick(uint8_t mode, uint32_t now) {
  uint8_t on;
  switch (mode) {
    case MODE_RUN:
      on = 1;
      break;
    case MODE_BOOT:
      on = (now / 500) & 1; /* 1 Hz */
      break;
    default:
      on = (now / 100) & 1; /* 5 Hz */
      break;
  }
  if (on) LED_PORT |= _BV(LED_BIT);
  else LED_PORT &= (uint8_t)~_BV(LED_BIT);
}
