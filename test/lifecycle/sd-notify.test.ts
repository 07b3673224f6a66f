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

async function until(pred: () => boolean, timeoutMs = 10_000) {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > timeoutMs) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('sd_notify', () => {
  it('sends READY=1 when ready, WATCHDOG=1 at half the interval, STOPPING=1 on SIGTERM', async () => {
    const sock = fakeNotifySocket();
    cleanups.push(sock.close);
    const d: DaemonProcess = spawnScript(FIXTURE, [writeTempConfig(testConfigYaml())], { NOTIFY_SOCKET: sock.path, WATCHDOG_USEC: '600000', GANCE_TEST_UNIT: 'ok' });
    cleanups.push(() => d.child.kill('SIGKILL'));
    await until(() => sock.messages.filter((m) => m.text === 'WATCHDOG=1').length >= 4);
    const texts = sock.messages.map((m) => m.text);
    expect(texts.indexOf('READY=1')).toBeGreaterThanOrEqual(0);
    const pings = sock.messages.filter((m) => m.text === 'WATCHDOG=1');
    const gaps = pings.slice(1).map((m, i) => m.at - pings[i]!.at);
    for (const g of gaps) {
      expect(g).toBeGreaterThan(200);
      expect(g).toBeLessThan(450);
    }
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
    // the probe unit reports not alive 1.5 s after start
    await d.waitFor((l) => /withholding the systemd watchdog/.test(l.msg));
    const lastPing = Math.max(...sock.messages.filter((m) => m.text === 'WATCHDOG=1').map((m) => m.at));
    await new Promise((r) => setTimeout(r, 800));
    const after = sock.messages.filter((m) => m.text === 'WATCHDOG=1' && m.at > lastPing);
    expect(after).toHaveLength(0);
    expect(sock.messages.some((m) => m.text === 'WATCHDOG=1')).toBe(true);
  });

  it('sends nothing and needs nothing without NOTIFY_SOCKET', async () => {
    const { createNotifier } = await import('../../src/lifecycle/sd-notify.ts');
    const n = createNotifier({});
    expect(n.enabled).toBe(false);
    n.send('READY=1');
    n.close();
  });
});
