/** cooler.baudRate: its default follows the driver (the rate that driver's firmware speaks). */
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/load.ts';
import { DEFAULT_BAUD_RATE, coolerBaudRate } from '../../src/cooler/config.ts';
import { createCooler } from '../../src/cooler/create.ts';

// a real cooler reads real GPUs: the simulated sensors (the default) are refused with one
const thermal = { sensors: { source: 'nvidia-smi' }, zones: [{ id: 'z', gpus: [0], fans: ['a'], mode: 'fixed' }] };
const cooler = (over: Record<string, unknown>) => resolveConfig({ cooler: { fans: [{ id: 'a', channel: 9 }], ...over }, thermal }).cooler;

describe('cooler.baudRate default', () => {
  it('a Firmata config without baudRate resolves to StandardFirmata\'s 57600', () => {
    const c = cooler({ driver: 'firmata', path: '/dev/gance-cooler' });
    expect(c.baudRate).toBeUndefined(); // the schema no longer fills in the serial firmware's 115200
    expect(coolerBaudRate(c)).toBe(57600);
    expect(DEFAULT_BAUD_RATE.firmata).toBe(57600);
  });

  it('a serial (gance firmware) config without baudRate resolves to 115200', () => {
    expect(coolerBaudRate(cooler({ driver: 'serial', path: '/dev/gance-cooler' }))).toBe(115200);
    expect(coolerBaudRate(cooler({}))).toBe(115200); // simulated: not used, but defined
  });

  it('an explicit baudRate wins for either driver, and is still range-checked', () => {
    expect(coolerBaudRate(cooler({ driver: 'firmata', path: '/dev/x', baudRate: 115200 }))).toBe(115200);
    expect(coolerBaudRate(cooler({ driver: 'serial', path: '/dev/x', baudRate: 57600 }))).toBe(57600);
    expect(() => cooler({ driver: 'firmata', path: '/dev/x', baudRate: 300 })).toThrow(/cooler\.baudRate: must be >= 1200/);
  });

  it('the Firmata driver built from such a config opens its port at 57600 (real serialport)', async () => {
    const c = cooler({ driver: 'firmata', path: '/dev/gance-no-such-port' });
    const driver = await createCooler(c, { log: pino({ level: 'silent' }), registry: new Registry() });
    await expect(driver.open()).rejects.toThrow('cooler.path: cannot open /dev/gance-no-such-port at 57600 baud');
    await driver.close();
  });
});
