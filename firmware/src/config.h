/* Build-time constants of the cooler firmware: versions, defaults and limits (see PROTOCOL.md). */
#ifndef GANCE_CONFIG_H
#define GANCE_CONFIG_H

#define FW_VERSION_MAJOR 1
#define FW_VERSION_MINOR 1
#define FW_VERSION_PATCH 0
#define PROTOCOL_VERSION 1
#define FW_NAME "gance-cooler"

#define UART_BAUD 115200UL

/* Duty is carried as hundredths of a percent: 0..10000. */
#define DUTY_FULL 10000U

/* Defaults, used when the EEPROM holds no valid settings block. */
#define DEFAULT_WATCHDOG_MS 3000U
#define DEFAULT_FAILSAFE_DUTY DUTY_FULL
#define DEFAULT_KICK_DUTY DUTY_FULL
#define DEFAULT_KICK_MS 1000U
#define DEFAULT_THREE_PIN_MASK 0x00

/* Accepted ranges of SET_SETTINGS (anything else is BAD_ARGUMENT, nothing stored). */
#define WATCHDOG_MS_MIN 500U
#define WATCHDOG_MS_MAX 60000U
#define FAILSAFE_DUTY_MIN 5000U
#define KICK_MS_MAX 5000U

/* A partial frame older than this is dropped (counted as truncated). */
#define FRAME_TIMEOUT_MS 50U
#define MAX_PAYLOAD 64U

/* Tach: rpm window, stop detection and glitch filter. */
#define TACH_WINDOW_MS 500U
#define TACH_STOP_MS 2000U
#define TACH_MIN_PERIOD_US 600UL /* edges closer than this are noise (> 50,000 rpm) */

/* A fan commanded > 0 that has shown a tach before and reads 0 rpm this long gets kicked again. */
#define STALL_MS 2500U

/* Thermistor: samples summed per reading (16 x 10 bit = 0..16368) and the plausible range. */
#define THERM_SAMPLES 16U
#define THERM_MIN_CENTI (-4000)
#define THERM_MAX_CENTI 15000
#define THERM_INVALID ((int16_t)0x8000)

#endif
