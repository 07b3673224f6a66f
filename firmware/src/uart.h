/* USART0 with interrupt-driven receive and transmit rings. */
#ifndef GANCE_UART_H
#define GANCE_UART_H
#include <stdint.h>

void uart_init(void);
/* Next received byte, or -1 when none is waiting. */
int16_t uart_read(void);
/* True when a received byte is waiting (safe with interrupts disabled). */
uint8_t uart_available(void);
/* Queues a whole block or nothing; returns 0 when the ring has no room (caller counts a drop). */
uint8_t uart_write(const uint8_t *data, uint8_t len);
/* Receive errors since boot: ring overflows plus framing/overrun errors reported by the USART. */
uint16_t uart_rx_errors(void);

#endif
