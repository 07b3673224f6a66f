/* Command layer (PROTOCOL.md "Commands"): decodes requests, acts, answers. */
#ifndef GANCE_PROTO_H
#define GANCE_PROTO_H
#include <stdint.h>

enum {
  CMD_HELLO = 0x01,
  CMD_SET_DUTY = 0x02,
  CMD_GET_STATE = 0x03,
  CMD_GET_COUNTERS = 0x04,
  CMD_GET_SETTINGS = 0x05,
  CMD_SET_SETTINGS = 0x06,
  CMD_PING = 0x07,
  CMD_FAILSAFE = 0x08,
};
#define REPLY(cmd) ((uint8_t)((cmd) | 0x80))

#define CAP_TACH 0x0001
#define CAP_THERM_CELSIUS 0x0002
#define CAP_SETTINGS_EEPROM 0x0004
#define CAP_KICK_START 0x0008
#define CAP_THREE_PIN 0x0010
#define CAP_HW_WATCHDOG 0x0020
#define CAP_HOST_WATCHDOG 0x0040

/* reset_cause: MCUSR at boot (PORF 1, EXTRF 2, BORF 4, WDRF 8) */
void proto_init(uint8_t reset_cause, uint16_t boot_count);
void proto_handle(uint8_t seq, uint8_t type, const uint8_t *payload, uint8_t len, uint32_t now);

#endif
