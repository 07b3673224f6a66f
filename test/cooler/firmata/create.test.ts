import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createCooler } from '../../../src/cooler/create.ts';
import { FirmataCooler } from '../../../src/cooler/firmata/driver.ts';
import { resolveConfig } from '../../../src/config/load.ts';

describe('createCooler: firmata', () => {
  it('builds the Firmata driver from a validated config without touching the port', async () => {
    const config = resolveConfig({
      cooler: { driver: 'firmata', path: '/dev/gance-cooler', baudRate: 57600, fans: [{ id: 'a', channel: 9 }] },
      thermal: { sensors: { source: 'nvidia-smi' }, zones: [{ id: 'z', gpus: [0], fans: ['a'], mode: 'fixed' }] },
    });
    const registry = new Registry();
    const cooler = await createCooler(config.cooler, { log: pino({ level: 'silent' }), registry });
    expect(cooler).toBeInstanceOf(FirmataCooler);
    expect(cooler.info).toMatchObject({ kind: 'firmata', fans: ['a'] });
    expect(cooler.linkUp).toBe(false);
    expect(await registry.metrics()).toContain('gance_cooler_firmata_link_up 0');
  });
});
