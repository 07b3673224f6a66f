#include "frame.h"

#include <string.h>

#include "counters.h"
#include "crc16.h"
#include "uart.h"

static uint8_t buf[MAX_PAYLOAD + FRAME_OVERHEAD];
static uint8_t n;
static uint32_t last_byte_ms;
static frame_handler_t on_frame;

void frame_init(frame_handler_t handler) {
  on_frame = handler;
  n = 0;
}

static void drop(uint8_t k) {
  n = (uint8_t)(n - k);
  memmove(buf, buf + k, n);
}

/* Consumes as many complete frames (or garbage) from the buffer as possible. */
static void scan(uint32_t now) {
  while (n > 0) {
    if (buf[0] != FRAME_SYNC) {
      counters.junk_bytes++;
      drop(1);
      continue;
    }
    if (n < 2) return;
    uint8_t len = buf[1];
    if (len > MAX_PAYLOAD) {
      counters.length_errors++;
      frame_send_error(0, ERR_BAD_LENGTH, 0);
      drop(1);
      continue;
    }
    uint8_t total = (uint8_t)(len + FRAME_OVERHEAD);
    if (n < total) return;
    uint16_t crc = crc16(buf + 1, (uint8_t)(len + 3));
    uint16_t got = (uint16_t)((uint16_t)buf[total - 2] << 8 | buf[total - 1]);
    if (crc != got) {
      counters.crc_errors++;
      /* SEQ and TYPE are not trustworthy here; echoed anyway to help the host's logs */
      frame_send_error(buf[2], ERR_BAD_CRC, buf[3]);
      drop(1);
      continue;
    }
    counters.frames_ok++;
    on_frame(buf[2], buf[3], buf + 4, len, now);
    drop(total);
  }
}

void frame_feed(uint8_t b, uint32_t now) {
  last_byte_ms = now;
  if (n == sizeof buf) drop(1); /* cannot happen: a full buffer always holds a complete frame */
  buf[n++] = b;
  scan(now);
}

void frame_poll(uint32_t now) {
  if (n == 0 || (uint32_t)(now - last_byte_ms) < FRAME_TIMEOUT_MS) return;
  counters.truncated++;
  frame_send_error(n >= 3 ? buf[2] : 0, ERR_TRUNCATED, n >= 4 ? buf[3] : 0);
  drop(1);
  scan(now);
  last_byte_ms = now; /* whatever partial frame is left gets its own full timeout */
}

void frame_send(uint8_t seq, uint8_t type, const uint8_t *payload, uint8_t len) {
  uint8_t out[MAX_PAYLOAD + FRAME_OVERHEAD];
  if (len > MAX_PAYLOAD) return;
  out[0] = FRAME_SYNC;
  out[1] = len;
  out[2] = seq;
  out[3] = type;
  memcpy(out + 4, payload, len);
  uint16_t crc = crc16(out + 1, (uint8_t)(len + 3));
  out[4 + len] = (uint8_t)(crc >> 8);
  out[5 + len] = (uint8_t)crc;
  if (!uart_write(out, (uint8_t)(len + FRAME_OVERHEAD))) counters.tx_dropped++;
}

void frame_send_error(uint8_t seq, uint8_t code, uint8_t about) {
  uint8_t p[2] = {code, about};
  frame_send(seq, TYPE_ERROR, p, sizeof p);
}
