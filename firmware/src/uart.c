#include "uart.h"

#include <avr/interrupt.h>
#include <avr/io.h>
#include <util/atomic.h>

#include "config.h"

#define BAUD UART_BAUD
#define BAUD_TOL 3 /* 115200 from 16 MHz is 2.1% off with U2X, as on every Arduino */
#include <util/setbaud.h>

#define RX_SIZE 128 /* powers of two: index wrap by mask */
#define TX_SIZE 256

static volatile uint8_t rx_buf[RX_SIZE];
static volatile uint8_t rx_head, rx_tail;
static volatile uint8_t tx_buf[TX_SIZE];
static volatile uint8_t tx_head, tx_tail;
static volatile uint16_t rx_errors;

ISR(USART_RX_vect) {
  uint8_t status = UCSR0A;
  uint8_t b = UDR0;
  if (status & (_BV(FE0) | _BV(DOR0))) rx_errors++;
  uint8_t next = (uint8_t)((rx_head + 1) & (RX_SIZE - 1));
  if (next == rx_tail) {
    rx_errors++;
    return;
  }
  rx_buf[rx_head] = b;
  rx_head = next;
}

/* Only enabled while the ring holds bytes; switched off right after the last one is handed over
 * (not on a later empty interrupt: avr8js clears UDRE when the vector runs, real parts do not). */
ISR(USART_UDRE_vect) {
  UDR0 = tx_buf[tx_tail];
  tx_tail = (uint8_t)(tx_tail + 1); /* TX_SIZE == 256: wraps by itself */
  if (tx_head == tx_tail) UCSR0B &= (uint8_t)~_BV(UDRIE0);
}

void uart_init(void) {
  UBRR0H = UBRRH_VALUE;
  UBRR0L = UBRRL_VALUE;
#if USE_2X
  UCSR0A = _BV(U2X0);
#else
  UCSR0A = 0;
#endif
  UCSR0C = _BV(UCSZ01) | _BV(UCSZ00); /* 8N1 */
  UCSR0B = _BV(RXEN0) | _BV(TXEN0) | _BV(RXCIE0);
}

uint8_t uart_available(void) { return rx_head != rx_tail; }

int16_t uart_read(void) {
  int16_t b = -1;
  ATOMIC_BLOCK(ATOMIC_RESTORESTATE) {
    if (rx_head != rx_tail) {
      b = rx_buf[rx_tail];
      rx_tail = (uint8_t)((rx_tail + 1) & (RX_SIZE - 1));
    }
  }
  return b;
}

uint8_t uart_write(const uint8_t *data, uint8_t len) {
  uint8_t ok = 0;
  ATOMIC_BLOCK(ATOMIC_RESTORESTATE) {
    uint8_t free_bytes = (uint8_t)(tx_tail - tx_head - 1);
    if (len > 0 && len <= free_bytes) {
      for (uint8_t i = 0; i < len; i++) {
        tx_buf[tx_head] = data[i];
        tx_head = (uint8_t)(tx_head + 1);
      }
      UCSR0B |= _BV(UDRIE0);
      ok = 1;
    }
  }
  return ok;
}

uint16_t uart_rx_errors(void) {
  uint16_t e;
  ATOMIC_BLOCK(ATOMIC_RESTORESTATE) { e = rx_errors; }
  return e;
}
