/* CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final xor; check "123456789" = 0x29B1). */
#ifndef GANCE_CRC16_H
#define GANCE_CRC16_H
#include <stdint.h>
#include <util/crc16.h>

#define CRC16_INIT 0xFFFFU

static inline uint16_t crc16_update(uint16_t crc, uint8_t b) { return _crc_xmodem_update(crc, b); }

static inline uint16_t crc16(const uint8_t *data, uint8_t len) {
  uint16_t crc = CRC16_INIT;
  for (uint8_t i = 0; i < len; i++) crc = crc16_update(crc, data[i]);
  return crc;
}

#endif
