#include "fans.h"

#include "clock.h"
#include "config.h"
#include "counters.h"
#include "pwm.h"
#include "settings.h"
#include "tach.h"

static uint8_t mode;
static uint32_t deadline;
static uint16_t target[FAN_COUNT];
static uint16_t applied[FAN_COUNT];
static uint16_t output[FAN_COUNT]; /* last duty handed to pwm_set, to skip unchanged ones */
static uint32_t kick_until[FAN_COUNT];
static uint8_t kicking;
static uint8_t stalled;
static uint32_t zero_since[FAN_COUNT];

void fans_init(void) {
  mode = MODE_BOOT;
  for (uint8_t i = 0; i < FAN_COUNT; i++) {
    target[i] = DUTY_FULL;
    output[i] = DUTY_FULL;
    applied[i] = pwm_set(i, DUTY_FULL);
  }
  kicking = 0;
  stalled = 0;
}

void fans_host_alive(uint32_t now) { deadline = now + settings.watchdog_ms; }

static void kick(uint8_t i, uint32_t now) {
  kicking |= (uint8_t)_BV(i);
  kick_until[i] = now + settings.kick_ms;
  counters.kicks++;
}

static uint8_t kick_wanted(uint8_t i, uint16_t duty) {
  return duty > 0 && duty < settings.kick_duty && settings.kick_ms > 0 && (applied[i] == 0 || (stalled & _BV(i)));
}

void fans_set(uint8_t mask, const uint16_t *duty, uint32_t now) {
  for (uint8_t i = 0; i < FAN_COUNT; i++) {
    if (!(mask & _BV(i))) continue;
    uint16_t d = duty[i] > DUTY_FULL ? DUTY_FULL : duty[i];
    if (d == 0) kicking &= (uint8_t)~_BV(i);
    else if (!(kicking & _BV(i)) && kick_wanted(i, d)) kick(i, now);
    target[i] = d;
    /* The stall clock (zero_since) is left alone: the host re-sends every duty each tick, and
     * restarting it here meant a fan that seized under a live host was never flagged. A start
     * from 0% needs no reset either: watch_stall keeps it at `now` while applied is 0 or kicking. */
  }
  mode = MODE_RUN;
  deadline = now + settings.watchdog_ms;
  fans_tick(now);
}

void fans_failsafe(void) {
  mode = MODE_FAILSAFE_HOST;
  fans_tick(clock_ms());
}

static void watch_stall(uint8_t i, uint32_t now) {
  uint16_t rpm = fans_rpm(i);
  if (rpm == RPM_UNKNOWN || !tach_seen(i) || applied[i] == 0 || (kicking & _BV(i)) || rpm > 0) {
    zero_since[i] = now;
    if (rpm != 0) stalled &= (uint8_t)~_BV(i);
    return;
  }
  if ((uint32_t)(now - zero_since[i]) >= STALL_MS) {
    stalled |= (uint8_t)_BV(i);
    counters.stalls++;
    zero_since[i] = now;
    if (mode == MODE_RUN && kick_wanted(i, target[i])) kick(i, now);
  }
}

void fans_tick(uint32_t now) {
  if (mode == MODE_RUN && clock_due(now, deadline)) {
    mode = MODE_FAILSAFE_WATCHDOG;
    counters.watchdog_trips++;
  }
  for (uint8_t i = 0; i < FAN_COUNT; i++) {
    if ((kicking & _BV(i)) && clock_due(now, kick_until[i])) kicking &= (uint8_t)~_BV(i);
    uint16_t out;
    switch (mode) {
      case MODE_RUN:
        out = target[i];
        if ((kicking & _BV(i)) && out < settings.kick_duty) out = settings.kick_duty;
        break;
      case MODE_BOOT:
        out = DUTY_FULL;
        break;
      default: /* failsafe never lowers what the host asked for */
        out = target[i] > settings.failsafe_duty ? target[i] : settings.failsafe_duty;
        break;
    }
    if (out != output[i]) {
      output[i] = out;
      applied[i] = pwm_set(i, out);
    }
    watch_stall(i, now);
  }
}

uint8_t fans_mode(void) { return mode; }
uint16_t fans_target(uint8_t fan) { return target[fan]; }
uint16_t fans_applied(uint8_t fan) { return applied[fan]; }

uint8_t fans_flags(uint8_t fan) {
  uint8_t f = 0;
  if (kicking & _BV(fan)) f |= FAN_KICKING;
  if (stalled & _BV(fan)) f |= FAN_STALLED;
  if (settings.three_pin_mask & _BV(fan)) f |= FAN_THREE_PIN;
  if (tach_seen(fan)) f |= FAN_TACH_SEEN;
  return f;
}

uint16_t fans_watchdog_left(uint32_t now) {
  if (mode != MODE_RUN) return 0;
  int32_t left = (int32_t)(deadline - now);
  return left <= 0 ? 0 : (uint16_t)left;
}

uint16_t fans_rpm(uint8_t fan) {
  if ((settings.three_pin_mask & _BV(fan)) && applied[fan] < DUTY_FULL) return RPM_UNKNOWN;
  return tach_rpm(fan);
}
