/** Intel HEX -> flash image for avr8js (byte-addressed data records, extended segment/linear records). */
import { readFileSync } from 'node:fs';

export function parseIntelHex(text: string, flashBytes = 0x8000): Uint8Array {
  const flash = new Uint8Array(flashBytes).fill(0xff);
  let base = 0;
  const lines = text.split(/\r?\n/);
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (!line) continue;
    if (!line.startsWith(':') || line.length < 11 || line.length % 2 === 0) {
      throw new Error(`intel hex line ${i + 1}: expected ':' followed by hex byte pairs, got ${JSON.stringify(line.slice(0, 20))}`);
    }
    const bytes = Buffer.from(line.slice(1), 'hex');
    const count = bytes[0]!;
    if (bytes.length !== count + 5) throw new Error(`intel hex line ${i + 1}: length byte says ${count} data bytes, line has ${bytes.length - 5}`);
    const sum = bytes.reduce((a, b) => (a + b) & 0xff, 0);
    if (sum !== 0) throw new Error(`intel hex line ${i + 1}: checksum mismatch`);
    const addr = bytes.readUInt16BE(1);
    const type = bytes[3]!;
    const data = bytes.subarray(4, 4 + count);
    if (type === 0x00) {
      const at = base + addr;
      if (at + count > flashBytes) throw new Error(`intel hex line ${i + 1}: address 0x${at.toString(16)} beyond ${flashBytes} bytes of flash`);
      flash.set(data, at);
    } else if (type === 0x01) {
      break;
    } else if (type === 0x02) {
      base = data.readUInt16BE(0) << 4;
    } else if (type === 0x04) {
      base = data.readUInt16BE(0) << 16;
    } // 0x03/0x05 (start address) mean nothing to an AVR
  }
  return flash;
}

export function loadHexFile(path: string, flashBytes = 0x8000): Uint16Array {
  const bytes = parseIntelHex(readFileSync(path, 'utf8'), flashBytes);
  return new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2);
}
