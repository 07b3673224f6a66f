#include "settings.h"

#include <avr/eeprom.h>
#include <stddef.h>

#include "config.h"
#include "crc16.h"
#include "pins.h"

/* EEPROM layout (little-endian, as avr-gcc stores it): see PROTOCOL.md "EEPROM". */
#define SETTINGS_MAGIC 0x4347 /* "GC" */
#define SETTINGS_LAYOUT 1

typedef struct {
  uint16_t magic;
  uint8_t layout;
  settings_t s;
  uint16_t crc;
} stored_t;

/* The linker places these (boots at 0, stored at 2 with this toolchain), not the order here:
 * PROTOCOL.md "EEPROM" has the addresses, checked against the built .elf by a test. */
static stored_t EEMEM stored;
static uint16_t EEMEM boots;

settings_t settings;
uint8_t settings_from_eeprom;

static void defaults(settings_t *s) {
  s->watchdog_ms = DEFAULT_WATCHDOG_MS;
  s->failsafe_duty = DEFAULT_FAILSAFE_DUTY;
  s->kick_duty = DEFAULT_KICK_DUTY;
  s->kick_ms = DEFAULT_KICK_MS;
  s->three_pin_mask = DEFAULT_THREE_PIN_MASK;
}

static uint8_t valid(const settings_t *s) {
  return s->watchdog_ms >= WATCHDOG_MS_MIN && s->watchdog_ms <= WATCHDOG_MS_MAX &&
         s->failsafe_duty >= FAILSAFE_DUTY_MIN && s->failsafe_duty <= DUTY_FULL && s->kick_duty <= DUTY_FULL &&
         s->kick_ms <= KICK_MS_MAX && (s->three_pin_mask >> FAN_COUNT) == 0;
}

void settings_load(void) {
  stored_t st;
  eeprom_read_block(&st, &stored, sizeof st);
  if (st.magic == SETTINGS_MAGIC && st.layout == SETTINGS_LAYOUT &&
      st.crc == crc16((const uint8_t *)&st, offsetof(stored_t, crc)) && valid(&st.s)) {
    settings = st.s;
    settings_from_eeprom = 1;
  } else {
    defaults(&settings);
    settings_from_eeprom = 0;
  }
}

uint8_t settings_store(const settings_t *s) {
  if (!valid(s)) return 0;
  stored_t st;
  st.magic = SETTINGS_MAGIC;
  st.layout = SETTINGS_LAYOUT;
  st.s = *s;
  st.crc = crc16((const uint8_t *)&st, offsetof(stored_t, crc));
  eeprom_update_block(&st, &stored, sizeof st); /* writes only bytes that differ: EEPROM wear */
  settings = *s;
  settings_from_eeprom = 1;
  return 1;
}

uint16_t settings_count_boot(void) {
  uint16_t n = eeprom_read_word(&boots);
  n = (n == 0xFFFF) ? 1 : (uint16_t)(n + 1); /* 0xFFFF is a blank cell; wraps to 0 after 65534 boots */
  eeprom_update_word(&boots, n);
  return n;
}
