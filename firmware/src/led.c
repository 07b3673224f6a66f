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
      on = ((uint16_t)now >> 9) & 1; /* ~1 Hz (1024 ms period) */
      break;
    default:
      on = ((uint16_t)now >> 7) & 1; /* ~4 Hz (256 ms period) */
      break;
  }
  if (on) LED_PORT |= _BV(LED_BIT);
  else LED_PORT &= (uint8_t)~_BV(LED_BIT);
}
