import { describe, expect, it } from 'vitest';
import { crc16 } from '../../../src/cooler/protocol/crc16.ts';

describe('crc16 (CRC-16/CCITT-FALSE)', () => {
  it('matches the catalogue check value', () => {
    expect(crc16(Buffer.from('123456789'))).toBe(0x29b1);
  });

  it('is 0xFFFF (the init) over nothing and chains across calls', () => {
    expect(crc16(Buffer.alloc(0))).toBe(0xffff);
    const data = Buffer.from('gance cooler');
    expect(crc16(data, 5)).toBe(crc16(data.subarray(5)));
    expect(crc16(data.subarray(4), 0, 8, crc16(data, 0, 4))).toBe(crc16(data));
  });

  it('changes on every single-bit flip of a frame body', () => {
    const data = Buffer.from([0x03, 0x07, 0x02, 0x00, 0x13, 0x88]);
    const good = crc16(data);
    for (let bit = 0; bit < data.length * 8; bit++) {
      const bad = Buffer.from(data);
      bad[bit >> 3]! ^= 1 << (bit & 7);
      expect(crc16(bad)).not.toBe(good);
    }
  });
});
