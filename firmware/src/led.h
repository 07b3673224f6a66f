/* Status LED: slow blink = waiting for the host (fans full), steady = host in control, fast (~4 Hz) blink = failsafe. */
#ifndef GANCE_LED_H
#define GANCE_LED_H
#include <stdint.h>

void led_init(void);
void led_tick(uint8_t mode, uint32_t now);

#endif
