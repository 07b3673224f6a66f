/*
 * Frame layer (PROTOCOL.md "Frame"): SYNC LEN SEQ TYPE PAYLOAD[LEN] CRC16(BE over LEN..PAYLOAD).
 * The parser resynchronises byte by byte: after any bad frame it drops only the sync byte and
 * rescans what it had buffered, so a valid frame hidden behind garbage is still found.
 */
#ifndef GANCE_FRAME_H
#define GANCE_FRAME_H
#include <stdint.h>

#include "config.h"

#define FRAME_SYNC 0xA5
#define FRAME_OVERHEAD 6
#define TYPE_ERROR 0xFF

enum {
  ERR_BAD_CRC = 1,
  ERR_BAD_LENGTH = 2,
  ERR_UNKNOWN_COMMAND = 3,
  ERR_BAD_ARGUMENT = 4,
  ERR_TRUNCATED = 5,
};

/* Called for every frame whose CRC checks out. */
typedef void (*frame_handler_t)(uint8_t seq, uint8_t type, const uint8_t *payload, uint8_t len, uint32_t now);

void frame_init(frame_handler_t handler);
void frame_feed(uint8_t b, uint32_t now);
/* Drops a partial frame that has waited more than FRAME_TIMEOUT_MS. */
void frame_poll(uint32_t now);
void frame_send(uint8_t seq, uint8_t type, const uint8_t *payload, uint8_t len);
void frame_send_error(uint8_t seq, uint8_t code, uint8_t about);

#endif
