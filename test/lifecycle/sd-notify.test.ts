import { afterEach, describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, spawnScript, testConfigYaml, writeTempConfig, type DaemonProcess } from '../helpers/daemon-process.ts';

const require = createRequire(import.meta.url);
const unix = require('unix-dgram') as {
  createSocket(type: 'unix_dgram', cb: (msg: Buffer) => void): { bind(path: string): void; close(): void; on(e: string, cb: (...a: unknown[]) => void): void };
};
const FIXTURE = join(REPO, 'test/fixtures/daemon/run-with-unit.ts');

/** A stand-in for systemd's notify socket, recording each datagram with its arrival time. */
function fakeNotifySocket() {
  const path = join(mkdtempSync(join(tmpdir(), 'gance-notify-')), 'notify.sock');
  const messages: Array<{ at: number; text: string }> = [];
  const sock = unix.createSocket('unix_dgram', (msg) => messages.push({ at: Date.now(), text: msg.toString() }));
  sock.bind(path);
  return { path, messages, close: () => sock.close() };
}

const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).forEach((f) => f()));

/** polls a condition on what has arrived; the test timeout catches a hang (no own wall-clock limit) */
async function until(pred: () => boolean) {
  while (!pred()) await new Promise((r) => setTimeout(r, 50));
}

describe('sd_notify', { timeout: 120_000 }, () => {
  it('sends READY=1 when ready, WATCHDOG=1 at half the interval, STOPPING=1 on SIGTERM', async () => {
    const sock = fakeNotifySocket();
    cleanups.push(sock.close);
    const d: DaemonProcess = spawnScript(FIXTURE, [writeTempConfig(testConfigYaml())], { NOTIFY_SOCKET: sock.path, WATCHDOG_USEC: '600000', GANCE_TEST_UNIT: 'ok' });
    cleanups.push(() => d.child.kill('SIGKILL'));
    // READY=1 comes once every unit is ready (the first GPU sample: seconds on a loaded machine);
    // the watchdog is fed from the start, as long as every unit is alive
    await until(() => sock.messages.some((m) => m.text === 'READY=1') && sock.messages.filter((m) => m.text === 'WATCHDOG=1').length >= 4);
    const texts = sock.messages.map((m) => m.text);
    const pings = sock.messages.filter((m) => m.text === 'WATCHDOG=1');
    const gaps = pings.slice(1).map((m, i) => m.at - pings[i]!.at);
    // never more often than half the interval (300 ms, with timer slack); under load a ping can
    // come late, which is what WatchdogSec's margin is for, so there is no upper bound here
    for (const g of gaps) expect(g).toBeGreaterThan(200);
    d.child.kill('SIGTERM');
    expect((await d.exited).code).toBe(0);
    await until(() => sock.messages.some((m) => m.text === 'STOPPING=1'));
    expect(texts.filter((t) => t === 'READY=1')).toHaveLength(1);
  });

  it('withholds WATCHDOG=1 once a unit stops being alive', async () => {
    const sock = fakeNotifySocket();
    cleanups.push(sock.close);
    const d = spawnScript(FIXTURE, [writeTempConfig(testConfigYaml())], { NOTIFY_SOCKET: sock.path, WATCHDOG_USEC: '400000', GANCE_TEST_UNIT: 'not-alive' });
    cleanups.push(() => d.child.kill('SIGKILL'));
    // the probe unit reports not alive 1.5 s after start; each feed tick then logs instead of pinging
    const withheld = (n: number) => d.waitFor(() => d.lines.filter((l) => /withholding the systemd watchdog/.test(l.msg)).length >= n);
    await withheld(2);
    const pings = sock.messages.filter((m) => m.text === 'WATCHDOG=1').length;
    expect(pings).toBeGreaterThan(0);
    await withheld(5); // three more feed ticks
    expect(sock.messages.filter((m) => m.text === 'WATCHDOG=1')).toHaveLength(pings);
  });

  it('sends nothing and needs nothing without NOTIFY_SOCKET', async () => {
    const { createNotifier } = await import('../../src/lifecycle/sd-notify.ts');
    const n = createNotifier({});
    expect(n.enabled).toBe(false);
    n.send('READY=1');
    n.close();
  });
});
