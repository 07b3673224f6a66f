/**
 * The serial driver (gance cooler firmware) pointed at a stock StandardFirmata board: a config
 * with the wrong cooler.driver, or the wrong board at the by-id path. Each of our frames is a
 * string of Firmata commands to such a board (a HELLO's bytes wrote one of its PWM pins in this
 * peer), so the driver must stop talking once the board has said what it is, and say so.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { CoolerMismatchError, createSerialCooler } from '../../../src/cooler/serial/index.ts';
import { startPeer } from '../firmata/firmata-peer.ts';
import { countersNow, quietLog, serialConfig } from './setup.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('serial driver on a Firmata board', () => {
  it('refuses it after its greeting, naming cooler.driver, instead of sending HELLOs until the handshake time is up', async () => {
    const device = join(mkdtempSync(join(tmpdir(), 'gance-wrong-')), 'ttyFirmata');
    const board = await startPeer(device); // greets at once and every 100 ms, as after a reset
    cleanups.push(() => board.stop());
    const registry = new Registry();
    // handshakeMs far above the request timeout: before, it sent HELLOs (30 of them) until it ran out
    const cooler = createSerialCooler(serialConfig(device), { log: quietLog, registry, requestTimeoutMs: 300, handshakeMs: 9000, openTimeoutMs: 20_000 });
    cleanups.push(() => cooler.close());
    const err = await cooler.open().catch((e: Error) => e);
    expect(err).toBeInstanceOf(CoolerMismatchError);
    expect(String(err)).toMatch(/cooler\.path .*ttyFirmata: a Firmata board answers there, not the gance cooler firmware; set cooler\.driver: firmata/);
    expect(cooler.linkUp).toBe(false);
    const at = await countersNow(registry);
    // the greeting is in within one request timeout of the open: at most two HELLOs went out
    expect(at('gance_cooler_requests_total', { command: 'hello' })).toBeLessThanOrEqual(2);
    expect(at('gance_cooler_junk_bytes_total', { side: 'host' })).toBeGreaterThan(0);
    expect(at('gance_cooler_connect_failures_total')).toBe(1);
  });
});
