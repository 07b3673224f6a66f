#include "proto.h"

#include <string.h>

#include "config.h"
#include "counters.h"
#include "fans.h"
#include "frame.h"
#include "pins.h"
#include "settings.h"
#include "therm.h"
#include "uart.h"

counters_t counters;
static uint8_t boot_cause;
static uint16_t boots;
static uint16_t rx_errors_base; /* the UART counts from boot; GET_COUNTERS(clear) moves this */

void proto_init(uint8_t reset_cause, uint16_t boot_count) {
  boot_cause = reset_cause;
  boots = boot_count;
}

static uint8_t *put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
  return p + 2;
}

static uint8_t *put32(uint8_t *p, uint32_t v) {
  p = put16(p, (uint16_t)(v >> 16));
  return put16(p, (uint16_t)v);
}

static uint16_t get16(const uint8_t *p) { return (uint16_t)((uint16_t)p[0] << 8 | p[1]); }

static void reply_hello(uint8_t seq) {
  uint8_t out[14 + sizeof FW_NAME - 1];
  uint8_t *p = out;
  *p++ = PROTOCOL_VERSION;
  *p++ = FW_VERSION_MAJOR;
  *p++ = FW_VERSION_MINOR;
  *p++ = FW_VERSION_PATCH;
  *p++ = FAN_COUNT;
  *p++ = THERM_COUNT;
  p = put16(p, CAP_TACH | CAP_THERM_CELSIUS | CAP_SETTINGS_EEPROM | CAP_KICK_START | CAP_THREE_PIN | CAP_HW_WATCHDOG |
                   CAP_HOST_WATCHDOG);
  *p++ = MAX_PAYLOAD;
  *p++ = boot_cause;
  p = put16(p, (uint16_t)PWM_HZ);
  p = put16(p, boots);
  memcpy(p, FW_NAME, sizeof FW_NAME - 1);
  frame_send(seq, REPLY(CMD_HELLO), out, sizeof out);
}

static void reply_state(uint8_t seq, uint8_t type, uint32_t now) {
  uint8_t out[8 + 7 * FAN_COUNT + 1 + 4 * THERM_COUNT];
  uint8_t *p = out;
  *p++ = fans_mode();
  p = put32(p, now);
  p = put16(p, fans_watchdog_left(now));
  *p++ = FAN_COUNT;
  for (uint8_t i = 0; i < FAN_COUNT; i++) {
    p = put16(p, fans_target(i));
    p = put16(p, fans_applied(i));
    p = put16(p, fans_rpm(i));
    *p++ = fans_flags(i);
  }
  *p++ = THERM_COUNT;
  for (uint8_t i = 0; i < THERM_COUNT; i++) {
    p = put16(p, therm_raw(i));
    p = put16(p, (uint16_t)therm_centi(i));
  }
  frame_send(seq, type, out, sizeof out);
}

static void reply_settings(uint8_t seq, uint8_t type) {
  uint8_t out[10];
  uint8_t *p = out;
  p = put16(p, settings.watchdog_ms);
  p = put16(p, settings.failsafe_duty);
  p = put16(p, settings.kick_duty);
  p = put16(p, settings.kick_ms);
  *p++ = settings.three_pin_mask;
  *p++ = settings_from_eeprom;
  frame_send(seq, type, out, sizeof out);
}

static void reply_counters(uint8_t seq) {
  uint8_t out[4 * COUNTER_COUNT];
  uint8_t *p = out;
  counters.rx_errors = (uint16_t)(uart_rx_errors() - rx_errors_base);
  const uint32_t *c = (const uint32_t *)&counters;
  for (uint8_t i = 0; i < COUNTER_COUNT; i++) p = put32(p, c[i]);
  frame_send(seq, REPLY(CMD_GET_COUNTERS), out, sizeof out);
}

/* Returns 0 when the arguments are invalid (nothing applied). */
static uint8_t set_duty(const uint8_t *payload, uint8_t len, uint32_t now) {
  if (len == 0 || len % 3 != 0 || len > 3 * FAN_COUNT) return 0;
  uint16_t duty[FAN_COUNT];
  uint8_t mask = 0;
  for (uint8_t at = 0; at < len; at += 3) {
    uint8_t ch = payload[at];
    uint16_t d = get16(payload + at + 1);
    if (ch >= FAN_COUNT || d > DUTY_FULL || (mask & _BV(ch))) return 0;
    mask |= (uint8_t)_BV(ch);
    duty[ch] = d;
  }
  fans_set(mask, duty, now);
  return 1;
}

static uint8_t set_settings(const uint8_t *payload, uint8_t len) {
  if (len != 9) return 0;
  settings_t s;
  s.watchdog_ms = get16(payload);
  s.failsafe_duty = get16(payload + 2);
  s.kick_duty = get16(payload + 4);
  s.kick_ms = get16(payload + 6);
  s.three_pin_mask = payload[8];
  return settings_store(&s);
}

void proto_handle(uint8_t seq, uint8_t type, const uint8_t *payload, uint8_t len, uint32_t now) {
  uint8_t ok = 1;
  switch (type) {
    case CMD_HELLO:
      if (len > 1) ok = 0;
      else reply_hello(seq);
      break;
    case CMD_SET_DUTY:
      ok = set_duty(payload, len, now);
      if (ok) reply_state(seq, REPLY(CMD_SET_DUTY), now);
      break;
    case CMD_GET_STATE:
      if (len != 0) ok = 0;
      else reply_state(seq, REPLY(CMD_GET_STATE), now);
      break;
    case CMD_GET_COUNTERS:
      if (len > 1 || (len == 1 && payload[0] > 1)) {
        ok = 0;
      } else {
        reply_counters(seq);
        if (len == 1 && payload[0]) {
          memset(&counters, 0, sizeof counters);
          rx_errors_base = uart_rx_errors();
        }
      }
      break;
    case CMD_GET_SETTINGS:
      if (len != 0) ok = 0;
      else reply_settings(seq, REPLY(CMD_GET_SETTINGS));
      break;
    case CMD_SET_SETTINGS:
      ok = set_settings(payload, len);
      if (ok) reply_settings(seq, REPLY(CMD_SET_SETTINGS));
      break;
    case CMD_PING:
      frame_send(seq, REPLY(CMD_PING), payload, len);
      break;
    case CMD_FAILSAFE:
      if (len != 0) {
        ok = 0;
      } else {
        fans_failsafe();
        reply_state(seq, REPLY(CMD_FAILSAFE), now);
      }
      break;
    default:
      counters.unknown_commands++;
      frame_send_error(seq, ERR_UNKNOWN_COMMAND, type);
      return; /* not a valid command: the host watchdog is not fed */
  }
  if (!ok) {
    counters.bad_arguments++;
    frame_send_error(seq, ERR_BAD_ARGUMENT, type);
    return;
  }
  /* SET_DUTY armed it already. HELLO is "who are you", not a host in control: a host stuck in its
   * handshake sends nothing else, and must not hold the last duties by it. */
  if (type != CMD_SET_DUTY && type != CMD_HELLO) fans_host_alive(now);
}
