/*
 * gance cooler firmware: 4 fans (25 kHz PWM + tach), 2 NTC inputs, framed serial protocol,
 * host watchdog with failsafe duty, and the AVR hardware watchdog against our own hangs.
 */
#include <avr/interrupt.h>
#include <avr/io.h>
#include <avr/sleep.h>
#include <avr/wdt.h>

#include "clock.h"
#include "fans.h"
#include "frame.h"
#include "led.h"
#include "proto.h"
#include "pwm.h"
#include "settings.h"
#include "tach.h"
#include "therm.h"
#include "uart.h"

/*
 * Runs before main and before .data/.bss are set up. After a watchdog reset the WDT stays enabled
 * at its shortest period (16 ms), so it has to be stopped before the C runtime spends time.
 * optiboot clears MCUSR itself and hands the old value over in r2.
 */
static uint8_t reset_cause __attribute__((section(".noinit")));
void early_init(void) __attribute__((naked, used, section(".init3")));
void early_init(void) {
  uint8_t cause = MCUSR;
  if (!cause) __asm__ __volatile__("mov %0, r2" : "=r"(cause));
  reset_cause = cause;
  MCUSR = 0;
  wdt_disable();
}

int main(void) {
  pwm_init(); /* fans full first */
  fans_init();
  led_init();
  settings_load();
  clock_init();
  tach_init();
  therm_init();
  uart_init();
  frame_init(proto_handle);
  proto_init(reset_cause, settings_count_boot());
  wdt_enable(WDTO_250MS);
  /* Idle between interrupts (Timer2 wakes us every 40 us, the UART on each byte): timers, UART
   * and ADC keep running. Less heat and supply noise, and the simulator skips the idle time. */
  set_sleep_mode(SLEEP_MODE_IDLE);
  sei();

  uint32_t last = clock_ms();
  for (;;) {
    /* Sleep unless a byte or a new millisecond is waiting; checked with interrupts off and
     * re-enabled by the instruction before SLEEP, so no wake-up can slip in between. */
    cli();
    if (!uart_available() && clock_ms_isr() == last) {
      sleep_enable();
      sei();
      sleep_cpu();
      sleep_disable();
      continue;
    }
    sei();
    uint32_t now = clock_ms();
    /* Back to the tick below once a millisecond has passed: a frame can block for tens of ms
     * (SET_SETTINGS writes EEPROM), and under a flood of them the receive ring never empties, so
     * draining it first would starve wdt_reset() and reset the chip over and over. */
    for (int16_t b; clock_ms() == now && (b = uart_read()) >= 0;) frame_feed((uint8_t)b, now);
    if (now != last) {
      last = now;
      /* fed once per ms: a stopped clock or a stuck loop resets the chip */
      wdt_reset();
      frame_poll(now);
      fans_tick(now);
      tach_poll(now);
      therm_poll();
      led_tick(fans_mode(), now);
    }
  }
}
