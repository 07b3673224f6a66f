/* Event counters since boot, readable with GET_COUNTERS (order = wire order, PROTOCOL.md). */
#ifndef GANCE_COUNTERS_H
#define GANCE_COUNTERS_H
#include <stdint.h>

typedef struct {
  uint32_t frames_ok;
  uint32_t crc_errors;
  uint32_t length_errors;
  uint32_t unknown_commands;
  uint32_t bad_arguments;
  uint32_t truncated;
  uint32_t junk_bytes;
  uint32_t rx_errors; /* filled from the UART on read */
  uint32_t tx_dropped;
  uint32_t watchdog_trips;
  uint32_t kicks;
  uint32_t stalls;
} counters_t;

#define COUNTER_COUNT (sizeof(counters_t) / sizeof(uint32_t))

extern counters_t counters;

#endif
