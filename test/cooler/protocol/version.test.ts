/** The host's idea of the bundled firmware's version against the firmware's own, and the ordering behind the firmware-old warning. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FIRMWARE_VERSION, PROTOCOL_VERSION, firmwareOlder } from '../../../src/cooler/protocol/messages.ts';

describe('firmware version', () => {
  it('FIRMWARE_VERSION and PROTOCOL_VERSION are firmware/src/config.h\'s (dist/cooler.hex is built from it: make check)', () => {
    const h = readFileSync(new URL('../../../firmware/src/config.h', import.meta.url), 'utf8');
    const def = (name: string) => Number(new RegExp(`#define ${name} (\\d+)`).exec(h)![1]);
    expect(FIRMWARE_VERSION).toBe(`${def('FW_VERSION_MAJOR')}.${def('FW_VERSION_MINOR')}.${def('FW_VERSION_PATCH')}`);
    expect(PROTOCOL_VERSION).toBe(def('PROTOCOL_VERSION'));
  });

  it('orders versions by number, not by text', () => {
    expect(firmwareOlder('1.0.0', '1.1.0')).toBe(true);
    expect(firmwareOlder('1.9.0', '1.10.0')).toBe(true);
    expect(firmwareOlder('1.10.0', '1.9.0')).toBe(false);
    expect(firmwareOlder('1.1.0', '1.1.0')).toBe(false);
    expect(firmwareOlder('2.0.0', '1.1.0')).toBe(false);
    expect(firmwareOlder('1.0.9', '1.1.0')).toBe(true);
  });
});
