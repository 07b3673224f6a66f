/* Settings kept in EEPROM across power cycles (watchdog, failsafe duty, kick-start, 3-pin mask). */
#ifndef GANCE_SETTINGS_H
#define GANCE_SETTINGS_H
#include <stdint.h>

typedef struct {
  uint16_t watchdog_ms;
  uint16_t failsafe_duty;
  uint16_t kick_duty;
  uint16_t kick_ms;
  uint8_t three_pin_mask;
} settings_t;

extern settings_t settings;
/* 1 when `settings` came from a valid EEPROM block, 0 when they are the built-in defaults. */
extern uint8_t settings_from_eeprom;

void settings_load(void);
/* Counts this boot in EEPROM and returns the count (1 on a blank EEPROM); lets the host tell a
 * restarted device from a reconnected one. */
uint16_t settings_count_boot(void);
/* Validates, stores in RAM and EEPROM; returns 0 (nothing changed) when a field is out of range. */
uint8_t settings_store(const settings_t *s);

#endif
