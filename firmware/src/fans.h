/*
 * Fan policy: what each output really gets, given the host's targets and the safety rules.
 *   BOOT      every fan at 100% from reset until the first SET_DUTY
 *   RUN       host targets (a stopped fan is kicked to kick_duty for kick_ms first)
 *   FAILSAFE  max(target, failsafe_duty): the host was silent for watchdog_ms, or asked for it;
 *             left only by the next SET_DUTY
 */
#ifndef GANCE_FANS_H
#define GANCE_FANS_H
#include <stdint.h>

#include "pins.h"

enum { MODE_BOOT = 0, MODE_RUN = 1, MODE_FAILSAFE_WATCHDOG = 2, MODE_FAILSAFE_HOST = 3 };

/* per-fan flags reported in STATE */
#define FAN_KICKING 0x01
#define FAN_STALLED 0x02
#define FAN_THREE_PIN 0x04
#define FAN_TACH_SEEN 0x08

void fans_init(void);
/* A valid command arrived: push the host watchdog deadline out. */
void fans_host_alive(uint32_t now);
/* New targets for the channels in `mask` (duty 0..DUTY_FULL); enters RUN. */
void fans_set(uint8_t mask, const uint16_t *duty, uint32_t now);
void fans_failsafe(void);
/* Applies mode, watchdog, kick-start and stall rules; call every ms. */
void fans_tick(uint32_t now);

uint8_t fans_mode(void);
uint16_t fans_target(uint8_t fan);
uint16_t fans_applied(uint8_t fan);
uint8_t fans_flags(uint8_t fan);
/* ms until the host watchdog trips (0 when not armed, i.e. outside RUN). */
uint16_t fans_watchdog_left(uint32_t now);
/* rpm as reported to the host: RPM_UNKNOWN for a 3-pin fan below 100% (its tach is chopped). */
uint16_t fans_rpm(uint8_t fan);

#endif
